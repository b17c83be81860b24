/**
 * docroot's transport-free handler on Node's own HTTP server, and as Express / Connect middleware.
 *
 * `IncomingMessage` becomes an `HttpRequest`; the `ResponseDescription` is written to the
 * `ServerResponse` the way docroot's wire writes it: status, fields, `Content-Length` when the length is
 * known, bytes, streams piped with backpressure (and destroyed when the client goes away), file ranges
 * read from disk, and no body for HEAD, 204 or 304. `node:http` owns the framing (`Date`, `Connection`,
 * chunking), as docroot's wire does on its own sockets.
 * @module
 */
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { errorResponse } from '../handlers/errors.js';
import {
  type HttpRequest,
  isBodilessStatus,
  preparedBlockFields,
  type RequestHandler,
  type ResponseBody,
  type ResponseDescription,
} from '../wire/message.js';

export interface NodeHttpAdapterOptions {
  /** Where handler failures and stream errors are reported. @default console.error */
  logError?: (error: unknown, context: string) => void;
}

export interface ConnectMiddlewareOptions extends NodeHttpAdapterOptions {
  /**
   * Hand requests docroot has nothing for (404, and 405 for methods a static path does not take) to the
   * next middleware, as serve-static does. @default true
   */
  fallthrough?: boolean;
}

/** Connect's and Express's `next`. */
export type NextFunction = (error?: unknown) => void;

/** Statuses that mean "not mine" to a middleware that falls through. */
const FALLTHROUGH_STATUSES: ReadonlySet<number> = new Set([404, 405]);

/** Fields node:http writes itself, or that only the transport may decide (as on docroot's wire). */
const TRANSPORT_FIELDS: ReadonlySet<string> = new Set([
  'date',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
]);

const defaultLogError = (error: unknown, context: string) => {
  console.error(`docroot: ${context}:`, error);
};

/**
 * `(req, res) => void` for `http.createServer`.
 * @example
 * http.createServer(toNodeHttpHandler(createFileHandler({ root: resolveRoot('./site') }))).listen(8080);
 */
export function toNodeHttpHandler(
  handler: RequestHandler,
  options: NodeHttpAdapterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const logError = options.logError ?? defaultLogError;
  return (req, res) => {
    const request = toHttpRequest(req);
    callHandler(handler, request, logError).then((description) =>
      writeResponse(description, request, res, logError),
    );
  };
}

/**
 * `(req, res, next) => void` for Express (`app.use(...)`) and Connect. Under a mount path
 * (`app.use('/static', …)`) files are looked up relative to the mount, as Express strips it from `req.url`.
 */
export function toConnectMiddleware(
  handler: RequestHandler,
  options: ConnectMiddlewareOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void {
  const logError = options.logError ?? defaultLogError;
  const fallthrough = options.fallthrough ?? true;
  return (req, res, next) => {
    const request = toHttpRequest(req);
    callHandler(handler, request, logError).then((description) => {
      if (fallthrough && FALLTHROUGH_STATUSES.has(description.status)) {
        discardBody(description.body);
        next();
        return;
      }
      writeResponse(withMountPrefix(description, req), request, res, logError);
    });
  };
}

/** Builds the transport-free request from node:http's. */
export function toHttpRequest(req: IncomingMessage): HttpRequest {
  const target = req.url ?? '/';
  // An absolute-form target (a proxy request) keeps only its path and query.
  const originForm = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? originFormOf(target) : target;
  const queryAt = originForm.indexOf('?');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const rawHeaders: Array<readonly [string, string]> = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    rawHeaders.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  }
  const declared = headers['content-length'];
  const contentLength = declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : null;
  const hasBody = headers['transfer-encoding'] !== undefined || (contentLength ?? 0) > 0;
  const bodiless = req.method === 'GET' || req.method === 'HEAD';
  const socket = req.socket;
  return {
    method: req.method ?? 'GET',
    target,
    path: queryAt === -1 ? originForm : originForm.slice(0, queryAt),
    query: queryAt === -1 ? '' : originForm.slice(queryAt + 1),
    version: req.httpVersion === '1.0' ? '1.0' : '1.1',
    headers,
    rawHeaders,
    body: hasBody && !bodiless ? req : null,
    contentLength,
    authority: headers.host ?? '',
    remoteAddress: socket?.remoteAddress ?? '',
    remotePort: socket?.remotePort ?? 0,
    localAddress: socket?.localAddress ?? '',
    localPort: socket?.localPort ?? 0,
    secure: (socket as TLSSocket | undefined)?.encrypted === true,
  };
}

function originFormOf(absolute: string): string {
  try {
    const url = new URL(absolute);
    return `${url.pathname}${url.search}`;
  } catch {
    return '/';
  }
}

/** The handler's answer, or a 500 when it throws or rejects (the detail goes to the log only). */
async function callHandler(
  handler: RequestHandler,
  request: HttpRequest,
  logError: (error: unknown, context: string) => void,
): Promise<ResponseDescription> {
  try {
    return await handler(request);
  } catch (error) {
    logError(error, `handler for ${request.method} ${request.target}`);
    return errorResponse(
      500,
      'the server failed while handling this request (details are in the server log)',
      request.headers.accept,
    );
  }
}

/** A redirect to a root-relative path gets the mount path back, since the handler never saw it. */
function withMountPrefix(description: ResponseDescription, req: IncomingMessage): ResponseDescription {
  const location = description.headers?.Location;
  const original = (req as IncomingMessage & { originalUrl?: string }).originalUrl;
  const url = req.url ?? '/';
  if (typeof location !== 'string' || !location.startsWith('/') || original === undefined) return description;
  if (original === url || !original.endsWith(url)) return description;
  const mount = original.slice(0, original.length - url.length);
  return { ...description, headers: { ...description.headers, Location: `${mount}${location}` } };
}

function discardBody(body: ResponseBody | null | undefined): void {
  if (body?.kind === 'stream') body.stream.destroy();
}

/** Writes a description to `res`, with the same framing decisions as docroot's wire. */
export function writeResponse(
  description: ResponseDescription,
  request: HttpRequest,
  res: ServerResponse,
  logError: (error: unknown, context: string) => void = defaultLogError,
): void {
  const body = description.body ?? null;
  if (body?.kind === 'file') {
    writeFileResponse(description, body, request, res, logError);
    return;
  }
  const length =
    body === null
      ? 0
      : body.kind === 'bytes'
        ? typeof body.data === 'string'
          ? Buffer.byteLength(body.data)
          : body.data.length
        : (body.length ?? null);
  try {
    writeHead(description, res, length);
  } catch (error) {
    discardBody(body);
    failBeforeHead(error, request, res, logError);
    return;
  }
  const sendsBody = request.method !== 'HEAD' && !isBodilessStatus(description.status);
  if (body === null || !sendsBody) {
    discardBody(body);
    res.end();
    return;
  }
  if (body.kind === 'bytes') {
    res.end(body.data);
    return;
  }
  pipeToResponse(body.stream, res, logError);
}

function writeFileResponse(
  description: ResponseDescription,
  body: Extract<ResponseBody, { kind: 'file' }>,
  request: HttpRequest,
  res: ServerResponse,
  logError: (error: unknown, context: string) => void,
): void {
  const length = body.end - body.start + 1;
  const sendsBody = request.method !== 'HEAD' && !isBodilessStatus(description.status) && length > 0;
  if (!sendsBody) {
    // HEAD still advertises the length a GET would get (RFC 9110 §9.3.2), without opening the file.
    try {
      writeHead(description, res, length);
    } catch (error) {
      failBeforeHead(error, request, res, logError);
      return;
    }
    res.end();
    return;
  }
  const stream = createReadStream(body.path, { start: body.start, end: body.end });
  // Open before writing the head, so a file that vanished still gets a clean error status.
  stream.once('error', (error: NodeJS.ErrnoException) => {
    if (res.headersSent) return;
    logError(error, `opening ${body.path}`);
    const status =
      error.code === 'ENOENT' || error.code === 'ENOTDIR' ? 404 : error.code === 'EACCES' ? 403 : 500;
    writeResponse(
      errorResponse(status, 'the file could not be opened', request.headers.accept),
      request,
      res,
      logError,
    );
  });
  stream.once('open', () => {
    writeResponse({ ...description, body: { kind: 'stream', stream, length } }, request, res, logError);
  });
}

function writeHead(description: ResponseDescription, res: ServerResponse, length: number | null): void {
  res.statusCode = description.status;
  if (description.reason !== undefined) res.statusMessage = description.reason;
  const fields =
    description.preparedHeaderBlock !== undefined
      ? preparedBlockFields(description.preparedHeaderBlock)
      : Object.entries(description.headers ?? {});
  for (const [name, value] of fields) {
    if (TRANSPORT_FIELDS.has(name.toLowerCase())) continue;
    res.setHeader(name, typeof value === 'number' ? String(value) : (value as string | string[]));
  }
  // HEAD keeps the Content-Length a GET would get; node:http then sends no body.
  if (length !== null && !isBodilessStatus(description.status)) res.setHeader('Content-Length', length);
  if (description.close === true) res.setHeader('Connection', 'close');
}

/** A prepared header block (the hot-cache path) back into name/value pairs. */

function failBeforeHead(
  error: unknown,
  request: HttpRequest,
  res: ServerResponse,
  logError: (error: unknown, context: string) => void,
): void {
  logError(error, `response for ${request.method} ${request.target}`);
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  const fallback = errorResponse(
    500,
    'the server built an invalid response (details are in the server log)',
    undefined,
  );
  writeResponse(fallback, request, res, logError);
}

/** Pipes with backpressure; a client that goes away destroys the source, a failing source the response. */
function pipeToResponse(
  stream: NodeJS.ReadableStream & { destroy(error?: Error): void },
  res: ServerResponse,
  logError: (error: unknown, context: string) => void,
): void {
  const onClose = () => {
    if (!res.writableFinished) stream.destroy();
  };
  res.once('close', onClose);
  stream.once('error', (error) => {
    logError(error, 'response body stream');
    res.destroy();
  });
  stream.pipe(res);
}
