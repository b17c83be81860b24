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
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { VERSION } from '../version.js';
import {
  type ErrorRenderer,
  HANDLER_FAILED_MESSAGE,
  INVALID_RESPONSE_MESSAGE,
  renderErrorSafely,
} from '../wire/error-response.js';
import { FILE_OPEN_FAILED_MESSAGE, type FileBody, openFileBody } from '../wire/file-body.js';
import {
  type HttpRequest,
  isBodilessStatus,
  type RequestHandler,
  type ResponseBody,
  type ResponseDescription,
  responseBodyLength,
} from '../wire/message.js';
import { checkedResponseFields } from '../wire/response-fields.js';

export interface NodeHttpAdapterOptions {
  /** Where handler failures and stream errors are reported. @default console.error */
  logError?: (error: unknown, context: string) => void;
  /**
   * Renders the errors the adapter answers itself (a handler that throws, a file that cannot be opened),
   * e.g. `errorResponse` for HTML pages to browsers. @default the plain one-line text/plain answer
   */
  renderError?: ErrorRenderer;
  /** The `Server` field. @default `docroot/<version>` */
  serverSoftware?: string;
}

/** What `writeResponse` needs besides the description: how to log, render errors and name the server. */
interface AdapterContext {
  logError: (error: unknown, context: string) => void;
  renderError: ErrorRenderer | undefined;
  serverSoftware: string;
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

const defaultLogError = (error: unknown, context: string) => {
  console.error(`docroot: ${context}:`, error);
};

function adapterContext(options: NodeHttpAdapterOptions): AdapterContext {
  return {
    logError: options.logError ?? defaultLogError,
    renderError: options.renderError,
    serverSoftware: options.serverSoftware ?? `docroot/${VERSION}`,
  };
}

/**
 * `(req, res) => void` for `http.createServer`.
 * @example
 * http.createServer(toNodeHttpHandler(createFileHandler({ root: resolveRoot('./site') }))).listen(8080);
 */
export function toNodeHttpHandler(
  handler: RequestHandler,
  options: NodeHttpAdapterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const ctx = adapterContext(options);
  return (req, res) => {
    const request = toHttpRequest(req);
    callHandler(handler, request, ctx).then((description) => send(description, request, res, ctx));
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
  const ctx = adapterContext(options);
  const fallthrough = options.fallthrough ?? true;
  return (req, res, next) => {
    const request = toHttpRequest(req);
    callHandler(handler, request, ctx).then((description) => {
      if (fallthrough && FALLTHROUGH_STATUSES.has(description.status)) {
        discardBody(description.body);
        next();
        return;
      }
      send(withMountPrefix(description, req), request, res, ctx);
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
  ctx: AdapterContext,
): Promise<ResponseDescription> {
  try {
    return await handler(request);
  } catch (error) {
    ctx.logError(error, `handler for ${request.method} ${request.target}`);
    return renderError(ctx, 500, HANDLER_FAILED_MESSAGE, request.headers.accept);
  }
}

function renderError(
  ctx: AdapterContext,
  status: number,
  message: string,
  accept: string | undefined,
): ResponseDescription {
  return renderErrorSafely(ctx.renderError, status, message, accept, ctx.logError);
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
  options: NodeHttpAdapterOptions = {},
): void {
  send(description, request, res, adapterContext(options));
}

function send(
  description: ResponseDescription,
  request: HttpRequest,
  res: ServerResponse,
  ctx: AdapterContext,
): void {
  const body = description.body ?? null;
  const length = responseBodyLength(body);
  const sendsBody =
    request.method !== 'HEAD' && !isBodilessStatus(description.status) && body !== null && length !== 0;
  try {
    writeHead(description, res, length, ctx.serverSoftware);
  } catch (error) {
    discardBody(body);
    failBeforeHead(error, request, res, ctx);
    return;
  }
  if (body === null || !sendsBody) {
    // HEAD keeps the length a GET would get (RFC 9110 §9.3.2) without opening a file or reading a stream.
    discardBody(body);
    res.end();
    return;
  }
  if (body.kind === 'bytes') {
    res.end(body.data);
    return;
  }
  if (body.kind === 'file') {
    sendFile(body, request, res, ctx);
    return;
  }
  pipeToResponse(body.stream, res, ctx.logError);
}

/** Opens the file before the head goes out, so a file that vanished still gets a clean error status. */
function sendFile(body: FileBody, request: HttpRequest, res: ServerResponse, ctx: AdapterContext): void {
  openFileBody(body, (opened) => {
    if (res.destroyed) {
      if (opened.kind === 'open') opened.stream.destroy();
      return;
    }
    if (opened.kind === 'error') {
      ctx.logError(opened.error, `opening ${body.path}`);
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      const error = renderError(ctx, opened.status, FILE_OPEN_FAILED_MESSAGE, request.headers.accept);
      send(error, request, res, ctx);
      return;
    }
    pipeToResponse(opened.stream, res, ctx.logError);
  });
}

function writeHead(
  description: ResponseDescription,
  res: ServerResponse,
  length: number | null,
  serverSoftware: string,
): void {
  const fields = checkedResponseFields(description.headers, 'node:http');
  res.statusCode = description.status;
  if (description.reason !== undefined) res.statusMessage = description.reason;
  res.setHeader('Server', serverSoftware);
  for (const [name, value] of fields) res.setHeader(name, value);
  // HEAD keeps the Content-Length a GET would get; node:http then sends no body.
  if (length !== null && !isBodilessStatus(description.status)) res.setHeader('Content-Length', length);
  if (description.close === true) res.setHeader('Connection', 'close');
}

function failBeforeHead(
  error: unknown,
  request: HttpRequest,
  res: ServerResponse,
  ctx: AdapterContext,
): void {
  ctx.logError(error, `response for ${request.method} ${request.target}`);
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  send(renderError(ctx, 500, INVALID_RESPONSE_MESSAGE, request.headers.accept), request, res, ctx);
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
  stream.on('error', (error) => {
    logError(error, 'response body stream');
    res.destroy();
  });
  stream.pipe(res);
}
