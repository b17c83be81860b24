/**
 * Serving one resolved file: small files through the hot-file cache (keyed by their canonical URL path),
 * others streamed by `content.ts`; and the 404 answer, which is the site's 404 page when it has one.
 * @module
 */
import { decodeRequestPath, type Resolution, resolvePath } from '../files/resolve.js';
import type { HttpRequest, ResponseDescription } from '../wire/message.js';
import { serveFileContent } from './content.js';
import { errorResponse } from './errors.js';
import { loadCacheEntry } from './hot-path.js';
import type { ContentContext, FileInfo } from './representation.js';

type FileResolution = Extract<Resolution, { kind: 'file' }>;

export interface FileServingOptions {
  /** How paths resolve under the root (the handler's own settings). */
  resolve: { root: string; dotfiles: boolean; followSymlinks: boolean };
  /** Site policy, compression and the hot-file cache (`ctx.cache`, null for none). */
  ctx: ContentContext;
  /** URL path of a page served (with status 404) when nothing matches, e.g. '/404.html'. */
  notFoundPage?: string;
}

export interface FileServing {
  /** Serves a file, cached under `cacheUrlPath`'s canonical key (the folder's, for its index.html). */
  serveFile(
    request: HttpRequest,
    resolution: FileResolution,
    cacheUrlPath?: string,
  ): Promise<ResponseDescription>;
  /** The 404 answer: the site's 404 page for GET and HEAD when there is one, else the error line. */
  notFound(request: HttpRequest, message: string): Promise<ResponseDescription>;
  /** Decodes and resolves a URL path the server itself names (index.html for a SPA, the 404 page). */
  resolveUrlPath(urlPath: string): Promise<Resolution>;
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

function fileInfoOf(resolution: FileResolution): FileInfo {
  return {
    filePath: resolution.filePath,
    urlPath: resolution.urlPath,
    size: resolution.stats.size,
    mtimeMs: resolution.stats.mtimeMs,
  };
}

export function createFileServing(options: FileServingOptions): FileServing {
  const { ctx } = options;
  const cache = ctx.cache;

  function resolveUrlPath(urlPath: string): Promise<Resolution> {
    const decoded = decodeRequestPath(urlPath);
    if (decoded.kind === 'error') return Promise.resolve(decoded);
    return resolvePath(decoded, options.resolve);
  }

  async function serveFile(
    request: HttpRequest,
    resolution: FileResolution,
    cacheUrlPath: string = resolution.urlPath,
  ): Promise<ResponseDescription> {
    const key = cacheKeyOf(cacheUrlPath);
    const info = fileInfoOf(resolution);
    let entry = null;
    if (cache !== null && info.size <= cache.maxFileBytes && info.size > 0) {
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

  async function notFound(request: HttpRequest, message: string): Promise<ResponseDescription> {
    if (options.notFoundPage !== undefined && (request.method === 'GET' || request.method === 'HEAD')) {
      const page = await resolveUrlPath(options.notFoundPage);
      if (page.kind === 'file') return serveFileContent(request, fileInfoOf(page), null, ctx, 404);
    }
    return errorResponse(404, message, request.headers.accept);
  }

  return { serveFile, notFound, resolveUrlPath };
}
