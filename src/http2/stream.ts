/**
 * One HTTP/2 stream in: the pseudo-header fields and fields become the same transport-free
 * `HttpRequest` the HTTP/1.1 wire builds (RFC 9113 §8.3.1), the wire's limits apply (field count, body
 * size, a stalled body), and the handler's answer goes to `respond.ts`.
 * @module
 */
import http2 from 'node:http2';
import { Transform, type TransformCallback } from 'node:stream';
import { HANDLER_FAILED_MESSAGE } from '../wire/error-response.js';
import { PROTOCOL_ERROR } from '../wire/errors.js';
import type { HttpRequest } from '../wire/message.js';
import {
  exchanges,
  observedHead,
  reportExchange,
  requestFieldText,
  type StreamExchange,
  sessionViews,
} from './observe.js';
import { renderError, respond } from './respond.js';
import type { Http2ServingOptions } from './serve.js';

/** The transport-free request for one HTTP/2 stream (RFC 9113 §8.3.1 pseudo-header fields). */
export function toHttpRequest(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
): HttpRequest {
  const method = String(headers[':method'] ?? 'GET');
  const target = String(headers[':path'] ?? '/');
  const queryAt = target.indexOf('?');
  const fields: Record<string, string> = {};
  const rawHeaders: Array<readonly [string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    // Cookie crumbs are rejoined with "; " (RFC 9113 §8.2.3); other repeated fields with ", ".
    const joined = Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : String(value);
    fields[name] = joined;
    rawHeaders.push([name, joined]);
  }
  const authority = String(headers[':authority'] ?? fields.host ?? '');
  // RFC 9113 §8.3.1: clients use :authority instead of Host; handlers (CGI, redirects) look for Host.
  if (fields.host === undefined && authority !== '') fields.host = authority;
  const declared = fields['content-length'];
  const contentLength = declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : null;
  const bodiless = method === 'GET' || method === 'HEAD' || stream.readableEnded;
  if (bodiless) stream.resume();
  const socket = stream.session?.socket;
  return {
    method,
    target,
    path: queryAt === -1 ? target : target.slice(0, queryAt),
    query: queryAt === -1 ? '' : target.slice(queryAt + 1),
    version: '2',
    headers: fields,
    rawHeaders,
    body: bodiless ? null : stream,
    contentLength,
    authority,
    remoteAddress: socket?.remoteAddress ?? '',
    remotePort: socket?.remotePort ?? 0,
    localAddress: socket?.localAddress ?? '',
    localPort: socket?.localPort ?? 0,
    secure: true,
  };
}

export function serveStream(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: readonly string[] | undefined,
  options: Http2ServingOptions,
): void {
  stream.on('error', () => {});
  // Once the answer is sent, content still unread is not wanted: Node then resets the stream (RST_STREAM
  // NO_ERROR, RFC 9113 §8.1), but a paused readable side with data in it would never end, so the stream
  // would never emit 'close' nor give back its place among the open streams. Drop what is left.
  stream.once('finish', () => {
    if (stream.readableEnded) return;
    stream.unpipe();
    stream.resume();
  });
  const observer = options.observer;
  const view = stream.session === undefined ? undefined : sessionViews.get(stream.session);
  const exchange: StreamExchange = {
    startedAt: Date.now(),
    bytesSent: 0,
    request: null,
    head: null,
    connection: view ?? null,
  };
  exchanges.set(stream, exchange);
  if (observer !== undefined) {
    stream.once('close', () => reportExchange(stream, exchange, observer));
  }
  let request: HttpRequest;
  try {
    request = toHttpRequest(stream, headers);
  } catch (error) {
    options.logError(error, 'HTTP/2 request');
    stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
    return;
  }
  exchange.request = request;
  if (observer !== undefined) {
    exchange.head = observedHead(request, stream.id ?? 0);
    if (view !== undefined && observer.onRequestHead !== undefined) {
      observer.onRequestHead(
        view,
        exchange.head,
        Buffer.from(requestFieldText(headers, rawHeaders), 'latin1'),
      );
    }
  }
  const limits = options.limits;
  // The header list's size is bounded by SETTINGS_MAX_HEADER_LIST_SIZE; its field count here, as on HTTP/1.1.
  const fieldCount = rawHeaders === undefined ? request.rawHeaders.length : countRegularFields(rawHeaders);
  if (fieldCount > limits.maxHeaderCount) {
    exchange.errorCode = 'HEADERS_TOO_LARGE';
    refuse(stream, request, 431, `more than ${limits.maxHeaderCount} header fields`, options);
    return;
  }
  if (request.contentLength !== null && request.contentLength > limits.maxBodyBytes) {
    exchange.errorCode = 'BODY_TOO_LARGE';
    refuse(stream, request, 413, `the request content is larger than ${limits.maxBodyBytes} bytes`, options);
    return;
  }
  if (request.body !== null) request.body = limitedBody(stream, request, exchange, options);
  Promise.resolve()
    .then(() => options.handler(request))
    .catch((error: unknown) => {
      options.logError(error, `handler for ${request.method} ${request.target}`);
      return renderError(options, 500, HANDLER_FAILED_MESSAGE, request);
    })
    .then((description) => respond(stream, request, description, options));
}

function countRegularFields(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (!rawHeaders[i]!.startsWith(':')) count++;
  return count;
}

/** An error status before the handler ran; the rest of the request content is refused with RST_STREAM. */
function refuse(
  stream: http2.ServerHttp2Stream,
  request: HttpRequest,
  status: number,
  message: string,
  options: Http2ServingOptions,
): void {
  respond(stream, request, renderError(options, status, message, request), options);
  // RFC 9113 §8.1: a complete response may be followed by RST_STREAM(NO_ERROR) to stop the upload.
  if (!stream.readableEnded && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
}

/**
 * The request content as the handler reads it, cut at maxBodyBytes (413 if the handler has not answered
 * yet, else RST_STREAM) and at bodyTimeoutMs without a frame while it is still arriving.
 */
function limitedBody(
  stream: http2.ServerHttp2Stream,
  request: HttpRequest,
  exchange: StreamExchange,
  options: Http2ServingOptions,
): Transform {
  const { maxBodyBytes, bodyTimeoutMs } = options.limits;
  let received = 0;
  const cut = (code: 'BODY_TOO_LARGE' | 'BODY_TIMEOUT', message: string) => {
    const status = PROTOCOL_ERROR[code];
    exchange.errorCode = code;
    stream.unpipe(limited);
    limited.destroy(Object.assign(new Error(message), { status }));
    if (!stream.headersSent) refuse(stream, request, status, message, options);
    else if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
  };
  const limited = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      received += chunk.length;
      if (received > maxBodyBytes) {
        done();
        cut('BODY_TOO_LARGE', `the request content is larger than ${maxBodyBytes} bytes`);
        return;
      }
      done(null, chunk);
    },
  });
  // A handler may never read the content (or not yet): a stall or overflow cut before then must not
  // become an uncaught 'error' that takes the whole server down (as on HTTP/1.1, request-body.ts).
  // Listeners attached later still see the error via `errored`/`finished()`.
  limited.on('error', () => {});
  stream.setTimeout(bodyTimeoutMs, () => {
    if (!stream.readableEnded) cut('BODY_TIMEOUT', `the request body stalled for ${bodyTimeoutMs} ms`);
  });
  stream.once('end', () => stream.setTimeout(0));
  // The answer is sent (see serveStream): a handler that never read the content will not now.
  stream.once('finish', () => {
    if (!limited.writableEnded) limited.destroy();
  });
  stream.pipe(limited);
  return limited;
}
