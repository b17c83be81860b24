/**
 * HTTP/2 (RFC 9113) for clients that pick `h2` in the TLS handshake (ALPN, RFC 7301). The TLS listener
 * hands such sockets here; `node:http2` does the framing, HPACK and flow control, and each stream is
 * turned into the same transport-free `HttpRequest` the HTTP/1.1 wire builds, so conditional requests,
 * ranges, compression, listings and errors behave exactly alike. Loaded only when TLS is on.
 * @module
 */
import { createReadStream } from 'node:fs';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream';
import { errorResponse } from '../handlers/errors.js';
import type { WireLimits } from '../wire/limits.js';
import {
  type HttpRequest,
  isBodilessStatus,
  type RequestHandler,
  type ResponseBody,
  type ResponseDescription,
  responseBodyLength,
} from '../wire/message.js';

export interface Http2ServingOptions {
  handler: RequestHandler;
  serverSoftware: string;
  limits: WireLimits;
  logError(error: unknown, context: string): void;
}

export interface Http2Serving {
  /** Takes over a TLS socket whose ALPN protocol is `h2`. */
  accept(socket: Socket): void;
  /** Open HTTP/2 connections (sessions). */
  readonly sessionCount: number;
  /** GOAWAY to every session (open streams finish), then destroy what is left after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/**
 * Connection-specific fields are forbidden in HTTP/2 (RFC 9113 §8.2.2); `date` is added by node:http2
 * and `content-length` is set from the body below.
 */
const FIELDS_NOT_FORWARDED: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'date',
  'content-length',
]);

/** Streams a client may have open at once on one connection (RFC 9113 §6.5.2 suggests at least 100). */
const MAX_CONCURRENT_STREAMS = 100;
/** A connection with no stream activity for this long is closed with GOAWAY. */
const SESSION_IDLE_TIMEOUT_MS = 120_000;

export function createHttp2Serving(options: Http2ServingOptions): Http2Serving {
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer({
    settings: {
      maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
      // The same bound on the header section as the HTTP/1.1 wire's (431 there, a refused stream here).
      maxHeaderListSize: options.limits.maxHeaderBytes,
    },
  });
  server.setTimeout(SESSION_IDLE_TIMEOUT_MS);
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', (error) => options.logError(error, 'HTTP/2 connection'));
  });
  server.on('stream', (stream, headers) => {
    serveStream(stream, headers, options);
  });
  server.on('sessionError', () => {});
  return {
    accept(socket) {
      // An http2 server without TLS of its own accepts an already-decrypted TLS socket as a connection.
      server.emit('connection', socket);
    },
    get sessionCount() {
      return sessions.size;
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
    // The handler's semantics are those of HTTP/1.1 (RFC 9110 is version-independent).
    version: '1.1',
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

function serveStream(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  options: Http2ServingOptions,
): void {
  stream.on('error', () => {});
  let request: HttpRequest;
  try {
    request = toHttpRequest(stream, headers);
  } catch (error) {
    options.logError(error, 'HTTP/2 request');
    stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
    return;
  }
  Promise.resolve()
    .then(() => options.handler(request))
    .catch((error: unknown) => {
      options.logError(error, `handler for ${request.method} ${request.target}`);
      return errorResponse(
        500,
        'the server failed while handling this request (details are in the server log)',
        request.headers.accept,
      );
    })
    .then((description) => respond(stream, request, description, options));
}

/** Response fields for node:http2: lower-case names (RFC 9113 §8.2.1), no connection-specific ones. */
function responseFields(
  description: ResponseDescription,
  length: number | null,
  serverSoftware: string,
): http2.OutgoingHttpHeaders {
  const fields: http2.OutgoingHttpHeaders = {
    ':status': description.status,
    server: serverSoftware,
  };
  const entries =
    description.preparedHeaderBlock !== undefined
      ? fieldsOfBlock(description.preparedHeaderBlock)
      : Object.entries(description.headers ?? {});
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    if (FIELDS_NOT_FORWARDED.has(lower)) continue;
    fields[lower] = typeof value === 'number' ? String(value) : (value as string | string[]);
  }
  if (length !== null && !isBodilessStatus(description.status)) fields['content-length'] = length;
  return fields;
}

/** A prepared header block (the hot-cache path) back into name/value pairs. */
function fieldsOfBlock(block: Buffer): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  for (const line of block.toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return fields;
}

function respond(
  stream: http2.ServerHttp2Stream,
  request: HttpRequest,
  description: ResponseDescription,
  options: Http2ServingOptions,
): void {
  const body = description.body ?? null;
  if (stream.destroyed || stream.closed) {
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
      stream.respond(fields, { endStream: true });
      return;
    }
    if (body.kind === 'bytes') {
      stream.respond(fields);
      stream.end(body.data);
      return;
    }
  } catch (error) {
    // An invalid field (node:http2 validates names and values) is a 500 for this stream only.
    if (body?.kind === 'stream') body.stream.destroy();
    options.logError(error, `response for ${request.method} ${request.target}`);
    if (!stream.headersSent) {
      respond(
        stream,
        request,
        errorResponse(500, 'the server built an invalid response (details are in the server log)', undefined),
        options,
      );
    }
    return;
  }
  if (body.kind === 'file') {
    const source = createReadStream(body.path, { start: body.start, end: body.end });
    // Open before responding, so a file that vanished still gets a clean error status.
    source.once('error', (error: NodeJS.ErrnoException) => {
      if (stream.headersSent) return;
      options.logError(error, `opening ${body.path}`);
      const status =
        error.code === 'ENOENT' || error.code === 'ENOTDIR' ? 404 : error.code === 'EACCES' ? 403 : 500;
      respond(stream, request, errorResponse(status, 'the file could not be opened', undefined), options);
    });
    source.once('open', () => {
      stream.respond(fields);
      sendStream(source, stream, options);
    });
    return;
  }
  stream.respond(fields);
  sendStream(body.stream, stream, options);
}

/** Pipes with backpressure; a failing body resets the stream (RST_STREAM), the HTTP/2 way to say "cut". */
function sendStream(
  source: NodeJS.ReadableStream & { destroy(error?: Error): void },
  stream: http2.ServerHttp2Stream,
  options: Http2ServingOptions,
): void {
  pipeline(source, stream, (error) => {
    if (error === undefined || error === null) return;
    if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
      options.logError(error, 'HTTP/2 response body');
    }
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  });
}
