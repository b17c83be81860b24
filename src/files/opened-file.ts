/**
 * A file opened once and described from its own descriptor (`fstat`), so that the validators, the length
 * and every byte sent belong to the same file, as nginx and Go do. A file renamed over while it is served
 * (rsync, editors: write new, rename over) is still read whole from the old inode; a file truncated or
 * rewritten in place while it is read makes the body fail instead of ending, so a transport cuts the
 * response rather than present it as complete.
 * @module
 */
import type { Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** Largest read for file bodies: large reads keep big downloads near disk speed without much memory. */
export const FILE_READ_CHUNK_BYTES = 512 * 1024;
/**
 * First read of a body; each further read doubles up to FILE_READ_CHUNK_BYTES. A client that reads
 * keeps big reads; one that never reads (a stalled HTTP/2 stream) holds ~3 of these until its timeout.
 */
export const FILE_FIRST_READ_BYTES = 64 * 1024;

/** The body could not be read as it was described: the file changed while it was sent. */
export class FileChangedError extends Error {
  constructor(filePath: string, detail: string) {
    super(`${filePath} changed while it was being sent (${detail}); the response was cut`);
    this.name = 'FileChangedError';
  }
}

export class OpenedFile {
  readonly filePath: string;
  readonly stats: Stats;
  private readonly handle: FileHandle;
  /** The owner's reference plus one per body stream; the descriptor closes when the last goes. */
  private references = 1;

  private constructor(filePath: string, handle: FileHandle, stats: Stats) {
    this.filePath = filePath;
    this.handle = handle;
    this.stats = stats;
  }

  /** Opens a regular file and fstat()s the descriptor; rejects (ENOENT, EACCES…) like `open`. */
  static async open(filePath: string): Promise<OpenedFile> {
    const handle = await open(filePath, 'r');
    try {
      const stats = await handle.stat();
      if (!stats.isFile())
        throw Object.assign(new Error(`${filePath} is not a regular file`), { code: 'EISDIR' });
      return new OpenedFile(filePath, handle, stats);
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
  }

  get size(): number {
    return this.stats.size;
  }

  get mtimeMs(): number {
    return this.stats.mtimeMs;
  }

  /** Gives up the owner's reference; the descriptor stays open for the body streams still reading it. */
  release(): void {
    this.references--;
    if (this.references === 0) this.handle.close().catch(() => {});
  }

  /** All of the file, read from the descriptor (the cache's copy). Rejects if the file changed meanwhile. */
  async readAll(): Promise<Buffer> {
    const size = this.stats.size;
    const data = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await this.handle.read(data, filled, size - filled, filled);
      if (bytesRead === 0)
        throw new FileChangedError(this.filePath, `it ended after ${filled} of ${size} bytes`);
      filled += bytesRead;
    }
    await this.checkUnchanged();
    return data;
  }

  /**
   * Bytes `start`..`end` (inclusive) as a stream with backpressure. The last piece is held back until a
   * second fstat shows the file unchanged, so a body is only ever complete when it is the described one.
   */
  stream(start: number, end: number): Readable {
    this.references++;
    let position = start;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.release();
    };
    const file = this;
    let readBytes = FILE_FIRST_READ_BYTES;
    const body = new Readable({
      highWaterMark: FILE_FIRST_READ_BYTES,
      read() {
        if (position > end) {
          this.push(null);
          return;
        }
        const want = Math.min(readBytes, end - position + 1);
        readBytes = Math.min(readBytes * 2, FILE_READ_CHUNK_BYTES);
        const chunk = Buffer.allocUnsafe(want);
        file.handle
          .read(chunk, 0, want, position)
          .then(async ({ bytesRead }) => {
            if (this.destroyed) return;
            if (bytesRead === 0) {
              throw new FileChangedError(
                file.filePath,
                `it ended after ${position - start} of ${end - start + 1} bytes`,
              );
            }
            position += bytesRead;
            if (position > end) await file.checkUnchanged();
            if (this.destroyed) return;
            this.push(bytesRead === want ? chunk : chunk.subarray(0, bytesRead));
            if (position > end) this.push(null);
          })
          .catch((error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))));
      },
      destroy(error, callback) {
        release();
        callback(error);
      },
    });
    // A body that fails before a transport listens (or after it stopped) must not be an unhandled error;
    // the transport's own listener still sees every error.
    body.on('error', () => {});
    return body;
  }

  /** Size and modification time as first described; anything else means the bytes may be a mix. */
  private async checkUnchanged(): Promise<void> {
    const now = await this.handle.stat();
    if (now.size !== this.stats.size || now.mtimeMs !== this.stats.mtimeMs) {
      throw new FileChangedError(
        this.filePath,
        now.size !== this.stats.size
          ? `its size went from ${this.stats.size} to ${now.size} bytes`
          : 'it was modified',
      );
    }
  }
}
