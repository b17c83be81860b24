/**
 * HTTP/2 (RFC 9113) for clients that pick `h2` in the TLS handshake (ALPN, RFC 7301). The TLS listener
 * hands such sockets here; `node:http2` does the framing, HPACK and flow control, and each stream is
 * turned into the same transport-free `HttpRequest` the HTTP/1.1 wire builds, so conditional requests,
 * ranges, compression, listings and errors behave exactly alike. Loaded only when TLS is on.
 * @module
 */
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import {
  type ErrorRenderer,
  HANDLER_FAILED_MESSAGE,
  INVALID_RESPONSE_MESSAGE,
  renderErrorSafely,
} from '../wire/error-response.js';
import { FILE_OPEN_FAILED_MESSAGE, openFileBody } from '../wire/file-body.js';
import type { WireLimits } from '../wire/limits.js';
import {
  type HttpRequest,
  isBodilessStatus,
  type RequestHandler,
  type ResponseDescription,
  responseBodyLength,
} from '../wire/message.js';
import type { ObservedConnection, WireObserver } from '../wire/observer.js';
import type { RequestHead } from '../wire/parser.js';
import { checkedResponseFields } from '../wire/response-fields.js';
import { dateFieldLine } from '../wire/serialize.js';
import { endGuarded, noteSessionProgress, type SendGuardOptions, sendGuarded } from './send-guard.js';

export interface Http2ServingOptions {
  handler: RequestHandler;
  serverSoftware: string;
  limits: WireLimits;
  logError(error: unknown, context: string): void;
  /** Renders the errors this transport answers itself (server.ts passes the handlers' renderer). */
  renderError?: ErrorRenderer;
  /**
   * Sees HTTP/2 as it sees HTTP/1.1: a session is a connection (`protocol: 'HTTP/2'`), each stream an
   * exchange with its request and response heads (decoded field lines) and its `onExchange` record.
   */
  observer?: WireObserver;
  /** Streams open at once over all sessions; further ones are refused (REFUSED_STREAM). @default 1000 */
  maxOpenStreams?: number;
}

export interface Http2Serving {
  /** Takes over a TLS socket whose ALPN protocol is `h2`. */
  accept(socket: Socket): void;
  /** Open HTTP/2 connections (sessions). */
  readonly sessionCount: number;
  /** Open streams over all sessions. */
  readonly streamCount: number;
  /** GOAWAY to every session (open streams finish), then destroy what is left after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** Streams a client may have open at once on one connection (RFC 9113 §6.5.2 suggests at least 100). */
const MAX_CONCURRENT_STREAMS = 100;
/**
 * Streams open at once over all connections: each may hold an open file and a few read buffers until its
 * send timeout, so this bounds descriptors and memory whatever the number of connections.
 */
export const DEFAULT_MAX_OPEN_STREAMS = 1000;
/**
 * Streams every connection may open even when the total bound is reached, so that clients filling it
 * cannot lock others out; the total stays bounded by this times the connections (--max-connections).
 */
const STREAMS_ALWAYS_ALLOWED_PER_SESSION = 4;
/** What is reported to the observer when a stream closes. */
interface StreamExchange {
  readonly startedAt: number;
  bytesSent: number;
  request: HttpRequest | null;
  /** The request as observers see it (with the stream id). */
  head: RequestHead | null;
  readonly connection: SessionView | null;
}

/** An HTTP/2 session as observers see a connection. */
interface SessionView extends ObservedConnection {
  requestsServed: number;
}

const sessionViews = new WeakMap<http2.Http2Session, SessionView>();

export function createHttp2Serving(options: Http2ServingOptions): Http2Serving {
  const sessions = new Set<http2.ServerHttp2Session>();
  const maxOpenStreams = options.maxOpenStreams ?? DEFAULT_MAX_OPEN_STREAMS;
  let openTotal = 0;
  const ownStreams = new WeakMap<http2.Http2Session, number>();
  const server = http2.createServer({
    settings: {
      maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
      // The same bound on the header section as the HTTP/1.1 wire's (431 there, a refused stream here).
      maxHeaderListSize: options.limits.maxHeaderBytes,
    },
  });
  // A connection with no frames for keepAliveTimeoutMs (at least headersTimeoutMs, so a slow header block
  // is not cut short) and no open stream is closed with GOAWAY, as an idle HTTP/1.1 connection would be.
  // One with open streams is left to the streams' own timeouts (a long-lived event stream is not idle).
  const idleMs = Math.max(options.limits.keepAliveTimeoutMs, options.limits.headersTimeoutMs);
  const openStreams = new WeakMap<http2.ServerHttp2Session, number>();
  server.setTimeout(idleMs);
  server.on('timeout', (session: http2.ServerHttp2Session) => {
    if ((openStreams.get(session) ?? 0) === 0) session.close();
  });
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    noteSessionProgress(session);
    openStreams.set(session, 0);
    const observer = options.observer;
    if (observer !== undefined) {
      const socket = session.socket;
      const view: SessionView = {
        remoteAddress: socket?.remoteAddress ?? '',
        remotePort: socket?.remotePort ?? 0,
        localAddress: socket?.localAddress ?? '',
        localPort: socket?.localPort ?? 0,
        requestsServed: 0,
        protocol: 'HTTP/2',
      };
      sessionViews.set(session, view);
      observer.onConnectionOpen?.(view);
      session.once('close', () => observer.onConnectionClose?.(view));
    }
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      openStreams.set(session, (openStreams.get(session) ?? 0) + 1);
      stream.once('close', () => openStreams.set(session, (openStreams.get(session) ?? 1) - 1));
    });
    session.once('close', () => sessions.delete(session));
    session.on('error', (error) => options.logError(error, 'HTTP/2 connection'));
  });
  server.on(
    'stream',
    (
      stream: http2.ServerHttp2Stream,
      headers: http2.IncomingHttpHeaders,
      _flags: number,
      rawHeaders: string[] | undefined,
    ) => {
      const session = stream.session;
      const own = session === undefined ? 0 : (ownStreams.get(session) ?? 0);
      if (openTotal >= maxOpenStreams && own >= STREAMS_ALWAYS_ALLOWED_PER_SESSION) {
        // RFC 9113 §8.7: a refused stream was not processed and may be retried.
        stream.on('error', () => {});
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      openTotal++;
      if (session !== undefined) ownStreams.set(session, own + 1);
      stream.once('close', () => {
        openTotal--;
        if (session !== undefined) ownStreams.set(session, (ownStreams.get(session) ?? 1) - 1);
      });
      serveStream(stream, headers, rawHeaders, options);
    },
  );
  server.on('sessionError', () => {});
  return {
    accept(socket) {
      // An http2 server without TLS of its own accepts an already-decrypted TLS socket as a connection.
      server.emit('connection', socket);
    },
    get sessionCount() {
      return sessions.size;
    },
    get streamCount() {
      return openTotal;
    },
    close(graceMs) {
      return new Promise((resolve) => {
        if (sessions.size === 0) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          for (const session of sessions) session.destroy();
        }, graceMs);
        timer.unref();
        let open = sessions.size;
        for (const session of sessions) {
          session.once('close', () => {
            if (--open === 0) {
              clearTimeout(timer);
              resolve();
            }
          });
          session.close();
        }
      });
    },
  };
}

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

/** Per-stream accounting for the observer, keyed by the stream so `respond` and `sendStream` can add to it. */
const exchanges = new WeakMap<http2.ServerHttp2Stream, StreamExchange>();

function serveStream(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: readonly string[] | undefined,
  options: Http2ServingOptions,
): void {
  stream.on('error', () => {});
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
    refuse(stream, request, 431, `more than ${limits.maxHeaderCount} header fields`, options);
    return;
  }
  if (request.contentLength !== null && request.contentLength > limits.maxBodyBytes) {
    refuse(stream, request, 413, `the request content is larger than ${limits.maxBodyBytes} bytes`, options);
    return;
  }
  if (request.body !== null) request.body = limitedBody(stream, request, options);
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
  options: Http2ServingOptions,
): Transform {
  const { maxBodyBytes, bodyTimeoutMs } = options.limits;
  let received = 0;
  const cut = (status: number, message: string) => {
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
        cut(413, `the request content is larger than ${maxBodyBytes} bytes`);
        return;
      }
      done(null, chunk);
    },
  });
  stream.setTimeout(bodyTimeoutMs, () => {
    if (!stream.readableEnded) cut(408, `the request body stalled for ${bodyTimeoutMs} ms`);
  });
  stream.once('end', () => stream.setTimeout(0));
  stream.pipe(limited);
  return limited;
}

/** The request as an observer's head: the HTTP/1.1 parser's shape, with version `2` and the stream id. */
function observedHead(request: HttpRequest, streamId: number): RequestHead {
  const declared = request.contentLength;
  return {
    method: request.method,
    target: request.target,
    path: request.path,
    query: request.query,
    version: request.version,
    headers: request.headers,
    rawHeaders: [...request.rawHeaders],
    authority: request.authority,
    framing: declared !== null ? { kind: 'length', length: declared } : { kind: 'none' },
    keepAlive: true,
    expectContinue: false,
    streamId,
  };
}

/** The request's field lines as received, pseudo-header fields first, one per LF-ended line. */
function requestFieldText(
  headers: http2.IncomingHttpHeaders,
  rawHeaders: readonly string[] | undefined,
): string {
  let text = '';
  if (rawHeaders !== undefined) {
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) text += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\n`;
    return text;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) text += `${name}: ${item}\n`;
  }
  return text;
}

/** The response fields as sent, `:status` first, one per LF-ended line. */
function responseFieldText(fields: http2.OutgoingHttpHeaders): string {
  let text = '';
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) text += `${name}: ${item}\n`;
  }
  return text;
}

function reportExchange(
  stream: http2.ServerHttp2Stream,
  exchange: StreamExchange,
  observer: WireObserver,
): void {
  const request = exchange.request;
  if (exchange.connection !== null) exchange.connection.requestsServed++;
  if (observer.onExchange === undefined) return;
  const sentStatus = (stream.sentHeaders as http2.OutgoingHttpHeaders | undefined)?.[':status'];
  const socket = stream.session?.socket;
  observer.onExchange({
    request: exchange.head,
    status: sentStatus === undefined ? 0 : Number(sentStatus),
    bytesSent: exchange.bytesSent,
    startedAt: exchange.startedAt,
    finishedAt: Date.now(),
    remoteAddress: request?.remoteAddress ?? socket?.remoteAddress ?? '',
    protocol: 'HTTP/2',
  });
}

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
    observer.onResponseHead(exchange.connection, responseFieldText(fields), body, exchange.head);
  }
  stream.respond(fields, { endStream });
}

function renderError(
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

function respond(
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
