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
import { decodeRequestPath, type Resolution, resolvePath } from '../files/resolve.js';
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
  /** Whether HTML listings carry the upload and manage controls (the write hook takes POST). */
  uploadForm: boolean;
  /** Whether those controls include Rename/Move (the write hook takes WebDAV MOVE). */
  moves: boolean;
  /** Render the folder's README below HTML listings. */
  readme: boolean;
  mayRead?: (request: HttpRequest, urlPath: string) => Promise<boolean>;
  /**
   * With access rules: whether this request should see the write controls of the folder at this URL path
   * (percent-encoded); without, every request that may list may write.
   */
  mayWrite?: (request: HttpRequest, urlPath: string) => Promise<boolean>;
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
  const readmeSection = createReadmeSection(options);

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
    const writable =
      format === 'html' &&
      options.uploadForm &&
      (options.mayWrite === undefined ||
        (await options.mayWrite(request, encodedUrlPath(resolution.urlPath))));
    // Under access rules the page depends on who asks (write controls, a README only some may read): the
    // same credentials always get the same answers, so they are part of the key.
    const asker = options.mayRead === undefined ? '' : (request.headers.authorization ?? '');
    const listingKey = `${resolution.filePath}\0${format}\0${query.sort ?? ''}\0${query.order ?? ''}\0${writable}\0${asker}`;
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
      ...(writable ? { uploadForm: true, moves: options.moves } : {}),
      ...(options.listing && options.archives ? { archiveLinks: true } : {}),
      searchForm: options.search !== false,
      ...(options.readme ? { readme: (name: string) => readmeSection(request, resolution, name) } : {}),
      serverSoftware: options.serverSoftware,
    });
    return {
      status: 200,
      headers,
      body: { kind: 'stream', stream: listings.remember(listingKey, stream, now) },
    };
  };
}

/** The percent-encoded form of a decoded URL path, as access rules compare it. */
function encodedUrlPath(urlPath: string): string {
  return urlPath.split('/').map(encodeURIComponent).join('/');
}

/**
 * The README section of a listing: the file goes through the path rules (a symlink out of the root stays
 * out) and the access rules like a request for it; any failure leaves the section out.
 */
function createReadmeSection(
  options: DirectoryOptions,
): (request: HttpRequest, folder: FolderResolution, name: string) => Promise<string> {
  let markdown: Promise<typeof import('../files/markdown.js')> | null = null;
  return async (request, folder, name) => {
    try {
      const decoded = decodeRequestPath(encodedUrlPath(folder.urlPath + name));
      if (decoded.kind === 'error') return '';
      const file = await resolvePath(decoded, options);
      if (file.kind !== 'file') return '';
      const urlPath = encodedUrlPath(file.urlPath);
      if (options.mayRead !== undefined && !(await options.mayRead(request, urlPath))) return '';
      markdown ??= import('../files/markdown.js');
      return await (await markdown).renderReadmeSection(file.filePath, name, encodedUrlPath(folder.urlPath));
    } catch (error) {
      options.logError(error, `rendering ${folder.urlPath}${name} below the listing (left out)`);
      return '';
    }
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
