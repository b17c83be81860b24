/**
 * Writing under the document root (`--upload`): where a write may land, and a body streamed to a
 * temporary file that is renamed over the target only once it is complete and on disk, so a reader sees
 * the old file or the new one, never half of one. Follows the read side's rules (resolve.ts): the same
 * dotfiles policy and the same symlink containment.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import {
  copyFile,
  type FileHandle,
  link,
  lstat,
  open,
  realpath,
  rename,
  stat,
  unlink,
} from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  type DecodedPath,
  hasDotSegment,
  isInside,
  isServerOwnName,
  type ResolveOptions,
  resolvePath,
  SERVER_OWN_PREFIX,
  UPLOAD_TEMP_PREFIX,
} from './resolve.js';

/** Temporary upload files start with this: hidden, never listed or served, never a valid write target. */
export { UPLOAD_TEMP_PREFIX };

/** Random bytes in a temporary name (hex): enough that concurrent uploads never pick the same one. */
const TEMP_NAME_RANDOM_BYTES = 12;
/** Mode of uploaded files before the umask: readable by all, like files copied in by hand. */
const UPLOADED_FILE_MODE = 0o644;
/** Longest file name most file systems accept (NAME_MAX, in bytes). */
export const MAX_FILE_NAME_BYTES = 255;

export function isUploadTempName(name: string): boolean {
  return name.startsWith(UPLOAD_TEMP_PREFIX);
}

/**
 * Why a write may not happen, as the file system sees it (handlers map each reason to an HTTP status):
 * `forbidden` (a rule of ours or a permission), `invalid` (a name or path no write can have),
 * `conflict` (what is there, or is missing, stands in the way), `exists` (a create-only write found a
 * file), `too-large` (over the size limit), `no-space` (the disk or quota is full), `failed` (anything else).
 */
export type WriteRefusalReason =
  | 'forbidden'
  | 'invalid'
  | 'conflict'
  | 'exists'
  | 'too-large'
  | 'no-space'
  | 'failed';

/** A write refused, with its reason and a one-line message for the client. */
export class WriteRefusal extends Error {
  constructor(
    readonly reason: WriteRefusalReason,
    message: string,
    /** The file-system error this refusal stands for, when it was not a rule of ours. */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'WriteRefusal';
  }
}

/** What is at a write target now. `other` is a device, socket or FIFO: never written. */
export type ExistingKind = 'none' | 'file' | 'directory' | 'other';

export interface WriteTarget {
  /** The real folder the target lives in (symlinks resolved, inside the root). */
  readonly parentDir: string;
  /** Where bytes go: the target itself, or the real file a symlink to inside the root points at. */
  readonly filePath: string;
  /** The directory entry itself (a symlink stays a symlink here): what DELETE removes. */
  readonly entryPath: string;
  readonly name: string;
  readonly existing: ExistingKind;
  readonly size: number;
}

/**
 * Where a write to `decoded` would land, or a refusal. The parent folder must exist (a conflict, as WebDAV's
 * RFC 4918 §9.7.1 says for PUT and §9.3.1 for MKCOL); hidden names need `dotfiles`; a symlink leading out of
 * the root is refused unless `followSymlinks`, exactly as for reads.
 */
export interface WriteOptions extends ResolveOptions {
  /**
   * The real path of a folder whose scripts run (the CGI folder): nothing in it may be written, so that an
   * upload can never become a program.
   */
  scriptDir?: string;
}

export async function resolveWriteTarget(
  decoded: Extract<DecodedPath, { kind: 'ok' }>,
  options: WriteOptions,
): Promise<WriteTarget | WriteRefusal> {
  const segments = decoded.segments;
  const name = segments[segments.length - 1];
  if (name === undefined)
    return new WriteRefusal('forbidden', 'the document root itself cannot be written or removed');
  if (segments.some(isServerOwnName)) {
    return new WriteRefusal('forbidden', `names starting with "${SERVER_OWN_PREFIX}" are the server's own`);
  }
  if (!options.dotfiles && hasDotSegment(segments)) {
    return new WriteRefusal(
      'forbidden',
      'hidden names (starting with ".") are not writable without --dotfiles',
    );
  }
  if (Buffer.byteLength(name) > MAX_FILE_NAME_BYTES) {
    return new WriteRefusal('invalid', `a file name may be at most ${MAX_FILE_NAME_BYTES} bytes long`);
  }
  const parent = await resolvePath(
    { kind: 'ok', segments: segments.slice(0, -1), trailingSlash: true },
    options,
  );
  if (parent.kind === 'error') {
    if (parent.refusal === 'not-found')
      return new WriteRefusal('conflict', 'the parent folder does not exist');
    return new WriteRefusal(parent.refusal === 'forbidden' ? 'forbidden' : 'invalid', parent.message);
  }
  if (parent.kind !== 'directory') return new WriteRefusal('conflict', 'the parent is not a folder');
  const entryPath = path.join(parent.filePath, name);
  if (!isInside(options.root, entryPath)) {
    return new WriteRefusal('invalid', 'the path leads outside the document root');
  }
  if (options.scriptDir !== undefined && touchesFolder(options.scriptDir, parent.filePath, entryPath)) {
    return new WriteRefusal(
      'forbidden',
      'the CGI folder is never written by uploads: its files run as programs',
    );
  }
  let existing: ExistingKind = 'none';
  let filePath = entryPath;
  let size = 0;
  try {
    const entry = await lstat(entryPath);
    if (entry.isSymbolicLink()) {
      try {
        filePath = await realpath(entryPath);
      } catch {
        return new WriteRefusal('conflict', 'the path is a symbolic link to nothing');
      }
      if (!isInside(options.root, filePath) && !options.followSymlinks) {
        return new WriteRefusal(
          'forbidden',
          'the path is a symbolic link to a place outside the document root',
        );
      }
    }
    const stats = entry.isSymbolicLink() ? await stat(filePath) : entry;
    existing = stats.isFile() ? 'file' : stats.isDirectory() ? 'directory' : 'other';
    size = stats.size;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return refusalFor(error);
  }
  return { parentDir: path.dirname(filePath), filePath, entryPath, name, existing, size };
}

/**
 * Whether a write to `entryPath` (in the real folder `parentDir`) would change `folder` or anything in it.
 * Compared ignoring case, so that on a case-insensitive disk `/CGI-BIN/x` is caught too.
 */
function touchesFolder(folder: string, parentDir: string, entryPath: string): boolean {
  const guarded = folder.toLowerCase();
  const parent = parentDir.toLowerCase();
  return entryPath.toLowerCase() === guarded || parent === guarded || parent.startsWith(guarded + path.sep);
}

/** The refusal a failed file-system call stands for: the disk is full, we may not write there, … */
export function refusalFor(error: unknown): WriteRefusal {
  if (error instanceof WriteRefusal) return error;
  switch ((error as NodeJS.ErrnoException).code) {
    case 'ENOSPC':
    case 'EDQUOT':
      // RFC 4918 §11.5: the server cannot store the representation.
      return new WriteRefusal('no-space', 'the disk is full; nothing was kept', error);
    case 'EACCES':
    case 'EPERM':
      return new WriteRefusal('forbidden', 'the server has no permission to write here');
    case 'EROFS':
      return new WriteRefusal('forbidden', 'the folder is on a read-only file system');
    case 'ENOENT':
    case 'ENOTDIR':
      return new WriteRefusal('conflict', 'the parent folder does not exist (any more)');
    case 'EISDIR':
      return new WriteRefusal('conflict', 'a folder of that name exists');
    case 'ENOTEMPTY':
      return new WriteRefusal('conflict', 'the folder is not empty');
    case 'EEXIST':
      return new WriteRefusal('conflict', 'something of that name already exists');
    case 'ENAMETOOLONG':
      return new WriteRefusal('invalid', 'the name is too long for the file system');
    default:
      return new WriteRefusal('failed', 'the file could not be written', error);
  }
}

export interface AtomicWriteResult {
  /** False when an existing file was replaced. */
  readonly created: boolean;
  readonly bytes: number;
}

export interface AtomicWriteOptions {
  /**
   * Never replace (`If-None-Match: *`): the complete file is linked into place with link(2), which fails
   * when the name exists, so of concurrent creators exactly one wins and the others are refused (`exists`).
   */
  createOnly?: boolean;
}

/**
 * Streams `source` into a new temporary file beside `target`, fsyncs it, and renames it over `target`
 * (rename(2) is atomic within one file system). Anything going wrong — the source erroring because the
 * client went away, more than `maxBytes`, a full disk — removes the temporary file and rejects with a
 * WriteRefusal; the target is then untouched.
 */
export async function writeFileAtomically(
  target: string,
  source: Readable,
  maxBytes: number,
  writeOptions: AtomicWriteOptions = {},
): Promise<AtomicWriteResult> {
  const tempPath = path.join(
    path.dirname(target),
    `${UPLOAD_TEMP_PREFIX}${randomBytes(TEMP_NAME_RANDOM_BYTES).toString('hex')}`,
  );
  let handle: FileHandle | null = null;
  let bytes = 0;
  try {
    handle = await open(tempPath, 'wx', UPLOADED_FILE_MODE);
    bytes = await copyInto(handle, source, 0, maxBytes);
    await handle.sync();
    await handle.close();
    handle = null;
    if (writeOptions.createOnly === true) {
      await placeWithoutReplacing(tempPath, target);
      await unlink(tempPath).catch(() => {});
      await syncDirectory(path.dirname(target));
      return { created: true, bytes };
    }
    const created = await stat(target).then(
      () => false,
      () => true,
    );
    await rename(tempPath, target);
    await syncDirectory(path.dirname(target));
    return { created, bytes };
  } catch (error) {
    // The source must not keep flowing into nothing (and a stalled client must not hold the socket).
    if (!source.destroyed) source.destroy();
    await handle?.close().catch(() => {});
    await unlink(tempPath).catch(() => {});
    throw refusalFor(error);
  }
}

/** Error codes of file systems without hard links (FAT, some network and FUSE file systems). */
const NO_HARD_LINKS: ReadonlySet<string> = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

/**
 * Puts the finished temporary file at `target` only if nothing is there: link(2) fails with EEXIST when
 * the name exists, atomically. Without hard links, an exclusive copy (O_EXCL) decides the same race.
 */
async function placeWithoutReplacing(tempPath: string, target: string): Promise<void> {
  try {
    await link(tempPath, target);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') throw existsRefusal();
    if (!NO_HARD_LINKS.has(code)) throw error;
  }
  try {
    await copyFile(tempPath, target, fsConstants.COPYFILE_EXCL);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw existsRefusal();
    throw error;
  }
}

function existsRefusal(): WriteRefusal {
  return new WriteRefusal('exists', 'If-None-Match: * was sent and the file already exists');
}

/**
 * Writes `source` into an open file from `position` on, one chunk at a time (awaiting each write is the
 * backpressure). Rejects (`too-large`) once more than `maxBytes` would have been written in total.
 */
export async function copyInto(
  handle: FileHandle,
  source: Readable,
  position: number,
  maxBytes: number,
): Promise<number> {
  let written = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    if (position + written + chunk.length > maxBytes) {
      throw new WriteRefusal(
        'too-large',
        `the file would be larger than the upload limit of ${maxBytes} bytes`,
      );
    }
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset, position + written);
      offset += bytesWritten;
      written += bytesWritten;
    }
  }
  return written;
}

/** Makes a rename durable: the new directory entry is on disk once the folder itself is fsynced. */
async function syncDirectory(dirPath: string): Promise<void> {
  let handle: FileHandle | null = null;
  try {
    handle = await open(dirPath, 'r');
    await handle.sync();
  } catch {
    // Some platforms (Windows) and file systems cannot fsync a folder; the rename itself still happened.
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** The queue of writes in progress per real file path (entries are removed when their queue empties). */
const fileQueues = new Map<string, Promise<void>>();

/** Runs `work` after every earlier piece of work for `key` has finished (succeeded or failed). */
export function oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
  const run = (fileQueues.get(key) ?? Promise.resolve()).then(work);
  const tail = run.then(
    () => {},
    () => {},
  );
  fileQueues.set(key, tail);
  void tail.then(() => {
    if (fileQueues.get(key) === tail) fileQueues.delete(key);
  });
  return run;
}
