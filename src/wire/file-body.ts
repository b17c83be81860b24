/**
 * Opening a `file` body, the same way on every transport: the file is opened *before* the response head
 * is written, so a file that vanished or became unreadable between the handler's stat and the open still
 * gets a clean error status (404, 403 or 500) instead of a head promising bytes that never come.
 * @module
 */
import { createReadStream, type ReadStream } from 'node:fs';
import type { ResponseBody } from './message.js';

/** Read size for file bodies: large reads keep big downloads near disk speed without much memory. */
export const FILE_READ_CHUNK_BYTES = 512 * 1024;
/** The smallest read buffer, so a small range does not allocate half a megabyte. */
const FILE_READ_MIN_BYTES = 16 * 1024;

/** The one line a client gets when the file could not be opened (the cause goes to the server log). */
export const FILE_OPEN_FAILED_MESSAGE = 'the file could not be opened';

export type FileBody = Extract<ResponseBody, { kind: 'file' }>;

export type OpenedFileBody =
  | { readonly kind: 'open'; readonly stream: ReadStream; readonly length: number }
  | { readonly kind: 'error'; readonly status: number; readonly error: NodeJS.ErrnoException };

/** The status for an open that failed: gone or now a folder (404), not ours to read (403), else 500. */
export function fileOpenErrorStatus(code: string | undefined): number {
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return 404;
  if (code === 'EACCES' || code === 'EPERM') return 403;
  return 500;
}

/**
 * Opens bytes `start`..`end` of the file and calls back once: with the open stream (paused until read),
 * or with the error status. Callback rather than promise: the HTTP/1.1 wire calls this per file request.
 */
export function openFileBody(body: FileBody, done: (opened: OpenedFileBody) => void): void {
  const length = body.end - body.start + 1;
  const stream = createReadStream(body.path, {
    start: body.start,
    end: body.end,
    highWaterMark: Math.min(FILE_READ_CHUNK_BYTES, Math.max(length, FILE_READ_MIN_BYTES)),
  });
  const onError = (error: NodeJS.ErrnoException) => {
    stream.off('open', onOpen);
    done({ kind: 'error', status: fileOpenErrorStatus(error.code), error });
  };
  const onOpen = () => {
    stream.off('error', onError);
    // A read error later is the consumer's to report; this keeps one error path for the stream's whole
    // life, even if the consumer has already let go of it.
    stream.on('error', () => {});
    done({ kind: 'open', stream, length });
  };
  stream.once('error', onError);
  stream.once('open', onOpen);
}
