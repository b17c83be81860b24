/**
 * A streaming ZIP writer (PKWARE APPNOTE 6.3.x). Written here rather than taken from a package because
 * the part docroot needs is small — sequential entries, stored or deflated, data descriptors, ZIP64 —
 * and owning it keeps the install free of dependencies and cold start untouched (it loads only when an
 * archive is asked for).
 *
 * Every entry's CRC-32 and compressed size are only known once its bytes have gone out, so each local
 * header has general-purpose flag bit 3 set and zeros in those fields, and a data descriptor follows the
 * data (APPNOTE §4.3.9). The central directory at the end repeats the real values; readers such as
 * Info-ZIP `unzip` and every desktop tool read that. Memory stays flat: one file is read at a time through
 * zlib with backpressure, and only a small record per entry (name, sizes, offset) is kept for the central
 * directory.
 * @module
 */
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { pipeline, Readable, Transform } from 'node:stream';
import { crc32, createDeflateRaw } from 'node:zlib';
import {
  type ArchiveEntry,
  type ArchiveFormatLimits,
  type ArchiveWriterOptions,
  DEFAULT_FORMAT_LIMITS,
  openArchiveEntry,
  UINT16_MAX,
  UINT32_MAX,
} from './entry.js';

export type { ArchiveEntry, ArchiveFormatLimits, ArchiveWriterOptions } from './entry.js';

const LOCAL_FILE_HEADER_SIGNATURE = 0x04034b50;
const DATA_DESCRIPTOR_SIGNATURE = 0x08074b50;
const CENTRAL_DIRECTORY_SIGNATURE = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06064b50;
const ZIP64_END_LOCATOR_SIGNATURE = 0x07064b50;

/** APPNOTE §4.4.4: bit 3, sizes and CRC in the data descriptor; bit 11, names are UTF-8. */
const FLAG_DATA_DESCRIPTOR = 1 << 3;
const FLAG_UTF8 = 1 << 11;

const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;

/** APPNOTE §4.4.3: 2.0 for deflate and folders, 4.5 for ZIP64. */
const VERSION_DEFLATE = 20;
const VERSION_ZIP64 = 45;
/** Upper byte 3: the external attributes hold Unix mode bits (APPNOTE §4.4.2). */
const VERSION_MADE_BY_UNIX = (3 << 8) | VERSION_ZIP64;

const ZIP64_EXTRA_ID = 0x0001;
/** "UT" extended timestamp (Info-ZIP): the modification time in UTC, which DOS fields cannot say. */
const EXTENDED_TIMESTAMP_EXTRA_ID = 0x5455;

/** MS-DOS dates start in 1980 (APPNOTE §4.4.6). */
const DOS_EPOCH_YEAR = 1980;
const DOS_MAX_YEAR = 2107;

/** Faster than the default: archives are made while the client waits. */
const DEFLATE_LEVEL = 6;
/** Large reads: per-chunk overhead (stream hops, chunk framing) dominates at 64 KiB. */
const FILE_READ_CHUNK_BYTES = 1024 * 1024;

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const MSDOS_DIRECTORY_ATTRIBUTE = 0x10;

interface CentralRecord {
  name: Buffer;
  isDirectory: boolean;
  method: number;
  dosTime: number;
  dosDate: number;
  unixSeconds: number;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  offset: number;
  mode: number;
  zip64: boolean;
}

/** A ZIP archive of `entries`, produced as its consumer reads. */
export function createZipStream(
  entries: AsyncIterable<ArchiveEntry>,
  options: ArchiveWriterOptions = {},
): Readable {
  return Readable.from(generateZip(entries, options), { objectMode: false });
}

async function* generateZip(
  entries: AsyncIterable<ArchiveEntry>,
  options: ArchiveWriterOptions,
): AsyncGenerator<Buffer, void, undefined> {
  const limits = { ...DEFAULT_FORMAT_LIMITS, ...options.formatLimits };
  const records: CentralRecord[] = [];
  let offset = 0;
  for await (const entry of entries) {
    const opened = await openArchiveEntry(entry, options);
    if (opened === null) continue;
    let handle = opened.handle;
    const { dosTime, dosDate } = toDosDateTime(entry.mtime);
    const name = Buffer.from(entry.isDirectory ? `${entry.name}/` : entry.name, 'utf8');
    const method =
      entry.isDirectory || entry.size === 0 || options.isCompressedAlready?.(entry.name) === true
        ? METHOD_STORED
        : METHOD_DEFLATED;
    const record: CentralRecord = {
      name,
      isDirectory: entry.isDirectory,
      method,
      dosTime,
      dosDate,
      unixSeconds: Math.floor(entry.mtime.getTime() / 1000),
      crc: 0,
      compressedSize: 0,
      uncompressedSize: 0,
      offset,
      mode: entry.mode & 0o7777,
      zip64: entry.size >= limits.zip64EntryFromStart,
    };
    try {
      const header = localFileHeader(record);
      yield header;
      offset += header.length;
      if (handle !== null && entry.size > 0) {
        const file = handle;
        // From here the read stream owns the handle and closes it, however the stream ends.
        handle = null;
        const written = yield* deflateOrStore(file, entry.size, method, record);
        offset += written;
      }
      const descriptor = dataDescriptor(record);
      yield descriptor;
      offset += descriptor.length;
    } finally {
      await handle?.close();
    }
    records.push(record);
  }
  const centralStart = offset;
  for (const record of records) {
    const header = centralDirectoryHeader(record, limits);
    yield header;
    offset += header.length;
  }
  yield endOfCentralDirectory(records.length, centralStart, offset - centralStart, limits);
}

/** Yields the entry's data, stored or deflated, and records its CRC and sizes; returns the bytes yielded. */
async function* deflateOrStore(
  file: FileHandle,
  size: number,
  method: number,
  record: CentralRecord,
): AsyncGenerator<Buffer, number, undefined> {
  const counted = { crc: 0, bytes: 0 };
  const source = createReadStream('', {
    fd: file,
    start: 0,
    // Never more than the walk saw, so a file growing meanwhile cannot outgrow its ZIP64 decision.
    end: size - 1,
    highWaterMark: FILE_READ_CHUNK_BYTES,
  });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      counted.crc = crc32(chunk, counted.crc);
      counted.bytes += chunk.length;
      callback(null, chunk);
    },
  });
  // pipeline destroys every stage when one fails or when the iteration below is abandoned.
  const output =
    method === METHOD_DEFLATED
      ? pipeline(source, counter, createDeflateRaw({ level: DEFLATE_LEVEL }), ignoreCompletion)
      : pipeline(source, counter, ignoreCompletion);
  let written = 0;
  for await (const chunk of output as AsyncIterable<Buffer>) {
    written += chunk.length;
    yield chunk;
  }
  record.crc = counted.crc >>> 0;
  record.uncompressedSize = counted.bytes;
  record.compressedSize = written;
  return written;
}

/** Errors reach the consumer through the iteration of pipeline's last stream. */
function ignoreCompletion(): void {}

function localFileHeader(record: CentralRecord): Buffer {
  const extras = [extendedTimestampExtra(record.unixSeconds)];
  // With ZIP64 the local sizes are 0xFFFFFFFF and the real (here zero, filled in by the descriptor)
  // values sit in the ZIP64 extra; its presence tells readers the descriptor has 8-byte sizes (§4.3.9.2).
  if (record.zip64) extras.push(zip64Extra([0, 0]));
  const extra = Buffer.concat(extras);
  const header = Buffer.alloc(30);
  header.writeUInt32LE(LOCAL_FILE_HEADER_SIGNATURE, 0);
  header.writeUInt16LE(record.zip64 ? VERSION_ZIP64 : VERSION_DEFLATE, 4);
  header.writeUInt16LE(FLAG_DATA_DESCRIPTOR | FLAG_UTF8, 6);
  header.writeUInt16LE(record.method, 8);
  header.writeUInt16LE(record.dosTime, 10);
  header.writeUInt16LE(record.dosDate, 12);
  header.writeUInt32LE(0, 14);
  header.writeUInt32LE(record.zip64 ? UINT32_MAX : 0, 18);
  header.writeUInt32LE(record.zip64 ? UINT32_MAX : 0, 22);
  header.writeUInt16LE(record.name.length, 26);
  header.writeUInt16LE(extra.length, 28);
  return Buffer.concat([header, record.name, extra]);
}

function dataDescriptor(record: CentralRecord): Buffer {
  if (record.zip64) {
    const descriptor = Buffer.alloc(24);
    descriptor.writeUInt32LE(DATA_DESCRIPTOR_SIGNATURE, 0);
    descriptor.writeUInt32LE(record.crc, 4);
    descriptor.writeBigUInt64LE(BigInt(record.compressedSize), 8);
    descriptor.writeBigUInt64LE(BigInt(record.uncompressedSize), 16);
    return descriptor;
  }
  const descriptor = Buffer.alloc(16);
  descriptor.writeUInt32LE(DATA_DESCRIPTOR_SIGNATURE, 0);
  descriptor.writeUInt32LE(record.crc, 4);
  descriptor.writeUInt32LE(record.compressedSize, 8);
  descriptor.writeUInt32LE(record.uncompressedSize, 12);
  return descriptor;
}

function centralDirectoryHeader(record: CentralRecord, limits: ArchiveFormatLimits): Buffer {
  // APPNOTE §4.5.3: only the fields that overflow go in the ZIP64 extra, in this order.
  const overflow: number[] = [];
  const sizesOverflow =
    record.zip64 ||
    record.uncompressedSize >= limits.zipFieldMax ||
    record.compressedSize >= limits.zipFieldMax;
  if (sizesOverflow) overflow.push(record.uncompressedSize, record.compressedSize);
  const offsetOverflows = record.offset >= limits.zipFieldMax;
  if (offsetOverflows) overflow.push(record.offset);
  const extras = [extendedTimestampExtra(record.unixSeconds)];
  if (overflow.length > 0) extras.push(zip64Extra(overflow));
  const extra = Buffer.concat(extras);
  const needsZip64 = overflow.length > 0;
  const header = Buffer.alloc(46);
  header.writeUInt32LE(CENTRAL_DIRECTORY_SIGNATURE, 0);
  header.writeUInt16LE(VERSION_MADE_BY_UNIX, 4);
  header.writeUInt16LE(needsZip64 || record.zip64 ? VERSION_ZIP64 : VERSION_DEFLATE, 6);
  header.writeUInt16LE(FLAG_DATA_DESCRIPTOR | FLAG_UTF8, 8);
  header.writeUInt16LE(record.method, 10);
  header.writeUInt16LE(record.dosTime, 12);
  header.writeUInt16LE(record.dosDate, 14);
  header.writeUInt32LE(record.crc, 16);
  header.writeUInt32LE(sizesOverflow ? UINT32_MAX : record.compressedSize, 20);
  header.writeUInt32LE(sizesOverflow ? UINT32_MAX : record.uncompressedSize, 24);
  header.writeUInt16LE(record.name.length, 28);
  header.writeUInt16LE(extra.length, 30);
  header.writeUInt16LE(0, 32); // comment length
  header.writeUInt16LE(0, 34); // disk number
  header.writeUInt16LE(0, 36); // internal attributes
  const unixMode = (record.isDirectory ? S_IFDIR : S_IFREG) | record.mode;
  const external = ((unixMode << 16) >>> 0) | (record.isDirectory ? MSDOS_DIRECTORY_ATTRIBUTE : 0);
  header.writeUInt32LE(external >>> 0, 38);
  header.writeUInt32LE(offsetOverflows ? UINT32_MAX : record.offset, 42);
  return Buffer.concat([header, record.name, extra]);
}

function endOfCentralDirectory(
  count: number,
  centralStart: number,
  centralSize: number,
  limits: ArchiveFormatLimits,
): Buffer {
  const countOverflows = count >= limits.zipEntryCountMax;
  const startOverflows = centralStart >= limits.zipFieldMax;
  const sizeOverflows = centralSize >= limits.zipFieldMax;
  const needsZip64 = countOverflows || startOverflows || sizeOverflows;
  const parts: Buffer[] = [];
  if (needsZip64) {
    // APPNOTE §4.3.14 and §4.3.15: the ZIP64 end record, then the locator pointing back at it.
    const zip64End = Buffer.alloc(56);
    zip64End.writeUInt32LE(ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE, 0);
    zip64End.writeBigUInt64LE(44n, 4); // size of the rest of this record
    zip64End.writeUInt16LE(VERSION_MADE_BY_UNIX, 12);
    zip64End.writeUInt16LE(VERSION_ZIP64, 14);
    zip64End.writeUInt32LE(0, 16);
    zip64End.writeUInt32LE(0, 20);
    zip64End.writeBigUInt64LE(BigInt(count), 24);
    zip64End.writeBigUInt64LE(BigInt(count), 32);
    zip64End.writeBigUInt64LE(BigInt(centralSize), 40);
    zip64End.writeBigUInt64LE(BigInt(centralStart), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(ZIP64_END_LOCATOR_SIGNATURE, 0);
    locator.writeUInt32LE(0, 4);
    locator.writeBigUInt64LE(BigInt(centralStart + centralSize), 8);
    locator.writeUInt32LE(1, 16);
    parts.push(zip64End, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY_SIGNATURE, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  // An overflowing field holds all ones: readers then take the value from the ZIP64 end record.
  end.writeUInt16LE(countOverflows ? UINT16_MAX : count, 8);
  end.writeUInt16LE(countOverflows ? UINT16_MAX : count, 10);
  end.writeUInt32LE(sizeOverflows ? UINT32_MAX : centralSize, 12);
  end.writeUInt32LE(startOverflows ? UINT32_MAX : centralStart, 16);
  end.writeUInt16LE(0, 20);
  parts.push(end);
  return Buffer.concat(parts);
}

function zip64Extra(values: readonly number[]): Buffer {
  const extra = Buffer.alloc(4 + 8 * values.length);
  extra.writeUInt16LE(ZIP64_EXTRA_ID, 0);
  extra.writeUInt16LE(8 * values.length, 2);
  values.forEach((value, index) => {
    extra.writeBigUInt64LE(BigInt(value), 4 + 8 * index);
  });
  return extra;
}

function extendedTimestampExtra(unixSeconds: number): Buffer {
  const extra = Buffer.alloc(9);
  extra.writeUInt16LE(EXTENDED_TIMESTAMP_EXTRA_ID, 0);
  extra.writeUInt16LE(5, 2);
  extra.writeUInt8(1, 4); // flags: modification time present
  extra.writeUInt32LE(Math.max(0, Math.min(unixSeconds, UINT32_MAX)) >>> 0, 5);
  return extra;
}

/** MS-DOS date and time fields (local time, two-second resolution), clamped to the range they can hold. */
export function toDosDateTime(date: Date): { dosTime: number; dosDate: number } {
  const year = date.getFullYear();
  if (Number.isNaN(year) || year < DOS_EPOCH_YEAR) return { dosTime: 0, dosDate: (1 << 5) | 1 };
  if (year > DOS_MAX_YEAR) {
    return {
      dosTime: (23 << 11) | (59 << 5) | 29,
      dosDate: ((DOS_MAX_YEAR - DOS_EPOCH_YEAR) << 9) | (12 << 5) | 31,
    };
  }
  return {
    dosTime: (date.getHours() << 11) | (date.getMinutes() << 5) | Math.floor(date.getSeconds() / 2),
    dosDate: ((year - DOS_EPOCH_YEAR) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}
