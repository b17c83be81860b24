/**
 * What the zip and tar writers share: the entries they are given, their options, the limits of the
 * formats' fixed-width fields, and opening an entry's file.
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';

/** One thing to put in the archive. */
export interface ArchiveEntry {
  /** Path inside the archive, '/'-separated, without a leading or trailing slash. */
  name: string;
  /** Where to read a file's bytes; unused for folders. */
  absolutePath: string;
  isDirectory: boolean;
  /** Size at the time of the walk: the bytes archived are at most this many. */
  size: number;
  mtime: Date;
  /** Unix permission bits. */
  mode: number;
}

export interface ArchiveWriterOptions {
  /** Store (not deflate) entries whose name says they are already compressed. */
  isCompressedAlready?: (name: string) => boolean;
  /** A file that cannot be opened is left out; this is told why. */
  onSkip?: (entry: ArchiveEntry, error: unknown) => void;
  /** Where fixed-width fields overflow; only tests change these (to reach ZIP64 and pax with small data). */
  formatLimits?: Partial<ArchiveFormatLimits>;
}

/**
 * The values at which an archive format's fixed-width fields no longer suffice and the writer switches to
 * its extension (ZIP64, a pax record). The defaults are the fields' own limits.
 */
export interface ArchiveFormatLimits {
  /** ZIP sizes and offsets at or above this go in ZIP64 fields (APPNOTE §4.5.3). */
  zipFieldMax: number;
  /** ZIP entry counts at or above this need the ZIP64 end records (APPNOTE §4.3.14). */
  zipEntryCountMax: number;
  /** A ZIP entry of at least this many bytes gets ZIP64 fields in its local header. */
  zip64EntryFromStart: number;
  /** tar sizes above this go in a pax `size` record (ustar's 11 octal digits). */
  ustarSizeMax: number;
}

/**
 * Opens a file entry for reading: `{ handle: null }` for a folder, null when the file cannot be opened
 * (the entry is then left out and `onSkip` is told why). Shared by the zip and tar writers.
 */
export async function openArchiveEntry(
  entry: ArchiveEntry,
  options: ArchiveWriterOptions,
): Promise<{ handle: FileHandle | null } | null> {
  if (entry.isDirectory) return { handle: null };
  try {
    return { handle: await open(entry.absolutePath, 'r') };
  } catch (error) {
    options.onSkip?.(entry, error);
    return null;
  }
}

export const UINT16_MAX = 0xffff;
export const UINT32_MAX = 0xffffffff;
/**
 * A file at least this large gets ZIP64 fields from the start: the local header is written before the
 * deflated size is known, and deflate can grow incompressible data slightly, so leave a margin.
 */
const ZIP64_ENTRY_THRESHOLD = UINT32_MAX - 64 * 1024 * 1024;
/** 11 octal digits: sizes up to 8 GiB - 1 fit the ustar field; larger ones go in a pax `size` record. */
export const USTAR_MAX_SIZE = 0o77777777777;

export const DEFAULT_FORMAT_LIMITS: ArchiveFormatLimits = {
  zipFieldMax: UINT32_MAX,
  zipEntryCountMax: UINT16_MAX,
  zip64EntryFromStart: ZIP64_ENTRY_THRESHOLD,
  ustarSizeMax: USTAR_MAX_SIZE,
};
