/**
 * Write access (`--upload`): PUT, PATCH (resumable pieces), DELETE, MKCOL and multipart POST from the
 * listing's upload form. Loaded on the first write request only. Every write obeys the read side's path
 * rules (files/write.ts), and whole-file writes go through a temporary file renamed into place.
 *
 * Resumable uploads (PATCH) are written in place: a piece that is cut off keeps the bytes that arrived,
 * so the client asks `HEAD` for the size and sends the rest from there.
 * @module
 */
import { mkdir, open, rmdir, unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { DEFAULT_UPLOAD_METHODS } from '../defaults.js';
import type { DecodedPath } from '../files/resolve.js';
import {
  copyInto,
  oneAtATime,
  resolveWriteTarget,
  type WriteOptions,
  WriteRefusal,
  type WriteTarget,
  writeFileAtomically,
} from '../files/write.js';
import { sameOriginPath } from '../http/location.js';
import { chooseMediaType } from '../http/negotiate.js';
import type { HttpRequest, ResponseDescription } from '../wire/message.js';
import { errorResponse } from './errors.js';
import { HttpRefusal, httpRefusalOf } from './refusals.js';
import { saveFormFiles } from './upload-form.js';

export { sanitizeFileName } from './upload-form.js';

export interface UploadOptions extends WriteOptions {
  /** Largest file (and largest request body) accepted; 413 beyond. */
  maxBytes: number;
  /** Told about failures that are the server's, not the client's (the 500s and 507s of unexpected errors). */
  logError?: (error: unknown, context: string) => void;
}

/** The methods `--upload` turns on, in the order Allow lists them. */
export const UPLOAD_METHODS: readonly string[] = DEFAULT_UPLOAD_METHODS;

/** The header a resumable append sends (the SabreDAV "PATCH partial update" convention). */
const UPDATE_RANGE_APPEND = 'append';

type Decoded = Extract<DecodedPath, { kind: 'ok' }>;

export function createUploadHandler(options: UploadOptions) {
  const fail = (request: HttpRequest, refusal: HttpRefusal, extra?: Record<string, string>) =>
    errorResponse(refusal.status, refusal.message, request.headers.accept, extra);

  return async function handleWrite(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    try {
      switch (request.method) {
        case 'PUT':
          return await put(request, decoded);
        case 'PATCH':
          return await patch(request, decoded);
        case 'DELETE':
          return await remove(decoded);
        case 'MKCOL':
          return await makeCollection(request, decoded);
        case 'POST':
          return await postForm(request, decoded);
        default:
          throw new HttpRefusal(405, `${request.method} is not a write method`);
      }
    } catch (error) {
      const refusal = httpRefusalOf(error);
      // A refusal we chose, or a body the client broke off, is the client's story; an unexpected error
      // that ends in a 5xx is the server's and goes to its log (the client only gets a generic line).
      if (refusal.status >= 500 && refusal.cause !== undefined && !request.body?.errored) {
        options.logError?.(refusal.cause, `${request.method} ${request.path}`);
      }
      // The body is left alone: a client waiting for 100 Continue then never sends it (the wire only sends
      // 100 when the body is first read). An unread body would have to be skipped before the next request;
      // closing is cheaper and surer.
      const response = fail(request, refusal);
      if (request.body !== null && !request.body.readableEnded) response.close = true;
      return response;
    }
  };

  async function target(decoded: Decoded): Promise<WriteTarget> {
    const resolved = await resolveWriteTarget(decoded, options);
    if (resolved instanceof WriteRefusal) throw resolved;
    return resolved;
  }

  function checkDeclaredLength(request: HttpRequest, offset = 0): void {
    if (request.contentLength !== null && offset + request.contentLength > options.maxBytes) {
      throw new HttpRefusal(
        413,
        `the file would be larger than the upload limit of ${options.maxBytes} bytes`,
      );
    }
  }

  /** RFC 9110 §9.3.4: create or replace the whole file; 201 when it is new, 204 when it was replaced. */
  async function put(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    if (decoded.trailingSlash) throw new HttpRefusal(405, 'PUT needs a file path; use MKCOL for folders');
    checkDeclaredLength(request);
    const where = await target(decoded);
    if (where.existing === 'directory') throw new HttpRefusal(409, 'a folder of that name exists');
    if (where.existing === 'other') throw new HttpRefusal(409, 'only regular files can be replaced');
    // RFC 9110 §13.1.2: "If-None-Match: *" asks to create only, never to replace.
    const createOnly = request.headers['if-none-match']?.trim() === '*';
    if (createOnly && where.existing !== 'none') {
      throw new HttpRefusal(412, 'If-None-Match: * was sent and the file already exists');
    }
    const result = await writeFileAtomically(where.filePath, bodyOf(request), options.maxBytes, {
      createOnly: createOnly,
    });
    return written(result.created, request.path);
  }

  /**
   * Resumable upload pieces: `X-Update-Range: append` adds the body at the end; `Content-Range: bytes
   * a-b/total` (total may be `*`) writes at offset a, which must not be past the current end (416). When
   * the piece ends at total, the file is cut to total: the upload is complete.
   */
  async function patch(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    const where = await target(decoded);
    if (where.existing === 'none') {
      throw new HttpRefusal(404, 'PATCH adds to an existing file; create it with PUT first');
    }
    if (where.existing !== 'file') throw new HttpRefusal(409, 'only regular files can be patched');
    const updateRange = request.headers['x-update-range']?.trim().toLowerCase();
    const contentRange = request.headers['content-range'];
    let offset: number;
    let total: number | null = null;
    if (updateRange === UPDATE_RANGE_APPEND) {
      offset = where.size;
    } else if (contentRange !== undefined) {
      const range = parseContentRange(contentRange);
      if (range === null) {
        throw new HttpRefusal(400, 'Content-Range must be "bytes first-last/total" or "bytes first-last/*"');
      }
      if (range.first > where.size) {
        const refusal = new HttpRefusal(
          416,
          `the piece starts at ${range.first} but the file has only ${where.size} bytes`,
        );
        return fail(request, refusal, { 'Content-Range': `bytes */${where.size}` });
      }
      const pieceLength = range.last - range.first + 1;
      if (request.contentLength !== null && request.contentLength !== pieceLength) {
        throw new HttpRefusal(
          400,
          `Content-Range names ${pieceLength} bytes but the body has ${request.contentLength}`,
        );
      }
      offset = range.first;
      total = range.total;
    } else {
      throw new HttpRefusal(400, 'PATCH needs "X-Update-Range: append" or "Content-Range: bytes a-b/total"');
    }
    checkDeclaredLength(request, offset);
    if (total !== null && total > options.maxBytes) {
      throw new HttpRefusal(
        413,
        `the file would be larger than the upload limit of ${options.maxBytes} bytes`,
      );
    }
    const append = updateRange === UPDATE_RANGE_APPEND;
    // One piece at a time per file: an append starts where the previous piece ended, so concurrent
    // appends each keep all their bytes (and O_APPEND keeps them whole even across --workers processes).
    return oneAtATime(where.filePath, async () => {
      const handle = await open(where.filePath, append ? 'a' : 'r+');
      try {
        const size = (await handle.stat()).size;
        const start = append ? size : offset;
        if (start > size) {
          const refusal = new HttpRefusal(
            416,
            `the piece starts at ${start} but the file has only ${size} bytes`,
          );
          return fail(request, refusal, { 'Content-Range': `bytes */${size}` });
        }
        checkDeclaredLength(request, start);
        const bytes = await copyInto(handle, bodyOf(request), start, options.maxBytes);
        if (total !== null && start + bytes === total) await handle.truncate(total);
        await handle.sync();
        const after = (await handle.stat()).size;
        return { status: 204, headers: { 'X-Upload-Size': String(after) } };
      } finally {
        await handle.close().catch(() => {});
      }
    });
  }

  /** RFC 9110 §9.3.5: a file, or an empty folder (there is no recursive delete). */
  async function remove(decoded: Decoded): Promise<ResponseDescription> {
    const where = await target(decoded);
    if (where.existing === 'none') throw new HttpRefusal(404, 'no file or folder of that name');
    if (where.existing === 'directory' && where.entryPath === where.filePath) await rmdir(where.entryPath);
    else await unlink(where.entryPath);
    return { status: 204 };
  }

  /** RFC 4918 §9.3: make one folder. */
  async function makeCollection(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    // §9.3: a body MKCOL does not understand is 415.
    if (request.body !== null && (request.contentLength ?? 1) > 0) {
      throw new HttpRefusal(415, 'MKCOL takes no request body here');
    }
    const where = await target(decoded);
    if (where.existing !== 'none') throw new HttpRefusal(405, 'something of that name already exists');
    await mkdir(where.entryPath);
    return written(true, decoded.trailingSlash ? request.path : `${request.path}/`);
  }

  /**
   * The listing's upload form: multipart/form-data (RFC 7578) POSTed to a folder. Parsed by `busboy`, a
   * small, long-maintained streaming parser (boundary scanning across chunks, no buffering of whole
   * bodies); writing our own would add risk for no gain. Each file part goes through the same
   * temporary-file-and-rename path as PUT. Answers 303 See Other back to the folder (RFC 9110 §15.4.4) so
   * the form works without script, or JSON for the page's script.
   */
  async function postForm(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    const contentType = request.headers['content-type'] ?? '';
    if (!/^multipart\/form-data\s*;/i.test(contentType)) {
      throw new HttpRefusal(415, 'uploads are POSTed as multipart/form-data to a folder');
    }
    if (!decoded.trailingSlash && decoded.segments.length > 0) {
      throw new HttpRefusal(405, 'POST uploads go to a folder URL ending in "/"');
    }
    await checkFolder(decoded);
    if (request.body === null) throw new HttpRefusal(400, 'the form has no body');
    const saved = await saveFormFiles(request.body, contentType, decoded, options, target);
    const location = sameOriginPath(request.path);
    const wantsJson =
      chooseMediaType(request.headers.accept, ['text/html', 'application/json']) === 'application/json';
    if (wantsJson) {
      return {
        status: 200,
        headers: { 'Content-Type': 'application/json; charset=utf-8' },
        body: { kind: 'bytes', data: `${JSON.stringify({ saved })}\n` },
      };
    }
    return {
      status: 303,
      headers: { Location: location, 'Content-Type': 'text/plain; charset=utf-8' },
      body: { kind: 'bytes', data: `303 See Other: saved ${saved.length} file(s); back to ${location}\n` },
    };
  }

  async function checkFolder(decoded: Decoded): Promise<void> {
    if (decoded.segments.length === 0) return;
    const where = await target(decoded);
    if (where.existing !== 'directory') throw new HttpRefusal(404, 'no folder of that name');
  }
}

/** The request body, or an empty stream for a bodiless PUT (an empty file). */
function bodyOf(request: HttpRequest): Readable {
  return request.body ?? Readable.from([]);
}

function written(created: boolean, requestPath: string): ResponseDescription {
  if (!created) return { status: 204 };
  const location = sameOriginPath(requestPath);
  return {
    status: 201,
    headers: { Location: location, 'Content-Type': 'text/plain; charset=utf-8' },
    body: { kind: 'bytes', data: `201 Created: ${location}\n` },
  };
}

/** `bytes first-last/total` or `bytes first-last/*` (RFC 9110 §14.4), or null. */
export function parseContentRange(
  value: string,
): { first: number; last: number; total: number | null } | null {
  const match = /^\s*bytes\s+(\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)\s*$/i.exec(value);
  if (match === null) return null;
  const first = Number(match[1]);
  const last = Number(match[2]);
  const total = match[3] === '*' ? null : Number(match[3]);
  if (last < first || (total !== null && last >= total)) return null;
  return { first, last, total };
}
