/**
 * What a directory listing is made of, shared by the reader (`listing.ts`), the ordering
 * (`listing-order.ts`), the renderers (`listing-html.ts`, `listing-plain.ts`), search results and the
 * handlers: the formats and sort keys, the options, the query string that picks them, the record kept per
 * entry, and how sizes and times are written.
 * @module
 */

export type ListingFormat = 'html' | 'text' | 'json';
export type ListingSortKey = 'name' | 'size' | 'time';
export type ListingOrder = 'asc' | 'desc';

export interface ListingOptions {
  /** Absolute filesystem path of the directory. */
  dirPath: string;
  /** The decoded URL path of the directory, ending in '/', e.g. '/images/' or '/'. Any characters allowed. */
  urlPath: string;
  format: ListingFormat;
  /** Default 'name'. */
  sort?: ListingSortKey;
  /** Default 'asc'. */
  order?: ListingOrder;
  /** Default false: names starting with '.' are left out. */
  showDotfiles?: boolean;
  /** E.g. 'docroot/0.1.0', shown in the HTML footer. */
  serverSoftware?: string;
  /**
   * Write controls (HTML only): the upload panel (a multipart POST form without script), New folder and
   * per-entry Delete. The server must accept uploads, and the request may write here.
   */
  uploadForm?: boolean;
  /** With `uploadForm`: per-entry Rename/Move (the server answers WebDAV `MOVE`). */
  moves?: boolean;
  /**
   * Offer this folder's `?download=zip` and `?download=tar.gz`, and the selection checkboxes with
   * `?download=selection` (HTML only; the server must make them).
   */
  archiveLinks?: boolean;
  /** The search box (HTML only; the server must answer `?q=`). @default true */
  searchForm?: boolean;
  /** Count the entries of subfolders for the size column (HTML only; bounded). @default true */
  folderCounts?: boolean;
  /**
   * The README section shown below the table (HTML only): given the name of the README among the
   * folder's files (`markdown.ts` `pickReadme`), the markup to place there, or '' for none.
   */
  readme?: (name: string) => Promise<string>;
}

/** What a listing query string asked for; keys it did not mention (or gave unknown values for) are absent. */
export interface ListingQuery {
  format?: ListingFormat;
  sort?: ListingSortKey;
  order?: ListingOrder;
}

export const LISTING_CONTENT_TYPES: Readonly<Record<ListingFormat, string>> = {
  html: 'text/html; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

export const LISTING_FORMATS: readonly ListingFormat[] = ['html', 'text', 'json'];
export const LISTING_SORT_KEYS: readonly ListingSortKey[] = ['name', 'size', 'time'];
export const LISTING_ORDERS: readonly ListingOrder[] = ['asc', 'desc'];

/**
 * Reads `format`, `sort` and `order` from a query string (with or without the leading `?`). Values are
 * matched case-insensitively; unknown keys and values are ignored; when a key repeats, the last known value
 * wins.
 */
export function parseListingQuery(query: string): ListingQuery {
  const result: ListingQuery = {};
  const params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  for (const [key, rawValue] of params) {
    const value = rawValue.trim().toLowerCase();
    if (key === 'format') {
      const format = LISTING_FORMATS.find((candidate) => candidate === value);
      if (format !== undefined) result.format = format;
    } else if (key === 'sort') {
      const sort = LISTING_SORT_KEYS.find((candidate) => candidate === value);
      if (sort !== undefined) result.sort = sort;
    } else if (key === 'order') {
      const order = LISTING_ORDERS.find((candidate) => candidate === value);
      if (order !== undefined) result.order = order;
    }
  }
  return result;
}

/** The little a listing keeps per entry between reading the folder and rendering it. */
export interface ListingEntry {
  readonly name: string;
  /** `name` lower-cased once, so sorting does not redo it on every comparison. */
  readonly foldedName: string;
  /** From the directory entry when it says; otherwise (symlinks, unknown types) decided by a stat. */
  isDirectory: boolean;
  /** True once `size` and `mtimeMs` hold real values. */
  statted: boolean;
  /** Set when the entry could not be stat-ed at all (it vanished, or is unreadable): it is left out. */
  gone: boolean;
  size: number;
  mtimeMs: number;
  /** Whether the kind still has to come from a stat. */
  readonly kindUnknown: boolean;
  /** A folder's entry count when the HTML listing counted it (`folder-count.ts`). */
  itemCount?: number | null;
}

/** One output format: the document's opening, one piece per entry in order, and its closing. */
export interface ListingRenderer {
  head(): string;
  row(entry: ListingEntry): string;
  /** `belowTable`: markup placed after the entries (the HTML README section); other formats ignore it. */
  tail(belowTable?: string): string;
}

/** Byte units above plain bytes, each 1024 times the one before. */
const SIZE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;
const BYTES_PER_UNIT_STEP = 1024;

/** Bytes in B below 1 KiB, otherwise in the largest binary unit that keeps the number under 1024. */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < BYTES_PER_UNIT_STEP) return `${bytes} B`;
  let value = bytes;
  let unitIndex = -1;
  // Step up while the value, as it will be shown (one decimal), would read 1024 or more.
  while (unitIndex < SIZE_UNITS.length - 1 && Number(value.toFixed(1)) >= BYTES_PER_UNIT_STEP) {
    value /= BYTES_PER_UNIT_STEP;
    unitIndex++;
  }
  return `${value.toFixed(1)} ${SIZE_UNITS[unitIndex]}`;
}

/** ISO 8601 UTC with milliseconds, or null when the time is unknown or out of Date's range. */
export function isoTime(epochMs: number): string | null {
  if (!Number.isFinite(epochMs)) return null;
  const date = new Date(epochMs);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** `2026-11-25 01:16` (UTC, to the minute), or '' when unknown. */
export function formatModifiedTime(epochMs: number): string {
  const iso = isoTime(epochMs);
  return iso === null ? '' : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}
