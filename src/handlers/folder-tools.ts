/**
 * What a folder URL can do besides listing itself: `?download=zip|tar.gz` streams an archive of the
 * folder, `?q=term` searches the names below it. Loaded by `directory.ts` only when a folder request carries
 * one of these parameters, so plain serving never loads the walkers, zlib writers or renderers.
 * @module
 */
import path from 'node:path';
import type { ArchiveEntry } from '../archive/entry.js';
import type { ListingFormat } from '../files/listing-types.js';
import { DEFAULT_SEARCH_LIMITS, renderSearch, type SearchLimits } from '../files/search.js';
import { type WalkEntry, walkTree } from '../files/walk.js';
import { contentTypeFor, isCompressibleType } from '../http/mime.js';
import type { HttpRequest, ResponseDescription } from '../wire/message.js';
import { errorResponse } from './errors.js';

export type ArchiveFormat = 'zip' | 'tar.gz';

/** Deep enough for any real site; a bound anyway, since a walk must end. */
const ARCHIVE_MAX_DEPTH = 64;

const ARCHIVE_CONTENT_TYPES: Readonly<Record<ArchiveFormat, string>> = {
  zip: 'application/zip',
  'tar.gz': 'application/gzip',
};

export interface FolderToolsContext {
  root: string;
  dotfiles: boolean;
  followSymlinks: boolean;
  /** Bounds that differ from DEFAULT_SEARCH_LIMITS. */
  searchLimits: Partial<SearchLimits>;
  serverSoftware: string;
  /** Extra headers and Cache-Control from the site policy. */
  headers: Record<string, string>;
  logError(error: unknown, context: string): void;
  /**
   * With access rules (`--auth`): whether this request may read a URL path. Archives and search ask it
   * for every entry, so neither reveals what a GET of that path would refuse.
   */
  mayRead?: (request: HttpRequest, urlPath: string) => Promise<boolean>;
}

export interface FolderRequest {
  request: HttpRequest;
  /** Real path of the folder. */
  dirPath: string;
  /** Decoded URL path of the folder, ending in '/'. */
  urlPath: string;
}

/**
 * `?download=` values we know, or null when the parameter is absent; unknown values are an error line.
 * `selection` is the listing's checked entries (`selection-archive.ts`).
 */
export function archiveFormatOf(query: string): ArchiveFormat | 'selection' | 'unknown' | null {
  const value = new URLSearchParams(query).get('download');
  if (value === null) return null;
  const normalized = value.trim().toLowerCase();
  if (normalized === 'zip') return 'zip';
  if (normalized === 'selection') return 'selection';
  if (normalized === 'tar.gz' || normalized === 'tgz') return 'tar.gz';
  return 'unknown';
}

/** The search term of `?q=`, or null when absent or blank. */
export function searchTermOf(query: string): string | null {
  const value = new URLSearchParams(query).get('q');
  if (value === null || value.trim() === '') return null;
  return value.trim();
}

export async function serveArchive(
  folder: FolderRequest,
  format: ArchiveFormat | 'selection' | 'unknown',
  ctx: FolderToolsContext,
): Promise<ResponseDescription> {
  const { request } = folder;
  if (format === 'unknown') {
    return errorResponse(400, 'download= takes zip, tar.gz or selection', request.headers.accept);
  }
  if (format === 'selection') {
    const { serveSelectionArchive } = await import('./selection-archive.js');
    return serveSelectionArchive(folder, ctx);
  }
  const folderName = archiveFolderName(folder.urlPath, ctx.root);
  return archiveResponse(request, format, folderName, folderArchiveEntries(folder, folderName, ctx), ctx);
}

/**
 * Streams `entries` as an archive named `fileStem.zip` (or `.tar.gz`). The whole folder's archive and a
 * selection of its entries (`selection-archive.ts`) both answer through it.
 */
export async function archiveResponse(
  request: HttpRequest,
  format: ArchiveFormat,
  fileStem: string,
  entries: AsyncIterable<ArchiveEntry>,
  ctx: FolderToolsContext,
): Promise<ResponseDescription> {
  const headers: Record<string, string> = {
    ...ctx.headers,
    'Content-Type': ARCHIVE_CONTENT_TYPES[format],
    'Content-Disposition': contentDisposition(`${fileStem}.${format}`),
    // Made afresh from whatever the folder holds now: there is no validator to revalidate with.
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  };
  if (request.method === 'HEAD') return { status: 200, headers };
  const onSkip = (entry: ArchiveEntry, error: unknown) =>
    ctx.logError(error, `archiving ${entry.absolutePath} (left out of the archive)`);
  // Already-compressed types are stored, not deflated again: it would cost time and save nothing.
  const isCompressedAlready = (name: string) => !isCompressibleType(contentTypeFor(name));
  let stream: import('node:stream').Readable;
  if (format === 'zip') {
    const { createZipStream } = await import('../archive/zip.js');
    stream = createZipStream(entries, { onSkip, isCompressedAlready });
  } else {
    const { createTarGzStream } = await import('../archive/tar.js');
    stream = createTarGzStream(entries, { onSkip });
  }
  // No length: the body is chunked, and an error mid-way makes the wire close the connection, so a
  // client never mistakes a cut archive for a whole one.
  return { status: 200, headers, body: { kind: 'stream', stream } };
}

/**
 * Every file and folder below `dirPath` the access rules let through, named `prefix/…` in the archive:
 * a whole-folder archive's top folder is named after it (as desktop tools do), a selected folder's
 * entries go under its own name.
 */
export async function* folderArchiveEntries(
  folder: FolderRequest,
  prefix: string,
  ctx: FolderToolsContext,
): AsyncGenerator<ArchiveEntry, void, undefined> {
  const include = accessFilter(folder, ctx);
  const walk = walkTree({
    root: ctx.root,
    start: folder.dirPath,
    dotfiles: ctx.dotfiles,
    followSymlinks: ctx.followSymlinks,
    maxDepth: ARCHIVE_MAX_DEPTH,
    order: 'depth-first',
    ...(include !== undefined ? { include } : {}),
  });
  for await (const entry of walk) yield walkedArchiveEntry(`${prefix}/${entry.relativePath}`, entry);
}

/** A walked file or folder as the archive entry `name`. */
export function walkedArchiveEntry(
  name: string,
  entry: Pick<WalkEntry, 'absolutePath' | 'isDirectory' | 'stats'>,
): ArchiveEntry {
  return {
    name,
    absolutePath: entry.absolutePath,
    isDirectory: entry.isDirectory,
    size: entry.isDirectory ? 0 : entry.stats.size,
    mtime: entry.stats.mtime,
    mode: entry.stats.mode,
  };
}

/** The access rules as a walk filter, or undefined when there are none. */
function accessFilter(
  folder: FolderRequest,
  ctx: FolderToolsContext,
): ((relativePath: string, isDirectory: boolean) => Promise<boolean>) | undefined {
  const mayRead = ctx.mayRead;
  if (mayRead === undefined) return undefined;
  const base = folder.urlPath.split('/').filter((segment) => segment !== '');
  return (relativePath, isDirectory) => {
    const segments = [...base, ...relativePath.split('/')].map(encodeURIComponent);
    return mayRead(folder.request, `/${segments.join('/')}${isDirectory ? '/' : ''}`);
  };
}

/** The last URL segment, or the root folder's own name for `/`. */
export function archiveFolderName(urlPath: string, root: string): string {
  const segments = urlPath.split('/').filter((segment) => segment !== '');
  const name = segments.at(-1) ?? path.basename(root);
  return name === '' ? 'docroot' : name;
}

/**
 * `attachment; filename="…"` with an ASCII fallback, plus `filename*=UTF-8''…` (RFC 6266 §4.3, RFC 8187)
 * when the name is not plain ASCII, which browsers then prefer.
 */
export function contentDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  if (fallback === fileName) return `attachment; filename="${fileName}"`;
  const encoded = encodeURIComponent(fileName).replace(
    /['()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

export async function serveSearch(
  folder: FolderRequest,
  term: string,
  format: ListingFormat,
  contentType: string,
  ctx: FolderToolsContext,
): Promise<ResponseDescription> {
  const headers: Record<string, string> = {
    ...ctx.headers,
    'Content-Type': contentType,
    Vary: 'Accept',
    'X-Content-Type-Options': 'nosniff',
  };
  if (folder.request.method === 'HEAD') return { status: 200, headers };
  const include = accessFilter(folder, ctx);
  const stream = renderSearch({
    root: ctx.root,
    dirPath: folder.dirPath,
    urlPath: folder.urlPath,
    term,
    format,
    dotfiles: ctx.dotfiles,
    limits: { ...DEFAULT_SEARCH_LIMITS, ...ctx.searchLimits },
    ...(include !== undefined ? { include } : {}),
    serverSoftware: ctx.serverSoftware,
  });
  return { status: 200, headers, body: { kind: 'stream', stream } };
}
