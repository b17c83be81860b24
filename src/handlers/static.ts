/**
 * The document-root handler: a request in, a response description out, no socket in sight. It checks the
 * method, answers hot small files from the cache at once, then decodes and resolves the path and hands it
 * to the hooks (`hooks.ts`: CGI scripts, writes), a folder's answer (`directory.ts`) or a file's
 * (`file-serving.ts`). The wire server, the node:http adapter and tests all call the same function.
 * @module
 */
import path from 'node:path';
import { isMarkdownName, wantsRenderedView } from '../files/markdown.js';
import { decodeRequestPath, type Resolution, resolvePath } from '../files/resolve.js';
import type { SearchLimits } from '../files/search.js';
import { isKnownMethod } from '../http/method.js';
import { clockNow } from '../wire/clock.js';
import type { HttpRequest, RequestHandler, ResponseDescription } from '../wire/message.js';
import { serveFileContent } from './content.js';
import { createDirectoryServer } from './directory.js';
import { errorResponse } from './errors.js';
import { type CacheOptions, FileCache } from './file-cache.js';
import { createFileServing } from './file-serving.js';
import type { ScriptHandler, WriteHandler } from './hooks.js';
import { answerFromCache } from './hot-path.js';
import { LISTING_CACHE_FRESH_MS, ListingCache } from './listing-cache.js';
import { type CacheControlRule, SitePolicy } from './policy.js';
import { PATH_REFUSAL_STATUS } from './refusals.js';
import type { ContentContext } from './representation.js';

export type { ScriptHandler, WriteHandler } from './hooks.js';

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
  /**
   * Access rules for the listing's write controls: may this request write (or, with a password, could it)
   * at that URL path (percent-encoded)?
   */
  mayWrite?: (request: HttpRequest, urlPath: string) => Promise<boolean>;
  /** Render a folder's README.md / index.md / README.txt below its HTML listing. @default true */
  readme?: boolean;
  /** Runs scripts (CGI); consulted before the file is served. Returns null when the path is not a script. */
  scriptHandler?: ScriptHandler;
  /** Answers the write methods (`--upload`); when it takes POST, HTML listings carry an upload form. */
  writeHandler?: WriteHandler;
  logError?: (error: unknown, context: string) => void;
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
  const listings = new ListingCache(options.listingCacheMs ?? LISTING_CACHE_FRESH_MS);
  const fail = (request: HttpRequest, status: number, message: string, extra?: Record<string, string>) =>
    errorResponse(status, message, request.headers.accept, extra);

  const { serveFile, notFound, resolveUrlPath } = createFileServing({
    resolve: resolveOptions,
    ctx,
    ...(options.notFoundPage !== undefined ? { notFoundPage: options.notFoundPage } : {}),
  });
  const serveDirectory = createDirectoryServer({
    ...resolveOptions,
    policy,
    listing,
    archives: options.archives !== false,
    search: options.search ?? {},
    serverSoftware: options.serverSoftware ?? 'docroot',
    uploadForm: writes?.methods.includes('POST') ?? false,
    moves: writes?.methods.includes('MOVE') ?? false,
    readme: options.readme !== false,
    ...(options.mayRead !== undefined ? { mayRead: options.mayRead } : {}),
    ...(options.mayWrite !== undefined ? { mayWrite: options.mayWrite } : {}),
    listings,
    logError,
    serveFile,
    notFound,
  });

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
        listings.clear();
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
        if (request.query !== '' && wantsRenderedView(request.query) && isMarkdownName(resolution.urlPath)) {
          return serveMarkdownPage(request, resolution);
        }
        return serveFile(request, resolution);
      case 'directory':
        return serveDirectory(request, resolution);
      case 'error': {
        if (resolution.refusal !== 'not-found')
          return fail(request, PATH_REFUSAL_STATUS[resolution.refusal], resolution.message);
        if (options.spa === true && !path.posix.basename(request.path).includes('.')) {
          const index = await resolveUrlPath('/index.html');
          if (index.kind === 'file') return serveFile(request, index);
        }
        return notFound(request, resolution.message);
      }
    }
  }

  let markdownView: Promise<typeof import('./markdown-view.js')> | null = null;
  /** `?view=rendered` on a Markdown file: the module (and markdown-it) load with the first such request. */
  async function serveMarkdownPage(
    request: HttpRequest,
    resolution: Extract<Resolution, { kind: 'file' }>,
  ): Promise<ResponseDescription> {
    markdownView ??= import('./markdown-view.js');
    const cacheControl = policy.cacheControlFor(resolution.urlPath, true);
    return (await markdownView).serveRenderedMarkdown(request, resolution, {
      ...policy.extraHeaders,
      ...(cacheControl !== undefined ? { 'Cache-Control': cacheControl } : {}),
    });
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
    // (`?view=rendered` asks for a page made from the file, not the file.)
    if (cache !== null && (method === 'GET' || method === 'HEAD') && !request.query.includes('view=')) {
      const entry = cache.getFresh(request.path, clockNow());
      if (entry !== undefined)
        return answerFromCache(request, entry, ctx) ?? serveFileContent(request, entry, entry, ctx);
    }
    return handleSlow(request);
  };
}
