/**
 * The request body a script reads on stdin: streamed when its length is known, spooled (memory, then a
 * private temporary file) when it is chunked, bounded by `maxBodyBytes` (`--cgi-max-body`).
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import { mkdtemp, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { CGI_BODY_MEMORY_BYTES } from './options.js';

export type ScriptInput =
  | { readonly kind: 'none' }
  | { readonly kind: 'stream'; readonly stream: Readable }
  | { readonly kind: 'memory'; readonly data: Buffer }
  | { readonly kind: 'file'; readonly directory: string; readonly file: string };

type BufferedBody =
  | { readonly kind: 'ok'; readonly input: ScriptInput; readonly length: number }
  | { readonly kind: 'too-large' }
  /** The client's body stream failed (it left, or sent a broken chunk). */
  | { readonly kind: 'failed' }
  /** The temporary file could not be written (a full disk, a missing spool folder). */
  | { readonly kind: 'spool-failed'; readonly error: unknown };

/**
 * Reads a whole chunked body: small ones into memory, larger ones into a private temporary file (mode 0600
 * in a fresh 0700 folder under `spoolDir`). Over `limit`, or on any failure, the folder is removed and
 * nothing is kept.
 */
export async function spoolChunkedBody(
  body: Readable,
  limit: number,
  spoolDir: string,
): Promise<BufferedBody> {
  const chunks: Buffer[] = [];
  let total = 0;
  let directory: string | null = null;
  let handle: FileHandle | null = null;
  const file = () => path.join(directory!, 'body');
  const removeSpill = async () => {
    await handle?.close().catch(() => {});
    handle = null;
    if (directory !== null) await rm(directory, { recursive: true, force: true }).catch(() => {});
  };
  /** Appends to the temporary file, creating it when the body outgrows memory. */
  const spill = async (data: Buffer) => {
    if (handle === null) {
      directory = await mkdtemp(path.join(spoolDir, 'docroot-cgi-'));
      handle = await open(file(), 'wx', 0o600);
      for (const earlier of chunks.splice(0)) await handle.write(earlier);
    }
    await handle.write(data);
  };
  // destroyOnReturn: false leaves an oversized body unread instead of destroying the wire's stream.
  const pieces = body.iterator({ destroyOnReturn: false });
  for (;;) {
    let next: IteratorResult<unknown>;
    try {
      next = await pieces.next();
    } catch {
      await removeSpill();
      return { kind: 'failed' };
    }
    if (next.done === true) break;
    const data = next.value as Buffer;
    total += data.length;
    if (total > limit) {
      await pieces.return?.();
      await removeSpill();
      return { kind: 'too-large' };
    }
    if (handle === null && total <= CGI_BODY_MEMORY_BYTES) {
      chunks.push(data);
      continue;
    }
    try {
      await spill(data);
    } catch (error) {
      await pieces.return?.();
      await removeSpill();
      return { kind: 'spool-failed', error };
    }
  }
  if (handle === null) {
    return { kind: 'ok', input: { kind: 'memory', data: Buffer.concat(chunks) }, length: total };
  }
  try {
    await (handle as FileHandle).close();
  } catch (error) {
    handle = null;
    await removeSpill();
    return { kind: 'spool-failed', error };
  }
  return { kind: 'ok', input: { kind: 'file', directory: directory!, file: file() }, length: total };
}
