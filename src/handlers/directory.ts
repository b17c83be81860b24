/**
 * What a folder URL answers: the redirect to its slashed form, a folder tool (`?download=`, `?q=`), its
 * index.html, or its listing in the format the request prefers (HTML, text or JSON), reused for a moment
 * from the listing cache.
 * @module
 */

import { stat } from 'node:fs/promises';
import path from 'node:path';
import { renderListing } from '../files/listing.js';
import { LISTING_CONTENT_TYPES, type ListingFormat, parseListingQuery } from '../files/listing-types.js';
import type { Resolution } from '../files/resolve.js';
import type { SearchLimits } from '../files/search.js';
import { sameOriginPath } from '../http/location.js';
import { chooseMediaType } from '../http/negotiate.js';
import { lazy } from '../lazy.js';
import type { HttpRequest, ResponseDescription } from '../wire/message.js';
import type { ListingCache } from './listing-cache.js';
import type { SitePolicy } from './policy.js';

type FolderResolution = Extract<Resolution, { kind: 'directory' }>;
type FileResolution = Extract<Resolution, { kind: 'file' }>;

export interface DirectoryOptions {
  root: string;
  dotfiles: boolean;
  followSymlinks: boolean;
  policy: SitePolicy;
  /** List folders without index.html. */
  listing: boolean;
  /** `?download=` archives (only while listings are on). */
  archives: boolean;
  /** `?q=` search bounds, or false for no search (only while listings are on). */
  search: Partial<SearchLimits> | false;
  /** Product token shown in listings and search pages. */
  serverSoftware: string;
  /** Whether HTML listings carry the upload form (the write hook takes POST). */
  uploadForm: boolean;
  mayRead?: (request: HttpRequest, urlPath: string) => Promise<boolean>;
  listings: ListingCache;
  logError: (error: unknown, context: string) => void;
  /** Serves a file, cached under the given URL path (the folder's, for its index.html). */
  serveFile(
    request: HttpRequest,
    resolution: FileResolution,
    cacheUrlPath: string,
  ): Promise<ResponseDescription>;
  /** The 404 answer (or the site's 404 page). */
  notFound(request: HttpRequest, message: string): Promise<ResponseDescription>;
}

const LISTING_MEDIA_TYPES: readonly string[] = ['text/html', 'text/plain', 'application/json'];
const LISTING_FORMAT_BY_TYPE: Readonly<Record<string, ListingFormat>> = {
  'text/html': 'html',
  'text/plain': 'text',
  'application/json': 'json',
};

/** `?format=` when given, else what the Accept field prefers among HTML, text and JSON. */
export function listingFormatOf(
  request: HttpRequest,
  query = parseListingQuery(request.query),
): ListingFormat {
  return (
    query.format ??
    LISTING_FORMAT_BY_TYPE[chooseMediaType(request.headers.accept, LISTING_MEDIA_TYPES) ?? 'text/html'] ??
    'html'
  );
}

/** Builds the answer for requests that resolved to a folder. */
export function createDirectoryServer(
  options: DirectoryOptions,
): (request: HttpRequest, resolution: FolderResolution) => Promise<ResponseDescription> {
  const { policy, listings } = options;
  const serveFolderTool = createFolderToolRoute(options);

  return async function serveDirectory(request, resolution) {
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
        return options.serveFile(request, indexResolution, resolution.urlPath);
      }
    } catch {
      // No index.html: list the folder.
    }
    if (!options.listing) {
      return options.notFound(request, 'this folder has no index.html and listings are turned off');
    }
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
    const cached = listings.get(listingKey, now);
    if (cached !== undefined) return { status: 200, headers, body: { kind: 'bytes', data: cached } };
    const stream = renderListing({
      dirPath: resolution.filePath,
      urlPath: resolution.urlPath,
      format,
      ...(query.sort ? { sort: query.sort } : {}),
      ...(query.order ? { order: query.order } : {}),
      showDotfiles: options.dotfiles,
      ...(options.uploadForm ? { uploadForm: true } : {}),
      ...(options.listing && options.archives ? { archiveLinks: true } : {}),
      serverSoftware: options.serverSoftware,
    });
    return {
      status: 200,
      headers,
      body: { kind: 'stream', stream: listings.remember(listingKey, stream, now) },
    };
  };
}

/**
 * `?download=` and `?q=` on a folder, or null when the query asks for neither; `folder-tools.ts` (walkers,
 * archive writers, search renderer) loads on the first such request.
 */
function createFolderToolRoute(
  options: DirectoryOptions,
): (request: HttpRequest, resolution: FolderResolution) => Promise<ResponseDescription | null> {
  const archives = options.listing && options.archives;
  const search = options.listing && options.search !== false;
  const folderTools = lazy(() => import('./folder-tools.js'));

  return async function serveFolderTool(request, resolution) {
    const query = request.query;
    if (!((archives && query.includes('download=')) || (search && query.includes('q=')))) return null;
    const tools = await folderTools.get();
    const cacheControl = options.policy.cacheControlFor(resolution.urlPath, true);
    const ctx = {
      root: options.root,
      dotfiles: options.dotfiles,
      followSymlinks: options.followSymlinks,
      searchLimits: options.search === false ? {} : options.search,
      serverSoftware: options.serverSoftware,
      headers: {
        ...options.policy.extraHeaders,
        ...(cacheControl !== undefined ? { 'Cache-Control': cacheControl } : {}),
      },
      logError: options.logError,
      ...(options.mayRead !== undefined ? { mayRead: options.mayRead } : {}),
    };
    const folder = { request, dirPath: resolution.filePath, urlPath: resolution.urlPath };
    const archiveFormat = archives ? tools.archiveFormatOf(query) : null;
    if (archiveFormat !== null) return tools.serveArchive(folder, archiveFormat, ctx);
    const term = search ? tools.searchTermOf(query) : null;
    if (term === null) return null;
    const format = listingFormatOf(request);
    return tools.serveSearch(folder, term, format, LISTING_CONTENT_TYPES[format], ctx);
  };
}
