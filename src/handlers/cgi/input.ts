/**
 * The request body a script reads on stdin: streamed when its length is known, spooled (memory, then a
 * private temporary file) when it is chunked, bounded by `maxBodyBytes` (`--cgi-max-body`).
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import { cgiErrorResponse, describeError } from './failure.js';
import { CGI_BODY_MEMORY_BYTES, CGI_DEFAULT_MAX_BODY_BYTES, type CgiOptions } from './options.js';

/** What the script reads on stdin. */
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
async function spoolChunkedBody(body: Readable, limit: number, spoolDir: string): Promise<BufferedBody> {
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

/** The body ready for the script, with its CONTENT_LENGTH (null: the request has no body); or the refusal. */
export type PreparedInput =
  | { readonly kind: 'ready'; readonly input: ScriptInput; readonly contentLength: number | null }
  | { readonly kind: 'refused'; readonly response: ResponseDescription };

/**
 * Gets a request's body ready for a script: a Content-Length body is streamed as it comes (refused at once
 * when over `maxBodyBytes`), a chunked one is spooled first so its length is known. Refusals close the
 * connection, since the body is left unread.
 */
export async function prepareScriptInput(
  request: HttpRequest,
  options: Pick<CgiOptions, 'maxBodyBytes' | 'spoolDir' | 'logError'>,
  context: string,
): Promise<PreparedInput> {
  const limit = options.maxBodyBytes ?? CGI_DEFAULT_MAX_BODY_BYTES;
  const refuse = (status: number, message: string): PreparedInput => ({
    kind: 'refused',
    response: { ...cgiErrorResponse(status, message), close: true },
  });
  const tooLarge = () => refuse(413, `a request body for a CGI script may be at most ${limit} bytes`);
  if (request.body === null) {
    // "Content-Length: 0" is a body, an empty one (RFC 3875 §4.1.2); the wire passes no stream for it.
    const empty =
      request.headers['content-length'] !== undefined &&
      request.method !== 'GET' &&
      request.method !== 'HEAD';
    return { kind: 'ready', input: { kind: 'none' }, contentLength: empty ? 0 : null };
  }
  if (request.contentLength !== null) {
    // Refused before a byte is read (and before 100 Continue is sent).
    if (request.contentLength > limit) return tooLarge();
    return {
      kind: 'ready',
      input: { kind: 'stream', stream: request.body },
      contentLength: request.contentLength,
    };
  }
  // The length of a chunked body is unknown until its end; CGI wants it up front (RFC 3875 §4.1.2).
  const buffered = await spoolChunkedBody(request.body, limit, options.spoolDir ?? tmpdir());
  switch (buffered.kind) {
    case 'ok':
      return { kind: 'ready', input: buffered.input, contentLength: buffered.length };
    case 'too-large':
      return tooLarge();
    case 'failed':
      return refuse(400, 'the request body could not be read');
    case 'spool-failed': {
      options.logError(
        `the chunked request body could not be spooled: ${describeError(buffered.error)}`,
        context,
      );
      // RFC 4918 §11.5: 507 when there is no room to keep what the request needs.
      const full = (buffered.error as NodeJS.ErrnoException).code === 'ENOSPC';
      return refuse(full ? 507 : 500, 'the request body could not be stored for the script');
    }
  }
}

/** Removes a spooled body's private folder, once the script is done with it (or could not start). */
export function discardScriptInput(input: ScriptInput): void {
  if (input.kind === 'file') rm(input.directory, { recursive: true, force: true }).catch(() => {});
}
