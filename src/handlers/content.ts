/**
 * Serving one file's content: choosing the representation (identity, a precompressed sidecar, or
 * compressed on the fly), preconditions (RFC 9110 §13.2.2), ranges and multipart/byteranges (§14), and
 * the response headers. Go's `serveContent` split: the caller has already decided *which* file. The
 * description itself is `representation.ts`, range bodies `byte-ranges.ts`, the prepared answers of the
 * hot cache `hot-path.ts`.
 * @module
 */
import { PassThrough } from 'node:stream';
import { createCompressor, findSidecars, type Sidecar } from '../files/encodings.js';
import { OpenedFile } from '../files/opened-file.js';
import { evaluatePreconditions, isIfRangeSatisfied } from '../http/conditional.js';
import { withEncodingSuffix } from '../http/etag.js';
import { fileOpenErrorStatus } from '../wire/file-body.js';
import type { HttpRequest, ResponseDescription } from '../wire/message.js';
import { fileBody, serveRanges } from './byte-ranges.js';
import { errorResponse } from './errors.js';
import type { CachedFile } from './file-cache.js';
import { cachedCoding, cachedVariant } from './hot-path.js';
import {
  type Coding,
  type ContentContext,
  describe,
  type FileInfo,
  negotiateCoding,
  notModifiedHeaders,
  type Representation,
  representationHeaders,
} from './representation.js';

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
      if (ready !== undefined) return ready.notModified;
      return {
        status: 304,
        headers: notModifiedHeaders(representationHeaders(rep, ctx, coding, etag), ctx.policy.extraHeaders),
      };
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
