/**
 * The document-root handler: a request in, a response description out, no socket in sight. It checks the
 * method, decodes and resolves the path, then redirects folders to their slashed form, serves index.html,
 * lists the folder, runs a CGI script, or serves the file. The wire server, the node:http adapter and
 * tests all call the same function.
 * @module
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import {
  LISTING_CONTENT_TYPES,
  type ListingFormat,
  parseListingQuery,
  renderListing,
} from '../files/listing.js';
import { type DecodedPath, decodeRequestPath, type Resolution, resolvePath } from '../files/resolve.js';
import type { SearchLimits } from '../files/search.js';
import { sameOriginPath } from '../http/location.js';
import { isKnownMethod } from '../http/method.js';
import { chooseMediaType } from '../http/negotiate.js';
import type { HttpRequest, RequestHandler, ResponseDescription } from '../wire/message.js';
import {
  answerFromCache,
  type ContentContext,
  type FileInfo,
  loadCacheEntry,
  serveFileContent,
} from './content.js';
import { errorResponse } from './errors.js';
import { type CacheOptions, FileCache } from './file-cache.js';
import { type CacheControlRule, SitePolicy } from './policy.js';
import { PATH_REFUSAL_STATUS } from './refusals.js';

/** A rendered listing is reused for this long: like files, never stale for more than a second. */
const LISTING_CACHE_FRESH_MS = 1000;
/** Listings larger than this are streamed every time instead of kept. */
const LISTING_CACHE_MAX_BYTES = 4 * 1024 * 1024;
const LISTING_CACHE_ENTRIES = 64;

/** Methods a static path answers. */
export const STATIC_ALLOW = 'GET, HEAD, OPTIONS';

export interface FileHandlerOptions {
  /** The document root (made absolute and real at start-up). */
  root: string;
  /** List folders without index.html. @default true */
  listing?: boolean;
  /** Serve names starting with '.'. @default false */
  dotfiles?: boolean;
  /** Follow symlinks that lead outside the root. @default false */
  followSymlinks?: boolean;
  /** Negotiate gzip/brotli/zstd. @default true */
  compress?: boolean;
  /** Hot-file cache settings (or a cache made by the caller, to read its counters), or false for none. */
  cache?: CacheOptions | FileCache | false;
  /** Called for each file response sent with a content coding (--metrics). */
  countCompressed?: (coding: string) => void;
  /** Default Cache-Control for files; HTML and listings default to no-cache. */
  cacheControl?: string;
  cacheControlRules?: readonly CacheControlRule[];
  /** Extra response header fields. */
  headers?: Readonly<Record<string, string>>;
  cors?: boolean;
  /** Serve /index.html for unknown paths without a file extension (single-page apps). */
  spa?: boolean;
  /** How long a rendered listing is reused; 0 renders every time (live reload). @default 1000 */
  listingCacheMs?: number;
  /** URL path of a page served (with status 404) when nothing matches, e.g. '/404.html'. */
  notFoundPage?: string;
  /** Product token, e.g. 'docroot/0.1.0'. */
  serverSoftware?: string;
  /** `?download=zip` / `?download=tar.gz` on folders (only while listings are on). @default true */
  archives?: boolean;
  /** `?q=term` on folders (only while listings are on), with its bounds, or false. @default on */
  search?: Partial<SearchLimits> | false;
  /** Access rules for archives and search: may this request read that URL path (percent-encoded)? */
  mayRead?: (request: HttpRequest, urlPath: string) => Promise<boolean>;
  /** Runs scripts (CGI); consulted before the file is served. Returns null when the path is not a script. */
  scriptHandler?: ScriptHandler;
  /** Answers the write methods (`--upload`); when it takes POST, HTML listings carry an upload form. */
  writeHandler?: WriteHandler;
  logError?: (error: unknown, context: string) => void;
}

/** A hook for paths that are programs rather than documents (CGI). */
export interface ScriptHandler {
  /** Methods scripts accept, for Allow. */
  readonly methods: readonly string[];
  handle(request: HttpRequest, segments: readonly string[]): Promise<ResponseDescription | null>;
}

/** A hook for the write methods (PUT, PATCH, DELETE, MKCOL, POST with `--upload`). */
export interface WriteHandler {
  /** Methods it answers, added to Allow. */
  readonly methods: readonly string[];
  /** Fields added to OPTIONS answers (WebDAV's `DAV` compliance classes, RFC 4918 §10.1). */
  readonly optionsHeaders?: Readonly<Record<string, string>>;
  handle(request: HttpRequest, decoded: Extract<DecodedPath, { kind: 'ok' }>): Promise<ResponseDescription>;
}

/**
 * The cache key of a resolved path: its canonical, percent-encoded URL path. Aliases of one file
 * (`//f.txt`, `/./f.txt`, `/%66.txt`) resolve to the same key, so they share one entry and its compressed
 * forms; the hot path (looked up by the raw request path) serves the canonical spelling, which is what
 * links and browsers send.
 */
function cacheKeyOf(urlPath: string): string {
  return urlPath.split('/').map(encodeURIComponent).join('/');
}

const LISTING_MEDIA_TYPES: readonly string[] = ['text/html', 'text/plain', 'application/json'];
const LISTING_FORMAT_BY_TYPE: Readonly<Record<string, ListingFormat>> = {
  'text/html': 'html',
  'text/plain': 'text',
  'application/json': 'json',
};

/** `?format=` when given, else what the Accept field prefers among HTML, text and JSON. */
function listingFormatOf(request: HttpRequest, query = parseListingQuery(request.query)): ListingFormat {
  return (
    query.format ??
    LISTING_FORMAT_BY_TYPE[chooseMediaType(request.headers.accept, LISTING_MEDIA_TYPES) ?? 'text/html'] ??
    'html'
  );
}

export function createFileHandler(options: FileHandlerOptions): RequestHandler {
  const root = options.root;
  const listing = options.listing ?? true;
  const policy = new SitePolicy({
    cacheControl: options.cacheControl,
    cacheControlRules: options.cacheControlRules,
    headers: options.headers,
    cors: options.cors,
  });
  const logError =
    options.logError ??
    ((error: unknown, context: string) => {
      console.error(`docroot: ${context}:`, error);
    });
  const cache =
    options.cache === false
      ? null
      : options.cache instanceof FileCache
        ? options.cache
        : new FileCache(options.cache);
  const ctx: ContentContext = {
    policy,
    compress: options.compress ?? true,
    ...(options.countCompressed !== undefined ? { countCompressed: options.countCompressed } : {}),
    cache,
    logError,
  };
  const resolveOptions = {
    root,
    dotfiles: options.dotfiles ?? false,
    followSymlinks: options.followSymlinks ?? false,
  };
  const scripts = options.scriptHandler;
  const writes = options.writeHandler;
  const allow = writes === undefined ? STATIC_ALLOW : `${STATIC_ALLOW}, ${writes.methods.join(', ')}`;
  const listingCache = new Map<string, { builtAt: number; bytes: Buffer }>();
  const listingCacheMs = options.listingCacheMs ?? LISTING_CACHE_FRESH_MS;

  const archives = listing && options.archives !== false;
  const search = listing && options.search !== false;
  let folderTools: Promise<typeof import('./folder-tools.js')> | null = null;

  /** `?download=` and `?q=` on a folder; the module loads on the first such request. */
  async function serveFolderTool(
    request: HttpRequest,
    resolution: Extract<Resolution, { kind: 'directory' }>,
  ): Promise<ResponseDescription | null> {
    const query = request.query;
    if (!((archives && query.includes('download=')) || (search && query.includes('q=')))) return null;
    folderTools ??= import('./folder-tools.js');
    const tools = await folderTools;
    const cacheControl = policy.cacheControlFor(resolution.urlPath, true);
    const ctx = {
      root,
      dotfiles: resolveOptions.dotfiles,
      followSymlinks: resolveOptions.followSymlinks,
      searchLimits: options.search === false ? {} : (options.search ?? {}),
      serverSoftware: options.serverSoftware ?? 'docroot',
      headers: {
        ...policy.extraHeaders,
        ...(cacheControl !== undefined ? { 'Cache-Control': cacheControl } : {}),
      },
      logError,
      ...(options.mayRead !== undefined ? { mayRead: options.mayRead } : {}),
    };
    const folder = { request, dirPath: resolution.filePath, urlPath: resolution.urlPath };
    const archiveFormat = archives ? tools.archiveFormatOf(query) : null;
    if (archiveFormat !== null) return tools.serveArchive(folder, archiveFormat, ctx);
    const term = search ? tools.searchTermOf(query) : null;
    if (term === null) return null;
    const format = listingFormatOf(request);
    return tools.serveSearch(folder, term, format, LISTING_CONTENT_TYPES[format], ctx);
  }

  const fail = (request: HttpRequest, status: number, message: string, extra?: Record<string, string>) =>
    errorResponse(status, message, request.headers.accept, extra);

  async function notFound(request: HttpRequest, message: string): Promise<ResponseDescription> {
    if (options.notFoundPage !== undefined && (request.method === 'GET' || request.method === 'HEAD')) {
      const page = await resolveUrlPath(options.notFoundPage);
      if (page.kind === 'file') {
        const info: FileInfo = {
          filePath: page.filePath,
          urlPath: page.urlPath,
          size: page.stats.size,
          mtimeMs: page.stats.mtimeMs,
        };
        return serveFileContent(request, info, null, ctx, 404);
      }
    }
    return fail(request, 404, message);
  }

  function resolveUrlPath(urlPath: string): Promise<Resolution> {
    const decoded = decodeRequestPath(urlPath);
    if (decoded.kind === 'error') return Promise.resolve(decoded);
    return resolvePath(decoded, resolveOptions);
  }

  async function serveResolvedFile(
    request: HttpRequest,
    resolution: Extract<Resolution, { kind: 'file' }>,
    key: string | null,
  ) {
    const info: FileInfo = {
      filePath: resolution.filePath,
      urlPath: resolution.urlPath,
      size: resolution.stats.size,
      mtimeMs: resolution.stats.mtimeMs,
    };
    let entry = null;
    if (cache !== null && key !== null && info.size <= cache.maxFileBytes && info.size > 0) {
      const known = cache.peek(key);
      if (
        known !== undefined &&
        known.filePath === info.filePath &&
        known.size === info.size &&
        known.mtimeMs === info.mtimeMs
      ) {
        known.checkedAt = Date.now();
        entry = known;
      } else {
        entry = await loadCacheEntry(key, info, ctx);
        if (entry !== null) cache.set(key, entry);
      }
    }
    return serveFileContent(request, info, entry, ctx);
  }

  async function serveDirectory(
    request: HttpRequest,
    resolution: Extract<Resolution, { kind: 'directory' }>,
  ): Promise<ResponseDescription> {
    if (resolution.needsSlash) {
      // RFC 9110 §15.4.2: relative links in the page only work from the slashed URL.
      const location = `${sameOriginPath(request.path)}/${request.query === '' ? '' : `?${request.query}`}`;
      return {
        status: 301,
        headers: { Location: location, 'Content-Type': 'text/plain; charset=utf-8', ...policy.extraHeaders },
        body: { kind: 'bytes', data: `301 Moved Permanently: folders are served at ${location}\n` },
      };
    }
    const tool = request.query === '' ? null : await serveFolderTool(request, resolution);
    if (tool !== null) return tool;
    const indexPath = path.join(resolution.filePath, 'index.html');
    try {
      const stats = await stat(indexPath);
      if (stats.isFile()) {
        const indexResolution = {
          kind: 'file' as const,
          filePath: indexPath,
          stats,
          urlPath: `${resolution.urlPath}index.html`,
        };
        return serveResolvedFile(request, indexResolution, cacheKeyOf(resolution.urlPath));
      }
    } catch {
      // No index.html: list the folder.
    }
    if (!listing) return notFound(request, 'this folder has no index.html and listings are turned off');
    const query = parseListingQuery(request.query);
    const format = listingFormatOf(request, query);
    const headers: Record<string, string> = {
      'Content-Type': LISTING_CONTENT_TYPES[format],
      Vary: 'Accept',
      'X-Content-Type-Options': 'nosniff',
      ...policy.extraHeaders,
    };
    const cacheControl = policy.cacheControlFor(resolution.urlPath, true);
    if (cacheControl !== undefined) headers['Cache-Control'] = cacheControl;
    if (request.method === 'HEAD') return { status: 200, headers };
    const listingKey = `${resolution.filePath}\0${format}\0${query.sort ?? ''}\0${query.order ?? ''}`;
    const now = Date.now();
    const cached = listingCache.get(listingKey);
    if (cached !== undefined && now - cached.builtAt < listingCacheMs) {
      return { status: 200, headers, body: { kind: 'bytes', data: cached.bytes } };
    }
    const stream = renderListing({
      dirPath: resolution.filePath,
      urlPath: resolution.urlPath,
      format,
      ...(query.sort ? { sort: query.sort } : {}),
      ...(query.order ? { order: query.order } : {}),
      showDotfiles: resolveOptions.dotfiles,
      ...(writes?.methods.includes('POST') ? { uploadForm: true } : {}),
      ...(archives ? { archiveLinks: true } : {}),
      serverSoftware: options.serverSoftware ?? 'docroot',
    });
    return {
      status: 200,
      headers,
      body: { kind: 'stream', stream: rememberListing(listingKey, stream, now) },
    };
  }

  /**
   * Keeps a copy of a listing as it streams out, so the next second's requests are answered from memory.
   * The copy is taken in a pass-through stage piped after the listing, so backpressure from the socket
   * still reaches the listing and no byte can flow before the wire is listening.
   */
  function rememberListing(key: string, listingStream: Readable, builtAt: number): Readable {
    const chunks: Buffer[] = [];
    let size = 0;
    const copy = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size <= LISTING_CACHE_MAX_BYTES) chunks.push(chunk);
        else chunks.length = 0;
        done(null, chunk);
      },
      flush(done) {
        if (size <= LISTING_CACHE_MAX_BYTES) {
          listingCache.delete(key);
          listingCache.set(key, { builtAt, bytes: Buffer.concat(chunks) });
          if (listingCache.size > LISTING_CACHE_ENTRIES) {
            const oldest = listingCache.keys().next();
            if (!oldest.done) listingCache.delete(oldest.value);
          }
        }
        done();
      },
    });
    // An error reading the folder, or the wire giving up on the response, ends both stages.
    listingStream.on('error', (error) => copy.destroy(error));
    copy.on('close', () => listingStream.destroy());
    return listingStream.pipe(copy);
  }

  async function handleSlow(request: HttpRequest): Promise<ResponseDescription> {
    const decoded = decodeRequestPath(request.path);
    if (decoded.kind === 'error') return fail(request, PATH_REFUSAL_STATUS[decoded.refusal], decoded.message);
    const method = request.method;

    if (scripts !== undefined) {
      const answer = await scripts.handle(request, decoded.segments);
      if (answer !== null) return answer;
    }
    if (writes?.methods.includes(method)) {
      const answer = await writes.handle(request, decoded);
      // What was cached for a second may just have changed (PROPFIND only reads).
      if (answer.status < 400 && method !== 'PROPFIND') {
        cache?.clear();
        listingCache.clear();
      }
      return answer;
    }
    if (method === 'OPTIONS') return answerOptions(request, allow);
    if (method !== 'GET' && method !== 'HEAD') {
      return fail(request, 405, `${method} is not allowed here; this path allows ${allow}`, {
        Allow: allow,
      });
    }

    const resolution = await resolvePath(decoded, resolveOptions);
    switch (resolution.kind) {
      case 'file':
        return serveResolvedFile(request, resolution, cacheKeyOf(resolution.urlPath));
      case 'directory':
        return serveDirectory(request, resolution);
      case 'error': {
        if (resolution.refusal !== 'not-found')
          return fail(request, PATH_REFUSAL_STATUS[resolution.refusal], resolution.message);
        if (options.spa === true && !path.posix.basename(request.path).includes('.')) {
          const index = await resolveUrlPath('/index.html');
          if (index.kind === 'file') return serveResolvedFile(request, index, '/index.html');
        }
        return notFound(request, resolution.message);
      }
    }
  }

  function answerOptions(request: HttpRequest, allow: string): ResponseDescription {
    const preflight =
      policy.cors &&
      request.headers.origin !== undefined &&
      request.headers['access-control-request-method'] !== undefined;
    const headers = preflight
      ? { Allow: allow, ...policy.preflightHeaders(request.headers, allow) }
      : { Allow: allow, ...writes?.optionsHeaders, ...policy.extraHeaders };
    // Both are right (RFC 9110 §9.3.7), but some WebDAV clients (Dart's webdav_client, TiddlyWiki's saver)
    // take only 200 as "this is a DAV server".
    const status = !preflight && writes?.optionsHeaders !== undefined ? 200 : 204;
    return { status, headers };
  }

  return function handleFileRequest(
    request: HttpRequest,
  ): ResponseDescription | Promise<ResponseDescription> {
    const method = request.method;
    if (!isKnownMethod(method)) {
      return fail(request, 501, `the method ${method} is not implemented by this server`);
    }
    if (method === 'CONNECT') {
      // A well-formed request (authority-form target, RFC 9110 §9.3.6) for a method this server does not
      // offer on any resource: 405 with Allow, and the connection stays usable.
      return fail(request, 405, `CONNECT is not allowed: this server is not a proxy; it allows ${allow}`, {
        Allow: allow,
      });
    }
    if (request.path === '*') {
      if (method === 'OPTIONS') return answerOptions(request, allow);
      return fail(request, 400, 'the "*" request-target is only valid with OPTIONS');
    }
    // The hot path: a GET or HEAD for a small file checked less than a second ago, browsers' included.
    if (cache !== null && (method === 'GET' || method === 'HEAD')) {
      const entry = cache.getFresh(request.path, Date.now());
      if (entry !== undefined)
        return answerFromCache(request, entry, ctx) ?? serveFileContent(request, entry, entry, ctx);
    }
    return handleSlow(request);
  };
}
