/**
 * Serving one file's content: choosing the representation (identity, a precompressed sidecar, or
 * compressed on the fly), preconditions (RFC 9110 §13.2.2), ranges and multipart/byteranges (§14), and
 * the response headers. Go's `serveContent` split: the caller has already decided *which* file.
 * @module
 */
import { createReadStream } from 'node:fs';
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
import type { HttpRequest, ResponseDescription, ResponseHeaders } from '../wire/message.js';
import { serializeFields } from '../wire/serialize.js';
import { errorResponse } from './errors.js';
import type { CachedFile, CachedVariant, FileCache } from './file-cache.js';
import type { SitePolicy } from './policy.js';

export interface ContentContext {
  policy: SitePolicy;
  compress: boolean;
  /** `Server: …\r\n`, for prepared header blocks. */
  serverFieldLine: string;
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
}

function isHtmlType(contentType: string): boolean {
  return contentType.startsWith('text/html');
}

function describe(info: FileInfo, policy: SitePolicy, entry: CachedFile | null): Representation {
  const contentType = entry?.contentType ?? contentTypeFor(info.filePath);
  return {
    info,
    contentType,
    etag: entry?.etag ?? makeFileEtag(info.size, info.mtimeMs),
    lastModified: entry?.lastModified ?? formatHttpDate(info.mtimeMs),
    compressible: entry?.compressible ?? isCompressibleType(contentType),
    cacheControl: policy.cacheControlFor(info.urlPath, isHtmlType(contentType)),
    entry,
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

/** Reads a small file into a cache entry. Returns null when the file changed while being read. */
export async function loadCacheEntry(
  key: string,
  info: FileInfo,
  ctx: ContentContext,
): Promise<CachedFile | null> {
  const body = await readFile(info.filePath);
  if (body.length !== info.size) return null;
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
    identity: { body, etag: '', preparedHead: null, preparedNotModified: null },
    encoded: new Map(),
    pending: new Map(),
    bytes: body.length,
  };
  entry.identity.etag = entry.etag;
  const rep = describe(info, ctx.policy, entry);
  entry.identity.preparedHead = prepareHead(rep, ctx, 'identity', entry.identity);
  entry.identity.preparedNotModified = Buffer.from(
    `${ctx.serverFieldLine}${serializeFields(representationHeaders(rep, ctx, 'identity', entry.etag))}`,
    'latin1',
  );
  return entry;
}

function prepareHead(
  rep: Representation,
  ctx: ContentContext,
  coding: Coding,
  variant: CachedVariant,
): Buffer {
  const fields = serializeFields(representationHeaders(rep, ctx, coding, variant.etag));
  return Buffer.from(`${ctx.serverFieldLine}${fields}Content-Length: ${variant.body.length}\r\n`, 'latin1');
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
        const variant: CachedVariant = {
          body,
          etag: withEncodingSuffix(entry.etag, coding),
          preparedHead: null,
          preparedNotModified: null,
        };
        variant.preparedHead = prepareHead(describe(entry, ctx.policy, entry), ctx, coding, variant);
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
  const available: ContentCoding[] = [];
  for (const coding of ON_THE_FLY_CODINGS) {
    if (sidecars.some((s) => s.coding === coding) || rep.info.size >= COMPRESSION_MIN_BYTES)
      available.push(coding);
  }
  for (const sidecar of sidecars) if (!available.includes(sidecar.coding)) available.push(sidecar.coding);
  if (available.length === 0) return 'identity';
  const chosen = chooseContentEncoding(acceptEncoding, available);
  // null means even identity is refused; RFC 9110 §12.5.3 lets us send it anyway rather than a 406.
  return chosen === null || chosen === 'identity' ? 'identity' : (chosen as ContentCoding);
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
  const rep = describe(info, ctx.policy, entry);
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
      return { status: 304, headers: representationHeaders(rep, ctx, coding, etag) };
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
      if (status === 200) {
        return {
          status,
          preparedHeaderBlock: variant.preparedHead!,
          body: { kind: 'bytes', data: variant.body },
        };
      }
      return { status, headers, body: { kind: 'bytes', data: variant.body } };
    }
    return {
      status,
      headers: representationHeaders(rep, ctx, 'identity', rep.etag),
      body: { kind: 'bytes', data: entry.identity.body },
    };
  }
  if (coding === 'identity') {
    return { status, headers, body: { kind: 'file', path: info.filePath, start: 0, end: info.size - 1 } };
  }
  const sidecar = sidecars.find((s) => s.coding === coding);
  if (sidecar !== undefined) {
    return { status, headers, body: { kind: 'file', path: sidecar.path, start: 0, end: sidecar.size - 1 } };
  }
  if (request.method === 'HEAD') {
    // The compressed length is unknown without compressing; a HEAD answer may omit it (RFC 9110 §8.6).
    return { status, headers, body: { kind: 'stream', stream: new PassThrough().end() } };
  }
  const source = createReadStream(info.filePath);
  const compressor = createCompressor(coding, info.size);
  source.on('error', (error) => compressor.destroy(error));
  compressor.on('close', () => source.destroy());
  return { status, headers, body: { kind: 'stream', stream: source.pipe(compressor) } };
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
  return { kind: 'file', path: rep.info.filePath, start: range.start, end: range.end };
}

/** The parts of a multipart/byteranges body, each range read from disk in turn (never the whole file). */
function multipartStream(
  rep: Representation,
  parts: Array<{ head: Buffer; start: number; end: number }>,
  tail: Buffer,
): Readable {
  const out = new PassThrough();
  const entry = rep.entry;
  (async () => {
    for (const part of parts) {
      if (out.destroyed) return;
      if (!out.write(part.head)) await waitForDrain(out);
      if (entry !== null) {
        if (!out.write(entry.identity.body.subarray(part.start, part.end + 1))) await waitForDrain(out);
        continue;
      }
      const piece = createReadStream(rep.info.filePath, { start: part.start, end: part.end });
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
