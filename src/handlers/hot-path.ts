/**
 * The hot path: a fresh cached file answered straight from its prepared 200 and 304 descriptions
 * (`answerFromCache`), with the last Accept-Encoding string remembered per file and request fields read
 * through the wire's field lines; and how those prepared answers are made (`loadCacheEntry`,
 * `cachedVariant`).
 * @module
 */
import { readFile } from 'node:fs/promises';
import { type ContentCoding, compressBuffer, findSidecars } from '../files/encodings.js';
import { FileChangedError, OpenedFile } from '../files/opened-file.js';
import { formatHttpDate } from '../http/date.js';
import { makeFileEtag, withEncodingSuffix } from '../http/etag.js';
import { contentTypeFor, isCompressibleType } from '../http/mime.js';
import { type FieldLines, fieldLinesOf } from '../wire/field-lines.js';
import type { HttpRequest, ResponseDescription, ResponseHeaders } from '../wire/message.js';
import type { CachedFile, CachedVariant } from './file-cache.js';
import type { Coding, ContentContext, FileInfo, Representation } from './representation.js';
import { describe, negotiateCoding, notModifiedHeaders, representationHeaders } from './representation.js';

/**
 * Reads a small file into a cache entry, described from the descriptor it was read through. Returns null
 * when the file is gone, too large by now, or changed while being read (it is then served uncached).
 */
export async function loadCacheEntry(
  key: string,
  pathInfo: FileInfo,
  ctx: ContentContext,
): Promise<CachedFile | null> {
  let opened: OpenedFile;
  try {
    opened = await OpenedFile.open(pathInfo.filePath);
  } catch {
    return null;
  }
  let body: Buffer;
  try {
    if (ctx.cache !== null && opened.size > ctx.cache.maxFileBytes) return null;
    body = await opened.readAll();
  } catch (error) {
    if (error instanceof FileChangedError) return null;
    throw error;
  } finally {
    opened.release();
  }
  const info: FileInfo = { ...pathInfo, size: opened.size, mtimeMs: opened.mtimeMs };
  const contentType = contentTypeFor(info.filePath);
  const compressible = isCompressibleType(contentType);
  const entry: CachedFile = {
    key,
    filePath: info.filePath,
    urlPath: info.urlPath,
    size: info.size,
    mtimeMs: info.mtimeMs,
    checkedAt: Date.now(),
    contentType,
    etag: makeFileEtag(info.size, info.mtimeMs),
    lastModified: formatHttpDate(info.mtimeMs),
    compressible,
    sidecars: ctx.compress && compressible ? await findSidecars(info.filePath, info.mtimeMs) : [],
    identity: preparedVariant(body, '', {}, {}),
    encoded: new Map(),
    pending: new Map(),
    negotiated: new Map(),
    lastAcceptEncoding: null,
    lastCoding: 'identity',
    bytes: body.length,
  };
  entry.identity = preparedVariant(
    body,
    entry.etag,
    frozenFields(describe(info, ctx.policy, entry), ctx, 'identity', entry.etag),
    ctx.policy.extraHeaders,
  );
  return entry;
}

/**
 * A cached variant with its two answers prepared: the 200 and the 304 (one frozen object each; the 304
 * with the fewer fields of `notModifiedHeaders`, `extra` being the site's own).
 */
function preparedVariant(
  body: Buffer,
  etag: string,
  fields: Readonly<ResponseHeaders>,
  extra: Readonly<ResponseHeaders>,
): CachedVariant {
  return {
    body,
    etag,
    fields,
    ok: Object.freeze({ status: 200, headers: fields, body: Object.freeze({ kind: 'bytes', data: body }) }),
    notModified: Object.freeze({
      status: 304,
      headers: Object.freeze(notModifiedHeaders(fields, extra)),
      body: null,
    }),
  };
}

/** A cached variant's fields, frozen so every transport may keep what it derives from them. */
function frozenFields(
  rep: Representation,
  ctx: ContentContext,
  coding: Coding,
  etag: string,
): ResponseHeaders {
  return Object.freeze(representationHeaders(rep, ctx, coding, etag));
}

/** The compressed form of a cached file: its sidecar if it has one, else compressed once and kept. */
export function cachedVariant(
  entry: CachedFile,
  coding: ContentCoding,
  ctx: ContentContext,
): Promise<CachedVariant | null> {
  const ready = entry.encoded.get(coding);
  if (ready !== undefined) return Promise.resolve(ready);
  let pending = entry.pending.get(coding);
  if (pending === undefined) {
    const sidecar = entry.sidecars.find((s) => s.coding === coding);
    pending = (
      sidecar !== undefined ? readFile(sidecar.path) : compressBuffer(coding, entry.identity.body)
    ).then(
      (body) => {
        const etag = withEncodingSuffix(entry.etag, coding);
        const variant = preparedVariant(
          body,
          etag,
          frozenFields(describe(entry, ctx.policy, entry), ctx, coding, etag),
          ctx.policy.extraHeaders,
        );
        entry.encoded.set(coding, variant);
        entry.pending.delete(coding);
        ctx.cache?.grow(entry, body.length);
        return variant;
      },
      (error: unknown) => {
        entry.pending.delete(coding);
        ctx.logError(error, `compressing ${entry.filePath}`);
        return null;
      },
    );
    entry.pending.set(coding, pending);
  }
  return pending;
}

/**
 * Distinct Accept-Encoding values remembered per cached file. Browsers send one fixed string per
 * release (`gzip, deflate, br, zstd`), so a handful covers real traffic; a client cycling through
 * values only ever evicts its own.
 */
export const NEGOTIATION_MEMO_ENTRIES = 16;

/**
 * The coding for a cached file, negotiated once per exact Accept-Encoding string: the next request with
 * the same string costs one map lookup instead of parsing q-values.
 */
export function cachedCoding(entry: CachedFile, acceptEncoding: string, ctx: ContentContext): Coding {
  if (!ctx.compress || !entry.compressible) return 'identity';
  // One browser sends one string: comparing with the last one costs less than hashing it for the map.
  if (acceptEncoding === entry.lastAcceptEncoding) return entry.lastCoding as Coding;
  const known = entry.negotiated.get(acceptEncoding);
  if (known !== undefined) {
    entry.lastAcceptEncoding = acceptEncoding;
    entry.lastCoding = known;
    return known as Coding;
  }
  const coding = negotiateCoding(acceptEncoding, entry.size, entry.sidecars);
  if (entry.negotiated.size >= NEGOTIATION_MEMO_ENTRIES) {
    const oldest = entry.negotiated.keys().next();
    if (!oldest.done) entry.negotiated.delete(oldest.value);
  }
  entry.negotiated.set(acceptEncoding, coding);
  return coding;
}

/**
 * The browser fast path: a GET or HEAD of a fresh cached file answered straight from its prepared
 * variants — identity or an already compressed body, chosen through `cachedCoding` — including the 304
 * for a revalidation with that variant's ETag or with the exact Last-Modified date. Returns null for
 * anything needing the general path (ranges, If-Match, If-Unmodified-Since, a tag list, a variant not
 * compressed yet), which then answers with the same fields.
 */
export function answerFromCache(
  request: HttpRequest,
  entry: CachedFile,
  ctx: ContentContext,
): ResponseDescription | null {
  const headers = request.headers;
  // The wire's lazily built record: read the few fields needed without building the others.
  const lines = fieldLinesOf(headers);
  if (
    field(headers, lines, 'range') !== undefined ||
    field(headers, lines, 'if-match') !== undefined ||
    field(headers, lines, 'if-unmodified-since') !== undefined
  ) {
    return null;
  }
  const acceptEncoding = field(headers, lines, 'accept-encoding');
  let variant: CachedVariant | undefined = entry.identity;
  if (acceptEncoding !== undefined) {
    const coding = cachedCoding(entry, acceptEncoding, ctx);
    if (coding !== 'identity') variant = entry.encoded.get(coding);
    if (variant === undefined) return null;
  }
  const ifNoneMatch = field(headers, lines, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    // RFC 9110 §13.2.2: If-None-Match decides alone; the usual browser value is exactly our tag.
    if (ifNoneMatch !== variant.etag) return null;
    return variant.notModified;
  }
  const ifModifiedSince = field(headers, lines, 'if-modified-since');
  if (ifModifiedSince !== undefined) {
    // A browser echoes our Last-Modified back: the same date means unchanged since (§13.1.3).
    if (ifModifiedSince !== entry.lastModified) return null;
    return variant.notModified;
  }
  return variant.ok;
}

/** One request field by lower-case name, from the wire's field lines when there are any. */
function field(headers: HttpRequest['headers'], lines: FieldLines | null, name: string): string | undefined {
  return lines !== null ? lines.value(name) : headers[name];
}
