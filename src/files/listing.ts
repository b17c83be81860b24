/**
 * Directory listings in HTML, plain text and JSON, produced as a byte stream.
 *
 * A listing is built in four steps so that a folder of 100,000 entries never blocks the event loop and
 * never sits in memory as one document:
 *
 * 1. Read the names with `opendir` (asynchronously, a few hundred at a time), dropping dotfiles unless
 *    asked for. Only a compact record per entry is kept, never the `Dirent`s or `Stats` objects.
 * 2. Stat what the order depends on, in bounded batches: for a name sort only the entries whose kind the
 *    directory entry cannot tell (symlinks, file systems that report no type); for a size or time sort
 *    every entry.
 * 3. Sort: folders first, then files, each by the chosen key (in runs, merged lazily while rendering).
 * 4. Render batch by batch (stat-ing whatever step 2 left out), handing each batch to the stream only when
 *    the consumer asks for more, and yielding to the event loop between batches.
 *
 * Every directory read happens before the first byte is produced, so a failure to read the folder
 * destroys the stream with the error before any partial document exists.
 *
 * Name order is locale-independent and stable: names are compared lower-cased (`String#toLowerCase`,
 * which uses the Unicode default case mapping, not the host locale), and names equal under that are
 * compared by Unicode code point. So `a.txt` < `B.txt` < `b.txt` < `c.txt`, and `Z` < `é` < `日`.
 * Size and time ties (and folders in a size sort, whose size means nothing) fall back to that name order.
 * @module
 */
import type { Dirent } from 'node:fs';
import { lstatSync, type Stats, statSync } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { isServerOwnName } from './resolve.js';

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
  /** Add a form that POSTs files to this folder (HTML only; the server must accept uploads). */
  uploadForm?: boolean;
  /** Link this folder's `?download=zip` and `?download=tar.gz` (HTML only; the server must make them). */
  archiveLinks?: boolean;
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

/** Entries stat-ed concurrently and rendered per stream chunk: enough to keep the disk busy, small enough
 * that one batch of HTML (at most a few hundred KB even with the longest names) stays a modest chunk. */
export const LISTING_BATCH_SIZE = 256;

/** Directory entries `opendir` fetches per underlying read; larger than the default 32 to cut round trips. */
const DIRECTORY_READ_BUFFER_ENTRIES = 256;

/**
 * Entries sorted in one synchronous step. Sorting 100,000 names at once holds the event loop for tens of
 * milliseconds, so the list is sorted in runs of this length with a yield between them, and the runs are
 * merged lazily, one output batch at a time.
 */
const SORT_RUN_LENGTH = 4096;

/** How much rendered output the stream buffers ahead of a slow consumer before it stops pulling batches. */
const STREAM_HIGH_WATER_MARK_BYTES = 64 * 1024;

/** Byte units above plain bytes, each 1024 times the one before. */
const SIZE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;
const BYTES_PER_UNIT_STEP = 1024;

/** Shown in the HTML size column for folders, whose stat size says nothing about their contents. */
const FOLDER_SIZE_PLACEHOLDER = '\u2014';

const LISTING_FORMATS: readonly ListingFormat[] = ['html', 'text', 'json'];
const LISTING_SORT_KEYS: readonly ListingSortKey[] = ['name', 'size', 'time'];
const LISTING_ORDERS: readonly ListingOrder[] = ['asc', 'desc'];

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

/**
 * Streams the listing of `options.dirPath` as a complete document in `options.format`. The stream pulls the
 * next batch only when its consumer reads, so a slow client holds back the work instead of buffering the
 * whole listing. Errors reading the directory destroy the stream with that error.
 */
export function renderListing(options: ListingOptions): Readable {
  return Readable.from(generateListing(options), {
    objectMode: false,
    highWaterMark: STREAM_HIGH_WATER_MARK_BYTES,
  });
}

/** The little a listing keeps per entry between reading the folder and rendering it. */
interface ListingEntry {
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
}

async function* generateListing(options: ListingOptions): AsyncGenerator<Buffer, void, undefined> {
  const sortKey = options.sort ?? 'name';
  const order = options.order ?? 'asc';

  let entries = await readEntries(options.dirPath, options.showDotfiles ?? false);

  // Stat up front only what the order depends on; the rest is stat-ed batch by batch while rendering.
  const needingStat = sortKey === 'name' ? entries.filter((entry) => entry.kindUnknown) : entries;
  await statInBatches(options.dirPath, needingStat);
  if (needingStat.length > 0) entries = entries.filter((entry) => !entry.gone);

  const compare = entryComparator(sortKey, order);
  const sorted = new SortedRunMerger(await sortInRuns(entries, compare), compare);
  entries = [];

  const renderer = createRenderer(options, sortKey, order);
  yield Buffer.from(renderer.head(), 'utf8');
  for (
    let batch = sorted.take(LISTING_BATCH_SIZE);
    batch.length > 0;
    batch = sorted.take(LISTING_BATCH_SIZE)
  ) {
    await statInBatches(
      options.dirPath,
      batch.filter((entry) => !entry.statted),
    );
    let chunk = '';
    for (const entry of batch) {
      if (!entry.gone) chunk += renderer.row(entry);
    }
    if (chunk.length > 0) yield Buffer.from(chunk, 'utf8');
    // Let other connections run between batches even when every stat was already done.
    await yieldToEventLoop();
  }
  yield Buffer.from(renderer.tail(), 'utf8');
}

async function readEntries(dirPath: string, showDotfiles: boolean): Promise<ListingEntry[]> {
  const entries: ListingEntry[] = [];
  const directory = await opendir(dirPath, { bufferSize: DIRECTORY_READ_BUFFER_ENTRIES });
  // Iterating with for-await closes the handle when the loop ends or throws.
  for await (const dirent of directory) {
    if (!showDotfiles && dirent.name.startsWith('.')) continue;
    // Uploads in progress and WebDAV sidecars are nobody's business, even with --dotfiles.
    if (isServerOwnName(dirent.name)) continue;
    entries.push(newEntry(dirent));
  }
  return entries;
}

function newEntry(dirent: Dirent): ListingEntry {
  // A symlink's kind is its target's; some file systems report no kind at all (neither file nor folder).
  const kindUnknown = dirent.isSymbolicLink() || isUntyped(dirent);
  return {
    name: dirent.name,
    foldedName: dirent.name.toLowerCase(),
    isDirectory: dirent.isDirectory(),
    statted: false,
    gone: false,
    size: 0,
    mtimeMs: Number.NaN,
    kindUnknown,
  };
}

/** True when the directory entry carries no type at all (DT_UNKNOWN), as on some network file systems. */
function isUntyped(dirent: Dirent): boolean {
  return (
    !dirent.isFile() &&
    !dirent.isDirectory() &&
    !dirent.isSymbolicLink() &&
    !dirent.isBlockDevice() &&
    !dirent.isCharacterDevice() &&
    !dirent.isFIFO() &&
    !dirent.isSocket()
  );
}

/**
 * Stats `entries` (mutating them) LISTING_BATCH_SIZE at a time, yielding to the event loop between
 * batches. Within a batch the stats are synchronous: a local stat() takes a couple of microseconds, while
 * a promise-based one costs a thread-pool round trip each, which made a 10,000-entry listing several times
 * slower. A batch blocks the loop for well under a millisecond on a local disk.
 */
async function statInBatches(dirPath: string, entries: readonly ListingEntry[]): Promise<void> {
  for (let start = 0; start < entries.length; start += LISTING_BATCH_SIZE) {
    if (start > 0) await yieldToEventLoop();
    const end = Math.min(entries.length, start + LISTING_BATCH_SIZE);
    for (let i = start; i < end; i++) statEntry(dirPath, entries[i]!);
  }
}

function statEntry(dirPath: string, entry: ListingEntry): void {
  const fullPath = join(dirPath, entry.name);
  let stats: Stats | undefined;
  try {
    stats = statSync(fullPath, { throwIfNoEntry: false });
    // A broken symlink (or one we may not follow) is still listed, described by the link itself.
    stats ??= lstatSync(fullPath, { throwIfNoEntry: false });
  } catch {
    stats = undefined;
  }
  if (stats === undefined) {
    // Vanished since the folder was read, or cannot be looked at: nothing true can be said about it.
    entry.gone = true;
    return;
  }
  entry.isDirectory = stats.isDirectory();
  entry.size = stats.size;
  entry.mtimeMs = stats.mtimeMs;
  entry.statted = true;
}

type EntryComparator = (left: ListingEntry, right: ListingEntry) => number;

/** Splits `entries` into sorted runs of SORT_RUN_LENGTH, yielding to the event loop between runs. */
async function sortInRuns(
  entries: readonly ListingEntry[],
  compare: EntryComparator,
): Promise<ListingEntry[][]> {
  const runs: ListingEntry[][] = [];
  for (let start = 0; start < entries.length; start += SORT_RUN_LENGTH) {
    if (start > 0) await yieldToEventLoop();
    runs.push(entries.slice(start, start + SORT_RUN_LENGTH).sort(compare));
  }
  return runs;
}

/**
 * Hands out the entries of several sorted runs in overall order, a few at a time. A binary min-heap of run
 * indices, keyed by each run's next entry, keeps every pick at O(log runs) comparisons. Ties between runs
 * cannot happen (names in one folder are distinct and every comparator ends on the name).
 */
class SortedRunMerger {
  /** Index of the next unconsumed entry in each run. */
  private readonly positions: number[];
  /** Run indices ordered as a heap by their next entry; exhausted runs are removed. */
  private readonly heap: number[];

  constructor(
    private readonly runs: readonly (readonly ListingEntry[])[],
    private readonly compare: EntryComparator,
  ) {
    this.positions = runs.map(() => 0);
    this.heap = [];
    runs.forEach((run, runIndex) => {
      if (run.length > 0) this.push(runIndex);
    });
  }

  /** The next `count` entries in order (fewer at the end, none when all are taken). */
  take(count: number): ListingEntry[] {
    const taken: ListingEntry[] = [];
    while (taken.length < count && this.heap.length > 0) {
      const runIndex = this.heap[0]!;
      const run = this.runs[runIndex]!;
      const position = this.positions[runIndex]!;
      taken.push(run[position]!);
      this.positions[runIndex] = position + 1;
      if (position + 1 < run.length) {
        this.siftDown(0);
      } else {
        const last = this.heap.pop()!;
        if (this.heap.length > 0) {
          this.heap[0] = last;
          this.siftDown(0);
        }
      }
    }
    return taken;
  }

  private head(runIndex: number): ListingEntry {
    return this.runs[runIndex]![this.positions[runIndex]!]!;
  }

  private less(heapIndexA: number, heapIndexB: number): boolean {
    return this.compare(this.head(this.heap[heapIndexA]!), this.head(this.heap[heapIndexB]!)) < 0;
  }

  private swap(heapIndexA: number, heapIndexB: number): void {
    const runA = this.heap[heapIndexA]!;
    this.heap[heapIndexA] = this.heap[heapIndexB]!;
    this.heap[heapIndexB] = runA;
  }

  private push(runIndex: number): void {
    this.heap.push(runIndex);
    let child = this.heap.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.less(child, parent)) break;
      this.swap(child, parent);
      child = parent;
    }
  }

  private siftDown(start: number): void {
    let parent = start;
    for (;;) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < this.heap.length && this.less(left, smallest)) smallest = left;
      if (right < this.heap.length && this.less(right, smallest)) smallest = right;
      if (smallest === parent) return;
      this.swap(parent, smallest);
      parent = smallest;
    }
  }
}

/**
 * Orders UTF-16 strings by Unicode code point. Plain `<` compares code units, which puts astral characters
 * (surrogate pairs, U+D800–U+DFFF) before U+E000–U+FFFF; ranking surrogates above that range fixes it.
 */
export function compareByCodePoint(left: string, right: string): number {
  const sharedLength = Math.min(left.length, right.length);
  for (let index = 0; index < sharedLength; index++) {
    const leftUnit = left.charCodeAt(index);
    const rightUnit = right.charCodeAt(index);
    if (leftUnit !== rightUnit) return codeUnitRank(leftUnit) - codeUnitRank(rightUnit);
  }
  return left.length - right.length;
}

function codeUnitRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

/** The listing's name order: case-insensitive first, then by code point so the order is total. */
export function compareListingNames(left: string, right: string): number {
  return compareByCodePoint(left.toLowerCase(), right.toLowerCase()) || compareByCodePoint(left, right);
}

function compareEntryNames(left: ListingEntry, right: ListingEntry): number {
  return compareByCodePoint(left.foldedName, right.foldedName) || compareByCodePoint(left.name, right.name);
}

function entryComparator(sortKey: ListingSortKey, order: ListingOrder): EntryComparator {
  const direction = order === 'asc' ? 1 : -1;
  return (left, right) => {
    // Folders come first whatever the order.
    if (left.isDirectory !== right.isDirectory) return left.isDirectory ? -1 : 1;
    let byKey = 0;
    if (sortKey === 'name') {
      return direction * compareEntryNames(left, right);
    }
    if (sortKey === 'size') {
      byKey = left.isDirectory ? 0 : left.size - right.size;
    } else {
      byKey = timeForSorting(left) - timeForSorting(right);
    }
    return direction * byKey || compareEntryNames(left, right);
  };
}

/** Unknown times sort as the oldest, so NaN never reaches the comparator's arithmetic. */
function timeForSorting(entry: ListingEntry): number {
  return Number.isFinite(entry.mtimeMs) ? entry.mtimeMs : Number.NEGATIVE_INFINITY;
}

interface ListingRenderer {
  head(): string;
  row(entry: ListingEntry): string;
  tail(): string;
}

function createRenderer(
  options: ListingOptions,
  sortKey: ListingSortKey,
  order: ListingOrder,
): ListingRenderer {
  switch (options.format) {
    case 'html':
      return new HtmlRenderer(options, sortKey, order);
    case 'text':
      return textRenderer;
    case 'json':
      return new JsonRenderer();
  }
}

/** One name per line, folders with a trailing '/'. Names are written as they are. */
const textRenderer: ListingRenderer = {
  head: () => '',
  row: (entry) => `${entry.name}${entry.isDirectory ? '/' : ''}\n`,
  tail: () => '',
};

/** A JSON array written element by element; valid JSON only as a whole. */
class JsonRenderer implements ListingRenderer {
  private rowsWritten = 0;

  head(): string {
    return '[';
  }

  row(entry: ListingEntry): string {
    const separator = this.rowsWritten === 0 ? '\n' : ',\n';
    this.rowsWritten++;
    const record = {
      name: entry.name,
      type: entry.isDirectory ? 'directory' : 'file',
      // A folder's stat size describes the directory file, not its contents, so it is not reported.
      size: entry.isDirectory ? null : entry.size,
      mtime: isoTime(entry.mtimeMs),
    };
    return separator + JSON.stringify(record);
  }

  tail(): string {
    return this.rowsWritten === 0 ? ']\n' : '\n]\n';
  }
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for use in HTML content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] ?? character);
}

/**
 * Percent-encodes one path segment. `encodeURIComponent` throws on a lone surrogate, which a name can only
 * contain if it did not come from the file system as UTF-8; such a unit is encoded as U+FFFD instead.
 */
function encodePathSegment(segment: string): string {
  try {
    return encodeURIComponent(segment);
  } catch {
    return encodeURIComponent(
      segment.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'),
    );
  }
}

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
function isoTime(epochMs: number): string | null {
  if (!Number.isFinite(epochMs)) return null;
  const date = new Date(epochMs);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** `2026-11-25 01:16` (UTC, to the minute), or '' when unknown. */
export function formatModifiedTime(epochMs: number): string {
  const iso = isoTime(epochMs);
  return iso === null ? '' : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** The listing page's style sheet, shared with search results. */
export const LISTING_HTML_STYLE = `
:root { color-scheme: light dark; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
body { margin: 0 auto; max-width: 60rem; padding: 1rem; line-height: 1.4; }
h1 { font-size: 1.25rem; font-weight: 600; overflow-wrap: anywhere; }
h1 a { text-decoration: none; }
table { width: 100%; border-collapse: collapse; }
th, td { padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
thead th { border-bottom: 1px solid #8886; white-space: nowrap; }
tbody tr:nth-child(even) { background: #8881; }
td.name { overflow-wrap: anywhere; word-break: break-word; }
th.size, td.size { text-align: right; white-space: nowrap; }
td.mtime { white-space: nowrap; font-variant-numeric: tabular-nums; }
a { text-decoration: none; }
a:hover, a:focus { text-decoration: underline; }
tr.dir a.name { font-weight: 600; }
form#upload { margin-top: 1rem; display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; }
footer { margin-top: 1rem; font-size: 0.85rem; opacity: 0.75; }
form[role="search"] { margin: 0 0 0.75rem; }
@media (max-width: 32rem) {
  body { padding: 0.5rem; }
  th, td { padding: 0.4rem 0.25rem; }
  th.mtime, td.mtime { display: none; }
}
`;

/**
 * The upload form. Without script it is a plain multipart POST answered with 303 back here; with script,
 * XMLHttpRequest sends the same form so the bar can show upload progress, then the listing reloads.
 */
const UPLOAD_FORM = `<form id="upload" method="post" enctype="multipart/form-data" action="">
<label>Upload files: <input id="upload-files" type="file" name="file" multiple required></label>
<button type="submit">Upload</button>
<progress id="upload-progress" max="1" value="0" hidden></progress>
<span id="upload-status" role="status"></span>
</form>
<script>
(function () {
  var form = document.getElementById('upload');
  var bar = document.getElementById('upload-progress');
  var status = document.getElementById('upload-status');
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('Accept', 'application/json');
    bar.hidden = false;
    bar.value = 0;
    status.textContent = 'Uploading\u2026';
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    xhr.onload = function () {
      if (xhr.status >= 200 && xhr.status < 300) { status.textContent = 'Done'; location.reload(); }
      else status.textContent = xhr.responseText;
    };
    xhr.onerror = function () { status.textContent = 'The upload failed: the connection was lost.'; };
    xhr.send(new FormData(form));
  });
})();
</script>
`;

/** This folder as one download; nofollow, so a crawler or mirror does not archive every folder it visits. */
const ARCHIVE_LINKS =
  '<p id="downloads">Download this folder as ' +
  '<a class="download" rel="nofollow" href="?download=zip" download>zip</a> or ' +
  '<a class="download" rel="nofollow" href="?download=tar.gz" download>tar.gz</a></p>\n';

const COLUMN_TITLES: Readonly<Record<ListingSortKey, string>> = {
  name: 'Name',
  size: 'Size',
  time: 'Modified',
};
const COLUMN_CLASSES: Readonly<Record<ListingSortKey, string>> = {
  name: 'name',
  size: 'size',
  time: 'mtime',
};

class HtmlRenderer implements ListingRenderer {
  private folderCount = 0;
  private fileCount = 0;

  constructor(
    private readonly options: ListingOptions,
    private readonly sortKey: ListingSortKey,
    private readonly order: ListingOrder,
  ) {}

  head(): string {
    const urlPath = this.options.urlPath;
    const title = `Index of ${escapeHtml(urlPath)}`;
    const columns = LISTING_SORT_KEYS.map((key) => this.columnHeader(key)).join('');
    const parentRow = isRootPath(urlPath)
      ? ''
      : '<tr class="parent"><td class="name"><a class="parent" href="../">../</a></td>' +
        '<td class="size"></td><td class="mtime"></td></tr>\n';
    return (
      '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
      '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
      `<title>${title}</title>\n<style>${LISTING_HTML_STYLE}</style>\n</head>\n<body>\n` +
      `<h1 id="breadcrumb">Index of ${breadcrumb(urlPath)}</h1>\n` +
      (this.options.archiveLinks === true ? ARCHIVE_LINKS : '') +
      // A plain GET form: ?q=term on this folder searches the names below it, no script needed.
      '<form role="search" method="get" action=""><input type="search" name="q" ' +
      'aria-label="Search names below this folder" placeholder="Search names"> ' +
      '<button type="submit">Search</button></form>\n' +
      `<table id="listing">\n<thead><tr>${columns}</tr></thead>\n<tbody>\n${parentRow}`
    );
  }

  row(entry: ListingEntry): string {
    const suffix = entry.isDirectory ? '/' : '';
    if (entry.isDirectory) this.folderCount++;
    else this.fileCount++;
    const href = escapeHtml(encodePathSegment(entry.name) + suffix);
    const size = entry.isDirectory
      ? `<td class="size">${FOLDER_SIZE_PLACEHOLDER}</td>`
      : `<td class="size" data-bytes="${entry.size}">${formatSize(entry.size)}</td>`;
    const iso = isoTime(entry.mtimeMs);
    const modified =
      iso === null
        ? '<td class="mtime"></td>'
        : `<td class="mtime"><time datetime="${iso}">${formatModifiedTime(entry.mtimeMs)}</time></td>`;
    return (
      `<tr class="${entry.isDirectory ? 'dir' : 'file'}"><td class="name">` +
      `<a class="name" href="${href}">${escapeHtml(entry.name + suffix)}</a></td>${size}${modified}</tr>\n`
    );
  }

  tail(): string {
    const summary = `${plural(this.folderCount, 'folder')}, ${plural(this.fileCount, 'file')}`;
    const software = this.options.serverSoftware;
    const serverPart =
      software === undefined || software === ''
        ? ''
        : ` \u00b7 <span id="server-software">${escapeHtml(software)}</span>`;
    return (
      '</tbody>\n</table>\n' +
      (this.options.uploadForm === true ? UPLOAD_FORM : '') +
      `<footer><span id="summary">${summary}</span>${serverPart}</footer>\n</body>\n</html>\n`
    );
  }

  /** A header link sorting by `key`: the active column toggles its order, the others start ascending. */
  private columnHeader(key: ListingSortKey): string {
    const active = key === this.sortKey;
    const nextOrder: ListingOrder = active && this.order === 'asc' ? 'desc' : 'asc';
    const ariaSort = active ? ` aria-sort="${this.order === 'asc' ? 'ascending' : 'descending'}"` : '';
    const arrow = active
      ? `<span aria-hidden="true">${this.order === 'asc' ? ' \u2191' : ' \u2193'}</span>`
      : '';
    const href = escapeHtml(`?sort=${key}&order=${nextOrder}`);
    return (
      `<th class="${COLUMN_CLASSES[key]}"${ariaSort}>` +
      // nofollow: a crawler or `wget -r` would otherwise fetch the same folder once per sort order.
      `<a class="sort" rel="nofollow" href="${href}">${COLUMN_TITLES[key]}${arrow}</a></th>`
    );
  }
}

function isRootPath(urlPath: string): boolean {
  return urlPath === '/' || urlPath === '';
}

/**
 * `/ a/ b/ c/` where every ancestor is a relative link (`../../../`, `../../`, `../`) and the current folder
 * is plain text. Empty segments (from `//`) count, because the browser resolves `../` against them too.
 */
function breadcrumb(urlPath: string): string {
  const withoutLeading = urlPath.startsWith('/') ? urlPath.slice(1) : urlPath;
  const trimmed = withoutLeading.endsWith('/') ? withoutLeading.slice(0, -1) : withoutLeading;
  const segments = trimmed === '' ? [] : trimmed.split('/');
  const crumbs = ['/', ...segments.map((segment) => `${segment}/`)];
  return crumbs
    .map((label, index) => {
      const levelsUp = crumbs.length - 1 - index;
      if (levelsUp === 0) return `<span class="crumb" aria-current="page">${escapeHtml(label)}</span>`;
      return `<a class="crumb" href="${'../'.repeat(levelsUp)}">${escapeHtml(label)}</a>`;
    })
    .join('');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
