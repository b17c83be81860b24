/**
 * Range answers (RFC 9110 §14): a 206 with one range, a multipart/byteranges body read part by part, or
 * a 416; and `fileBody`, a slice of an opened file as a body of known length.
 * @module
 */
import { PassThrough, type Readable } from 'node:stream';
import type { OpenedFile } from '../files/opened-file.js';
import {
  type ByteRange,
  contentRangeValue,
  makeBoundary,
  parseRangeHeader,
  planMultipartByteranges,
  unsatisfiedContentRange,
} from '../http/range.js';
import type { HttpRequest, ResponseDescription } from '../wire/message.js';
import { errorResponse } from './errors.js';
import type { ContentContext, Representation } from './representation.js';
import { representationHeaders } from './representation.js';

/** Bytes `start`..`end` of the opened file as a body of known length. */
export function fileBody(
  opened: OpenedFile,
  start: number,
  end: number,
): NonNullable<ResponseDescription['body']> {
  if (end < start) return { kind: 'bytes', data: Buffer.alloc(0) };
  return { kind: 'stream', stream: opened.stream(start, end), length: end - start + 1 };
}

/** A 206 or 416 for a Range header, or null to ignore it and send the whole file (RFC 9110 §14.2). */
export function serveRanges(
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
