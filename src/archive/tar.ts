/**
 * A streaming tar writer (POSIX.1-2001 ustar, with pax extended headers where ustar cannot say it),
 * gzip-compressed by zlib. Written here, like the ZIP writer, because the needed part is small and
 * dependency-free code loads only when an archive is asked for.
 *
 * Each member is a 512-byte header, the file's bytes, and zeros up to the next 512-byte boundary; the
 * archive ends with two zero blocks. Unlike ZIP, tar needs the size before the data, so the size seen by
 * the walk is the size written: a file that shrinks meanwhile is padded with zeros, one that grows is cut.
 * Both copying and padding go in pieces of at most FILE_READ_CHUNK_BYTES, so memory stays fixed whatever
 * the file does meanwhile (a file cut from gigabytes to nothing is padded a megabyte at a time).
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import {
  type ArchiveEntry,
  type ArchiveWriterOptions,
  DEFAULT_FORMAT_LIMITS,
  openArchiveEntry,
  USTAR_MAX_SIZE,
} from './entry.js';

const BLOCK_BYTES = 512;
const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK_BYTES);
/** Large reads: per-chunk overhead (stream hops, chunk framing) dominates at 64 KiB. */
const FILE_READ_CHUNK_BYTES = 1024 * 1024;
/** Zeros for padding a file that shrank, handed out in slices (never written to). */
const ZERO_PIECE = Buffer.alloc(FILE_READ_CHUNK_BYTES);

/** ustar field widths (POSIX.1-2001 "pax" format, ustar header block). */
const NAME_BYTES = 100;
const PREFIX_BYTES = 155;

const TYPE_FILE = '0';
const TYPE_DIRECTORY = '5';
const TYPE_PAX_HEADER = 'x';

/** A .tar.gz of `entries`, produced as its consumer reads. */
export function createTarGzStream(
  entries: AsyncIterable<ArchiveEntry>,
  options: ArchiveWriterOptions = {},
): Readable {
  const gzip = createGzip();
  return pipeline(Readable.from(generateTar(entries, options), { objectMode: false }), gzip, () => {});
}

async function* generateTar(
  entries: AsyncIterable<ArchiveEntry>,
  options: ArchiveWriterOptions,
): AsyncGenerator<Buffer, void, undefined> {
  const ustarSizeMax = options.formatLimits?.ustarSizeMax ?? DEFAULT_FORMAT_LIMITS.ustarSizeMax;
  for await (const entry of entries) {
    const opened = await openArchiveEntry(entry, options);
    if (opened === null) continue;
    const handle = opened.handle;
    try {
      yield* memberHeader(entry, ustarSizeMax);
      if (handle !== null && entry.size > 0) {
        yield* fileData(handle, entry.size);
        const remainder = entry.size % BLOCK_BYTES;
        if (remainder !== 0) yield Buffer.alloc(BLOCK_BYTES - remainder);
      }
    } finally {
      await handle?.close();
    }
  }
  yield END_OF_ARCHIVE;
}

/** Exactly `size` bytes of the file: cut when it grew, zero-filled when it shrank. */
async function* fileData(handle: FileHandle, size: number): AsyncGenerator<Buffer, void, undefined> {
  let position = 0;
  while (position < size) {
    const length = Math.min(FILE_READ_CHUNK_BYTES, size - position);
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    if (bytesRead === 0) {
      yield* zeros(size - position);
      return;
    }
    position += bytesRead;
    yield bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
  }
}

/** `count` zero bytes, a piece at a time. */
export function* zeros(count: number): Generator<Buffer, void, undefined> {
  for (let left = count; left > 0; left -= ZERO_PIECE.length) {
    yield ZERO_PIECE.subarray(0, Math.min(left, ZERO_PIECE.length));
  }
}

function* memberHeader(entry: ArchiveEntry, ustarSizeMax: number): Generator<Buffer, void, undefined> {
  const name = entry.isDirectory ? `${entry.name}/` : entry.name;
  const size = entry.isDirectory ? 0 : entry.size;
  const split = splitUstarName(name);
  const pax: Array<[string, string]> = [];
  if (split === null) pax.push(['path', name]);
  if (size > ustarSizeMax) pax.push(['size', String(size)]);
  const mtimeSeconds = Math.max(0, Math.floor(entry.mtime.getTime() / 1000));
  if (pax.length > 0) {
    const records = Buffer.from(pax.map(([key, value]) => paxRecord(key, value)).join(''), 'utf8');
    yield ustarHeader({
      name: asciiFallback(`PaxHeaders/${name}`).slice(-NAME_BYTES),
      prefix: '',
      mode: 0o644,
      size: records.length,
      mtimeSeconds,
      type: TYPE_PAX_HEADER,
    });
    yield records;
    const remainder = records.length % BLOCK_BYTES;
    if (remainder !== 0) yield Buffer.alloc(BLOCK_BYTES - remainder);
  }
  yield ustarHeader({
    name: split?.name ?? asciiFallback(name).slice(-NAME_BYTES),
    prefix: split?.prefix ?? '',
    mode: entry.mode & 0o7777,
    size: size > ustarSizeMax ? 0 : size,
    mtimeSeconds,
    type: entry.isDirectory ? TYPE_DIRECTORY : TYPE_FILE,
  });
}

/**
 * A pax record is `"<length> <key>=<value>\n"` where the decimal length counts the whole record,
 * itself included (POSIX.1-2001 pax, "extended header"), so the length is found by iterating.
 */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body, 'utf8');
  let length = bodyBytes + String(bodyBytes).length;
  if (String(length).length + bodyBytes !== length) length = bodyBytes + String(length).length;
  return `${length}${body}`;
}

/** name/prefix split for ustar, or null when the name needs a pax `path` record (non-ASCII or too long). */
function splitUstarName(name: string): { name: string; prefix: string } | null {
  if (!/^[\x20-\x7e]*$/.test(name)) return null;
  if (name.length <= NAME_BYTES) return { name, prefix: '' };
  // Split at a '/' so that prefix fits 155 bytes and the rest 100 (the directory's own '/' may end name).
  for (let slash = name.indexOf('/'); slash !== -1; slash = name.indexOf('/', slash + 1)) {
    const prefix = name.slice(0, slash);
    const rest = name.slice(slash + 1);
    if (prefix.length <= PREFIX_BYTES && rest.length <= NAME_BYTES && rest.length > 0) {
      return { name: rest, prefix };
    }
  }
  return null;
}

function asciiFallback(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, '_');
}

interface UstarFields {
  name: string;
  prefix: string;
  mode: number;
  size: number;
  mtimeSeconds: number;
  type: string;
}

function ustarHeader(fields: UstarFields): Buffer {
  const header = Buffer.alloc(BLOCK_BYTES);
  header.write(fields.name, 0, NAME_BYTES, 'latin1');
  writeOctal(header, fields.mode, 100, 8);
  writeOctal(header, 0, 108, 8); // uid
  writeOctal(header, 0, 116, 8); // gid
  writeOctal(header, fields.size, 124, 12);
  writeOctal(header, Math.min(fields.mtimeSeconds, USTAR_MAX_SIZE), 136, 12);
  header.fill(0x20, 148, 156); // checksum counts itself as spaces
  header.write(fields.type, 156, 1, 'latin1');
  header.write('ustar\u000000', 257, 8, 'latin1');
  header.write(fields.prefix, 345, PREFIX_BYTES, 'latin1');
  let checksum = 0;
  for (const byte of header) checksum += byte;
  // Six octal digits, NUL, space: the historical layout every tar reads.
  header.write(`${checksum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return header;
}

/** Zero-padded octal digits and a terminating NUL in a field of `width` bytes. */
function writeOctal(header: Buffer, value: number, offset: number, width: number): void {
  header.write(
    `${Math.floor(value)
      .toString(8)
      .padStart(width - 1, '0')}\u0000`,
    offset,
    width,
    'latin1',
  );
}
