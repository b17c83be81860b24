/**
 * One HTTP/2 stream out: a `ResponseDescription` becomes HEADERS (lower-case names, the one field table's
 * checks, `server` and `date`) and DATA sent with backpressure and the send watchdog of `send-guard.ts`;
 * a `file` body is opened before the head is sent, so a vanished file is still an error status.
 * @module
 */
import type http2 from 'node:http2';
import type { Readable } from 'node:stream';
import { INVALID_RESPONSE_MESSAGE, renderErrorSafely } from '../wire/error-response.js';
import { FILE_OPEN_FAILED_MESSAGE, openFileBody } from '../wire/file-body.js';
import {
  type HttpRequest,
  isBodilessStatus,
  type ResponseDescription,
  responseBodyLength,
} from '../wire/message.js';
import { checkedResponseFields } from '../wire/response-fields.js';
import { dateFieldLine } from '../wire/serialize.js';
import { exchanges, responseFieldText } from './observe.js';
import { endGuarded, type SendGuardOptions, sendGuarded } from './send-guard.js';
import type { Http2ServingOptions } from './serve.js';

/**
 * Sends the response HEADERS, `date` included (set here rather than by node:http2 so the observer is
 * shown exactly the fields that go out).
 */
function sendHead(
  stream: http2.ServerHttp2Stream,
  fields: http2.OutgoingHttpHeaders,
  body: ResponseDescription['body'],
  options: Http2ServingOptions,
  endStream: boolean,
): void {
  const observer = options.observer;
  const exchange = exchanges.get(stream);
  if (observer?.onResponseHead !== undefined && exchange?.connection != null) {
    observer.onResponseHead(
      exchange.connection,
      responseFieldText(fields),
      body,
      exchange.head,
      exchange.errorCode,
    );
  }
  stream.respond(fields, { endStream });
}

export function renderError(
  options: Http2ServingOptions,
  status: number,
  message: string,
  request: HttpRequest,
): ResponseDescription {
  return renderErrorSafely(options.renderError, status, message, request.headers.accept, options.logError);
}

/** Response fields for node:http2: lower-case names (RFC 9113 §8.2.1), no connection-specific ones. */
function responseFields(
  description: ResponseDescription,
  length: number | null,
  serverSoftware: string,
): http2.OutgoingHttpHeaders {
  const date = dateFieldLine();
  const fields: http2.OutgoingHttpHeaders = {
    ':status': description.status,
    server: serverSoftware,
    // "Date: " and the CRLF around the cached IMF-fixdate.
    date: date.slice(6, -2),
  };
  for (const [name, value] of checkedResponseFields(description.headers, 'h2')) {
    fields[name.toLowerCase()] = value;
  }
  if (length !== null && !isBodilessStatus(description.status)) fields['content-length'] = length;
  return fields;
}

export function respond(
  stream: http2.ServerHttp2Stream,
  request: HttpRequest,
  description: ResponseDescription,
  options: Http2ServingOptions,
): void {
  const body = description.body ?? null;
  // Closed, or already answered (413 for a body over the limit while the handler was reading it).
  if (stream.destroyed || stream.closed || stream.headersSent) {
    if (body?.kind === 'stream') body.stream.destroy();
    return;
  }
  const length = responseBodyLength(body);
  const sendsBody = request.method !== 'HEAD' && !isBodilessStatus(description.status) && length !== 0;
  let fields: http2.OutgoingHttpHeaders;
  try {
    fields = responseFields(description, length, options.serverSoftware);
    if (!sendsBody || body === null) {
      if (body?.kind === 'stream') body.stream.destroy();
      sendHead(stream, fields, body, options, true);
      return;
    }
    if (body.kind === 'bytes') {
      sendHead(stream, fields, body, options, false);
      endGuarded(body.data, stream, guardOptions(stream, options));
      const exchange = exchanges.get(stream);
      if (exchange !== undefined) exchange.bytesSent += length ?? 0;
      return;
    }
  } catch (error) {
    // An invalid field (node:http2 validates names and values) is a 500 for this stream only.
    if (body?.kind === 'stream') body.stream.destroy();
    options.logError(error, `response for ${request.method} ${request.target}`);
    if (!stream.headersSent) {
      respond(stream, request, renderError(options, 500, INVALID_RESPONSE_MESSAGE, request), options);
    }
    return;
  }
  if (body.kind === 'file') {
    openFileBody(body, (opened) => {
      if (stream.destroyed || stream.closed || stream.headersSent) {
        if (opened.kind === 'open') opened.stream.destroy();
        return;
      }
      if (opened.kind === 'error') {
        options.logError(opened.error, `opening ${body.path}`);
        respond(
          stream,
          request,
          renderError(options, opened.status, FILE_OPEN_FAILED_MESSAGE, request),
          options,
        );
        return;
      }
      sendHead(stream, fields, body, options, false);
      sendStream(opened.stream, stream, options);
    });
    return;
  }
  sendHead(stream, fields, body, options, false);
  sendStream(body.stream, stream, options);
}

/** Sends with backpressure and the send timeout (the wire's bodyTimeoutMs, as HTTP/1.1 uses it). */
function sendStream(source: Readable, stream: http2.ServerHttp2Stream, options: Http2ServingOptions): void {
  sendGuarded(source, stream, guardOptions(stream, options));
}

function guardOptions(stream: http2.ServerHttp2Stream, options: Http2ServingOptions): SendGuardOptions {
  const exchange = exchanges.get(stream);
  return {
    sendTimeoutMs: options.limits.bodyTimeoutMs,
    logError: options.logError,
    ...(exchange !== undefined ? { onBytes: (bytes: number) => (exchange.bytesSent += bytes) } : {}),
  };
}
