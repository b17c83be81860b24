/**
 * What a file's representation is — its type, validators, Cache-Control and the fields every response
 * for it carries — and which content coding an Accept-Encoding value picks among those the file can have.
 * Shared by the general path (`content.ts`) and the prepared answers of the hot path (`hot-path.ts`).
 * @module
 */
import {
  COMPRESSION_MIN_BYTES,
  type ContentCoding,
  ON_THE_FLY_CODINGS,
  type Sidecar,
} from '../files/encodings.js';
import type { OpenedFile } from '../files/opened-file.js';
import { formatHttpDate } from '../http/date.js';
import { makeFileEtag } from '../http/etag.js';
import { contentTypeFor, isCompressibleType } from '../http/mime.js';
import { chooseContentEncoding } from '../http/negotiate.js';
import type { ResponseHeaders } from '../wire/message.js';
import type { CachedFile, FileCache } from './file-cache.js';
import type { SitePolicy } from './policy.js';

export interface ContentContext {
  policy: SitePolicy;
  compress: boolean;
  cache: FileCache | null;
  logError(error: unknown, context: string): void;
  countCompressed?: (coding: string) => void;
}

/** A file the handler has resolved and stat()ed. */
export interface FileInfo {
  filePath: string;
  urlPath: string;
  size: number;
  mtimeMs: number;
}

export type Coding = ContentCoding | 'identity';

export interface Representation {
  info: FileInfo;
  contentType: string;
  etag: string;
  lastModified: string;
  compressible: boolean;
  cacheControl: string | undefined;
  entry: CachedFile | null;
  /** The descriptor the body is read from (null when the cache holds the bytes). */
  opened: OpenedFile | null;
}

function isHtmlType(contentType: string): boolean {
  return contentType.startsWith('text/html');
}

export function describe(
  info: FileInfo,
  policy: SitePolicy,
  entry: CachedFile | null,
  opened: OpenedFile | null = null,
): Representation {
  const contentType = entry?.contentType ?? contentTypeFor(info.filePath);
  return {
    info,
    contentType,
    etag: entry?.etag ?? makeFileEtag(info.size, info.mtimeMs),
    lastModified: entry?.lastModified ?? formatHttpDate(info.mtimeMs),
    compressible: entry?.compressible ?? isCompressibleType(contentType),
    cacheControl: policy.cacheControlFor(info.urlPath, isHtmlType(contentType)),
    entry,
    opened,
  };
}

/** Fields every response for this representation carries (200, 206 and 304 alike). */
export function representationHeaders(
  rep: Representation,
  ctx: ContentContext,
  coding: Coding,
  etag: string,
): ResponseHeaders {
  const headers: Record<string, string> = {
    'Content-Type': rep.contentType,
    'Last-Modified': rep.lastModified,
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'X-Content-Type-Options': 'nosniff',
  };
  if (coding !== 'identity') headers['Content-Encoding'] = coding;
  if (ctx.compress && rep.compressible) headers.Vary = 'Accept-Encoding';
  if (rep.cacheControl !== undefined) headers['Cache-Control'] = rep.cacheControl;
  return { ...headers, ...ctx.policy.extraHeaders };
}

/** Fields of a 200 that a 304 repeats (RFC 9110 §15.4.5: the ones a cache updates its stored response with). */
const REPEATED_IN_304: ReadonlySet<string> = new Set([
  'etag',
  'vary',
  'cache-control',
  'expires',
  'content-location',
]);

/**
 * The fields of a 304 for a representation whose 200 carries `fields` (RFC 9110 §15.4.5): ETag, Vary,
 * Cache-Control, Expires and Content-Location; Last-Modified only when there is no ETag; and the site's
 * own fields (`extra`, `--header`). The rest describes the body the client already holds (Content-Type,
 * Content-Encoding, Accept-Ranges, nosniff), which its stored response keeps; nginx leaves it out too.
 */
export function notModifiedHeaders(
  fields: Readonly<ResponseHeaders>,
  extra: Readonly<ResponseHeaders>,
): ResponseHeaders {
  const names = Object.keys(fields);
  const hasEtag = names.some((name) => name.toLowerCase() === 'etag');
  const kept: ResponseHeaders = {};
  for (const name of names) {
    const lower = name.toLowerCase();
    if (REPEATED_IN_304.has(lower) || (lower === 'last-modified' && !hasEtag) || Object.hasOwn(extra, name)) {
      kept[name] = fields[name]!;
    }
  }
  return kept;
}

/** The coding for an Accept-Encoding value among those this file can have (RFC 9110 §12.5.3). */
export function negotiateCoding(acceptEncoding: string, size: number, sidecars: readonly Sidecar[]): Coding {
  const available: ContentCoding[] = [];
  for (const coding of ON_THE_FLY_CODINGS) {
    if (sidecars.some((s) => s.coding === coding) || size >= COMPRESSION_MIN_BYTES) available.push(coding);
  }
  for (const sidecar of sidecars) if (!available.includes(sidecar.coding)) available.push(sidecar.coding);
  if (available.length === 0) return 'identity';
  const chosen = chooseContentEncoding(acceptEncoding, available);
  // null means even identity is refused; RFC 9110 §12.5.3 lets us send it anyway rather than a 406.
  return chosen === null || chosen === 'identity' ? 'identity' : (chosen as ContentCoding);
}
