/**
 * Live reload for `--watch`: a Server-Sent Events endpoint that says `change` when a file under the root
 * changes, and a wrapper around the document handler that adds a small script to HTML responses so the
 * page listens to it and reloads itself.
 *
 * The injected body is a different representation from the file on disk, so it gets its own ETag (a
 * suffix inside the opaque-tag, as for content codings) and no Last-Modified, and it is never compressed
 * or ranged. A browser that cached the plain page (a run without --watch) therefore never gets a 304 for
 * the injected one, and a server without --watch never confirms an injected copy.
 * @module
 */
import { createReadStream } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { parseEntityTagList, withEncodingSuffix } from '../http/etag.js';
import type { HttpRequest, RequestHandler, ResponseDescription, ResponseHeaders } from '../wire/message.js';
import { errorResponse } from './errors.js';

/** Reserved for docroot (RFC 8615 well-known URIs), so it cannot clash with a site's own paths. */
export const LIVE_RELOAD_PATH = '/.well-known/docroot/livereload';
/** Comment lines keep proxies and idle-connection reapers from closing a quiet stream. */
export const LIVE_RELOAD_KEEPALIVE_MS = 15_000;
/** How soon a browser reconnects after the stream drops (a server restart). */
const RECONNECT_DELAY_MS = 1000;
const ETAG_SUFFIX = 'livereload';
const SSE_METHODS = 'GET, HEAD';

export const LIVE_RELOAD_SCRIPT =
  '<script>/* docroot --watch: reload when a file under the root changes */' +
  `(()=>{const s=new EventSource(${JSON.stringify(LIVE_RELOAD_PATH)});` +
  "s.addEventListener('change',()=>{s.close();location.reload();});})();</script>\n";
const SCRIPT_BYTES = Buffer.from(LIVE_RELOAD_SCRIPT, 'utf8');

/** Request fields that would ask for a compressed, partial or validated (304) plain representation. */
const PLAIN_ONLY_FIELDS = new Set([
  'accept-encoding',
  'range',
  'if-range',
  'if-match',
  'if-unmodified-since',
  'if-modified-since',
]);
/** Response fields the injected representation cannot keep as they are. */
const REPLACED_FIELDS = new Set([
  'content-length',
  'transfer-encoding',
  'etag',
  'last-modified',
  'accept-ranges',
  'cache-control',
  'server',
  'date',
  'connection',
]);

/** The open event streams, and the one keep-alive timer they share. */
export class LiveReloadHub {
  private readonly streams = new Set<PassThrough>();
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private readonly keepAliveMs: number;

  constructor(keepAliveMs = LIVE_RELOAD_KEEPALIVE_MS) {
    this.keepAliveMs = keepAliveMs;
  }

  get clientCount(): number {
    return this.streams.size;
  }

  /** Tells every open page that these URL paths changed. */
  broadcast(changedPaths: readonly string[]): void {
    const message = `event: change\ndata: ${JSON.stringify(changedPaths)}\n\n`;
    for (const stream of this.streams) stream.write(message);
  }

  /** Ends every stream (shutdown), so graceful close does not wait for pages that never hang up. */
  closeAll(): void {
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    this.stopKeepAlive();
  }

  /** The event stream response: `text/event-stream`, chunked, open until the client or the server leaves. */
  respond(request: HttpRequest): ResponseDescription {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return errorResponse(
        405,
        `${request.method} is not allowed here; the live-reload stream allows ${SSE_METHODS}`,
        request.headers.accept,
        { Allow: SSE_METHODS },
      );
    }
    const headers = {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    };
    if (request.method === 'HEAD') return { status: 200, headers };
    const stream = new PassThrough();
    this.streams.add(stream);
    stream.once('close', () => {
      this.streams.delete(stream);
      if (this.streams.size === 0) this.stopKeepAlive();
    });
    stream.write(`retry: ${RECONNECT_DELAY_MS}\n: docroot live reload\n\n`);
    this.startKeepAlive();
    return { status: 200, headers, body: { kind: 'stream', stream } };
  }

  private startKeepAlive(): void {
    if (this.keepAliveTimer !== null) return;
    this.keepAliveTimer = setInterval(() => {
      for (const stream of this.streams) stream.write(':keepalive\n\n');
    }, this.keepAliveMs);
    this.keepAliveTimer.unref();
  }

  private stopKeepAlive(): void {
    if (this.keepAliveTimer !== null) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = null;
  }
}

/** Wraps a handler: answers the event stream, and adds the reload script to HTML responses. */
export function withLiveReload(inner: RequestHandler, hub: LiveReloadHub): RequestHandler {
  return async function handleWithLiveReload(request: HttpRequest): Promise<ResponseDescription> {
    if (request.path === LIVE_RELOAD_PATH) return hub.respond(request);
    if (request.method !== 'GET' && request.method !== 'HEAD') return inner(request);
    const response = await inner(request);
    // A 304 carries no Content-Type (RFC 9110 §15.4.5), so it may be for a page: decided below.
    if (response.status !== 304 && !isHtml(response)) return response;
    if (!needsPlainRepresentation(request, response)) return injectScript(response);
    // The answer was compressed, partial or a 304 for the plain page: ask again for the whole plain body.
    const plain = await inner(plainRequest(request));
    // Whichever of the two answers is not a 304 tells whether this is a page at all.
    if (!isHtml(plain.status === 304 ? response : plain)) {
      // Not a page: the first answer stands (a stylesheet's 304 stays a 304).
      discardBody(plain);
      return response;
    }
    discardBody(response);
    return injectScript(plain);
  };
}

function responseFields(response: ResponseDescription): Array<[string, string | number | readonly string[]]> {
  return Object.entries(response.headers ?? {});
}

function fieldValue(response: ResponseDescription, name: string): string | undefined {
  for (const [key, value] of responseFields(response)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(', ') : String(value);
  }
  return undefined;
}

function isHtml(response: ResponseDescription): boolean {
  return /^text\/html\b/i.test(fieldValue(response, 'content-type') ?? '');
}

function hasInjectedTag(ifNoneMatch: string | undefined): boolean {
  return ifNoneMatch?.includes(`-${ETAG_SUFFIX}"`) === true;
}

function needsPlainRepresentation(request: HttpRequest, response: ResponseDescription): boolean {
  return (
    response.status === 304 ||
    response.status === 206 ||
    response.status === 412 ||
    response.status === 416 ||
    fieldValue(response, 'content-encoding') !== undefined ||
    hasInjectedTag(request.headers['if-none-match'])
  );
}

/**
 * The request without the fields that select a compressed or partial body, and with If-None-Match kept
 * only for tags of injected pages (their suffix removed), so a 304 can only confirm an injected copy.
 */
function plainRequest(request: HttpRequest): HttpRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (!PLAIN_ONLY_FIELDS.has(name) && name !== 'if-none-match') headers[name] = value;
  }
  const list = request.headers['if-none-match'];
  const parsed = list === undefined ? null : parseEntityTagList(list);
  if (parsed !== null && !parsed.any) {
    const suffix = `-${ETAG_SUFFIX}"`;
    const kept = parsed.tags
      .filter((tag) => tag.opaque.endsWith(suffix))
      .map((tag) => `${tag.weak ? 'W/' : ''}${tag.opaque.slice(0, -suffix.length)}"`);
    if (kept.length > 0) headers['if-none-match'] = kept.join(', ');
  }
  const rawHeaders = request.rawHeaders.filter(([name]) => {
    const lower = name.toLowerCase();
    return !PLAIN_ONLY_FIELDS.has(lower) && lower !== 'if-none-match';
  });
  return { ...request, headers, rawHeaders };
}

function discardBody(response: ResponseDescription): void {
  if (response.body?.kind === 'stream') response.body.stream.destroy();
}

/** Inserts the script before the last `</body>`, or appends it when there is none. */
export function injectIntoHtml(html: Buffer): Buffer {
  const closing = html.toString('latin1').toLowerCase().lastIndexOf('</body');
  if (closing === -1) return Buffer.concat([html, SCRIPT_BYTES]);
  return Buffer.concat([html.subarray(0, closing), SCRIPT_BYTES, html.subarray(closing)]);
}

function injectScript(response: ResponseDescription): ResponseDescription {
  const headers: Record<string, ResponseHeaders[string]> = {};
  let etag: string | undefined;
  for (const [name, value] of responseFields(response)) {
    const lower = name.toLowerCase();
    if (lower === 'etag') etag = String(value);
    if (!REPLACED_FIELDS.has(lower)) headers[name] = value;
  }
  if (etag !== undefined) {
    try {
      headers.ETag = withEncodingSuffix(etag, ETAG_SUFFIX);
    } catch {
      // Not an entity-tag (a script's own field): send none rather than a wrong one.
    }
  }
  // The page must be asked for again on every reload, whatever --cache-control says for HTML.
  headers['Cache-Control'] = 'no-cache';
  const rest = response;
  const body = response.body ?? null;
  if (body === null) return { ...rest, headers };
  switch (body.kind) {
    case 'bytes': {
      const data = typeof body.data === 'string' ? Buffer.from(body.data) : body.data;
      return { ...rest, headers, body: { kind: 'bytes', data: injectIntoHtml(data) } };
    }
    case 'file': {
      // Large pages are streamed from disk with the script after them (browsers run it all the same).
      const length = body.end - body.start + 1;
      const stream = Readable.from(
        appendScript(() => createReadStream(body.path, { start: body.start, end: body.end })),
      );
      return { ...rest, headers, body: { kind: 'stream', stream, length: length + SCRIPT_BYTES.length } };
    }
    case 'stream': {
      const source = body.stream;
      const stream = Readable.from(appendScript(() => source));
      stream.once('close', () => source.destroy());
      const length = body.length === undefined ? {} : { length: body.length + SCRIPT_BYTES.length };
      return { ...rest, headers, body: { kind: 'stream', stream, ...length } };
    }
  }
}

/** The source's bytes, then the script; the source is opened only when the body is actually read. */
async function* appendScript(open: () => Readable): AsyncGenerator<Buffer> {
  for await (const chunk of open()) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
  yield SCRIPT_BYTES;
}
