/**
 * Serving one file's content: choosing the representation (identity, a precompressed sidecar, or
 * compressed on the fly), preconditions (RFC 9110 §13.2.2), ranges and multipart/byteranges (§14), and
 * the response headers. Go's `serveContent` split: the caller has already decided *which* file.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import {
  COMPRESSION_MIN_BYTES,
  type ContentCoding,
  compressBuffer,
  createCompressor,
  findSidecars,
  ON_THE_FLY_CODINGS,
  type Sidecar,
} from '../files/encodings.js';
import { FileChangedError, OpenedFile } from '../files/opened-file.js';
import { evaluatePreconditions, isIfRangeSatisfied } from '../http/conditional.js';
import { formatHttpDate } from '../http/date.js';
import { makeFileEtag, withEncodingSuffix } from '../http/etag.js';
import { contentTypeFor, isCompressibleType } from '../http/mime.js';
import { chooseContentEncoding } from '../http/negotiate.js';
import {
  type ByteRange,
  contentRangeValue,
  makeBoundary,
  parseRangeHeader,
  planMultipartByteranges,
  unsatisfiedContentRange,
} from '../http/range.js';
import { type FieldLines, fieldLinesOf } from '../wire/field-lines.js';
import { fileOpenErrorStatus } from '../wire/file-body.js';
import type { HttpRequest, ResponseDescription, ResponseHeaders } from '../wire/message.js';
import { errorResponse } from './errors.js';
import type { CachedFile, CachedVariant, FileCache } from './file-cache.js';
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

type Coding = ContentCoding | 'identity';

interface Representation {
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

function describe(
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
function representationHeaders(
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
    identity: preparedVariant(body, '', {}),
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
  );
  return entry;
}

/** A cached variant with its two answers prepared: the 200 and the 304 (one frozen object each). */
function preparedVariant(body: Buffer, etag: string, fields: Readonly<ResponseHeaders>): CachedVariant {
  return {
    body,
    etag,
    fields,
    ok: Object.freeze({ status: 200, headers: fields, body: Object.freeze({ kind: 'bytes', data: body }) }),
    notModified: Object.freeze({ status: 304, headers: fields, body: null }),
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
function cachedVariant(
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

function chooseCoding(
  request: HttpRequest,
  rep: Representation,
  ctx: ContentContext,
  sidecars: Sidecar[],
): Coding {
  const acceptEncoding = request.headers['accept-encoding'];
  if (acceptEncoding === undefined || !ctx.compress || !rep.compressible) return 'identity';
  // Ranges apply to the identity body only, so a range request is answered from it.
  if (request.headers.range !== undefined && request.method === 'GET') return 'identity';
  if (rep.entry !== null) return cachedCoding(rep.entry, acceptEncoding, ctx);
  return negotiateCoding(acceptEncoding, rep.info.size, sidecars);
}

/** The coding for an Accept-Encoding value among those this file can have (RFC 9110 §12.5.3). */
function negotiateCoding(acceptEncoding: string, size: number, sidecars: readonly Sidecar[]): Coding {
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
function cachedCoding(entry: CachedFile, acceptEncoding: string, ctx: ContentContext): Coding {
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

/**
 * Serves a resolved file (`entry` when it is in the hot cache). `status` is 200, or 404 when this file
 * is the custom not-found page (then no conditionals or ranges apply).
 */
export async function serveFileContent(
  request: HttpRequest,
  info: FileInfo,
  entry: CachedFile | null,
  ctx: ContentContext,
  status = 200,
): Promise<ResponseDescription> {
  if (entry !== null) return serveRepresentation(request, describe(info, ctx.policy, entry), ctx, status);
  // Open first, then describe from the descriptor and send from it: what was described is what is sent.
  let opened: OpenedFile;
  try {
    opened = await OpenedFile.open(info.filePath);
  } catch (error) {
    return openFailure(error, request, ctx, info.filePath);
  }
  try {
    const described: FileInfo = { ...info, size: opened.size, mtimeMs: opened.mtimeMs };
    return await serveRepresentation(request, describe(described, ctx.policy, null, opened), ctx, status);
  } finally {
    // Body streams hold their own references to the descriptor; unsent ones are destroyed by the transport.
    opened.release();
  }
}

/** A file resolved a moment ago that can no longer be opened: gone (404), forbidden (403), or our fault. */
function openFailure(
  error: unknown,
  request: HttpRequest,
  ctx: ContentContext,
  filePath: string,
): ResponseDescription {
  // The same mapping as every transport's for a `file` body (wire/file-body.ts), with this case's wording.
  const status = fileOpenErrorStatus((error as NodeJS.ErrnoException).code);
  if (status === 404) {
    return errorResponse(404, 'the file was removed or replaced by a folder', request.headers.accept);
  }
  if (status === 403) {
    return errorResponse(403, 'the server may not read this file', request.headers.accept);
  }
  ctx.logError(error, `opening ${filePath}`);
  return errorResponse(
    500,
    'the file could not be opened (details are in the server log)',
    request.headers.accept,
  );
}

async function serveRepresentation(
  request: HttpRequest,
  rep: Representation,
  ctx: ContentContext,
  status: number,
): Promise<ResponseDescription> {
  const info = rep.info;
  const entry = rep.entry;
  const sidecars =
    entry !== null
      ? entry.sidecars
      : ctx.compress && rep.compressible && request.headers['accept-encoding'] !== undefined
        ? await findSidecars(info.filePath, info.mtimeMs)
        : [];
  const coding = chooseCoding(request, rep, ctx, sidecars);
  if (coding !== 'identity') ctx.countCompressed?.(coding);
  const etag = coding === 'identity' ? rep.etag : withEncodingSuffix(rep.etag, coding);

  if (status === 200) {
    const outcome = evaluatePreconditions(request.method, request.headers, {
      etag,
      lastModifiedMs: info.mtimeMs,
    });
    if (outcome === 'not-modified') {
      const ready =
        entry === null ? undefined : coding === 'identity' ? entry.identity : entry.encoded.get(coding);
      return { status: 304, headers: ready?.fields ?? representationHeaders(rep, ctx, coding, etag) };
    }
    if (outcome === 'precondition-failed') {
      return errorResponse(
        412,
        'a precondition in If-Match, If-Unmodified-Since or If-None-Match does not hold for this file',
        request.headers.accept,
      );
    }
    const range = request.headers.range;
    if (range !== undefined && request.method === 'GET' && coding === 'identity') {
      const ifRange = request.headers['if-range'];
      const honour =
        ifRange === undefined ||
        isIfRangeSatisfied(ifRange, { etag: rep.etag, lastModifiedMs: info.mtimeMs }, Date.now());
      if (honour) {
        const ranged = serveRanges(range, rep, ctx, request);
        if (ranged !== null) return ranged;
      }
    }
  }

  const headers = representationHeaders(rep, ctx, coding, etag);
  if (entry !== null) {
    const variant = coding === 'identity' ? entry.identity : await cachedVariant(entry, coding, ctx);
    if (variant !== null) {
      return {
        status,
        headers: status === 200 ? variant.fields : headers,
        body: { kind: 'bytes', data: variant.body },
      };
    }
    return {
      status,
      headers: representationHeaders(rep, ctx, 'identity', rep.etag),
      body: { kind: 'bytes', data: entry.identity.body },
    };
  }
  const opened = rep.opened!;
  if (coding === 'identity') return { status, headers, body: fileBody(opened, 0, info.size - 1) };
  const sidecar = sidecars.find((s) => s.coding === coding);
  if (sidecar !== undefined) {
    const body = await sidecarBody(sidecar, ctx);
    if (body !== null) return { status, headers, body };
  }
  if (request.method === 'HEAD') {
    // The compressed length is unknown without compressing; a HEAD answer may omit it (RFC 9110 §8.6).
    return { status, headers, body: { kind: 'stream', stream: new PassThrough().end() } };
  }
  const source = opened.stream(0, info.size - 1);
  const compressor = createCompressor(coding, info.size);
  source.on('error', (error) => compressor.destroy(error));
  compressor.on('close', () => source.destroy());
  return { status, headers, body: { kind: 'stream', stream: source.pipe(compressor) } };
}

/** Bytes `start`..`end` of the opened file as a body of known length. */
function fileBody(opened: OpenedFile, start: number, end: number): NonNullable<ResponseDescription['body']> {
  if (end < start) return { kind: 'bytes', data: Buffer.alloc(0) };
  return { kind: 'stream', stream: opened.stream(start, end), length: end - start + 1 };
}

/** A precompressed sidecar, opened and described from its own descriptor; null if it cannot be opened. */
async function sidecarBody(sidecar: Sidecar, ctx: ContentContext): Promise<ResponseDescription['body']> {
  let opened: OpenedFile;
  try {
    opened = await OpenedFile.open(sidecar.path);
  } catch (error) {
    ctx.logError(error, `opening ${sidecar.path}`);
    return null;
  }
  try {
    return fileBody(opened, 0, opened.size - 1);
  } finally {
    opened.release();
  }
}

/** A 206 or 416 for a Range header, or null to ignore it and send the whole file (RFC 9110 §14.2). */
function serveRanges(
  rangeHeader: string,
  rep: Representation,
  ctx: ContentContext,
  request: HttpRequest,
): ResponseDescription | null {
  const size = rep.info.size;
  const parsed = parseRangeHeader(rangeHeader, size);
  if (parsed.kind === 'ignore') return null;
  const headers = representationHeaders(rep, ctx, 'identity', rep.etag);
  if (parsed.kind === 'unsatisfiable') {
    const error = errorResponse(
      416,
      `the range "${rangeHeader.slice(0, 100)}" does not overlap the file's ${size} bytes`,
      request.headers.accept,
      { 'Content-Range': unsatisfiedContentRange(size) },
    );
    return error;
  }
  const ranges = parsed.ranges;
  if (ranges.length === 1) {
    const range = ranges[0]!;
    headers['Content-Range'] = contentRangeValue(range, size);
    return { status: 206, headers, body: rangeBody(rep, range) };
  }
  const plan = planMultipartByteranges(ranges, size, rep.contentType, makeBoundary());
  headers['Content-Type'] = plan.contentType;
  return {
    status: 206,
    headers,
    body: { kind: 'stream', stream: multipartStream(rep, plan.parts, plan.tail), length: plan.length },
  };
}

function rangeBody(rep: Representation, range: ByteRange): NonNullable<ResponseDescription['body']> {
  const entry = rep.entry;
  if (entry !== null)
    return { kind: 'bytes', data: entry.identity.body.subarray(range.start, range.end + 1) };
  return fileBody(rep.opened!, range.start, range.end);
}

/** The parts of a multipart/byteranges body, each range read from disk in turn (never the whole file). */
function multipartStream(
  rep: Representation,
  parts: Array<{ head: Buffer; start: number; end: number }>,
  tail: Buffer,
): Readable {
  const out = new PassThrough();
  const entry = rep.entry;
  // Every part's reader is made now, so each holds the descriptor until it is read or the body is dropped.
  const pieces = entry === null ? parts.map((part) => rep.opened!.stream(part.start, part.end)) : [];
  out.on('close', () => {
    for (const piece of pieces) piece.destroy();
  });
  (async () => {
    for (const [index, part] of parts.entries()) {
      if (out.destroyed) return;
      if (!out.write(part.head)) await waitForDrain(out);
      if (entry !== null) {
        if (!out.write(entry.identity.body.subarray(part.start, part.end + 1))) await waitForDrain(out);
        continue;
      }
      const piece = pieces[index]!;
      for await (const chunk of piece) {
        if (out.destroyed) {
          piece.destroy();
          return;
        }
        if (!out.write(chunk)) await waitForDrain(out);
      }
    }
    out.end(tail);
  })().catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
  return out;
}

function waitForDrain(stream: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
