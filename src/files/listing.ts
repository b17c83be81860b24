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
 * Each step lives in its own module: the records and formats in `listing-types.ts`, the order in
 * `listing-order.ts`, the renderers in `listing-html.ts` and `listing-plain.ts`; this one reads the folder
 * and drives the stream.
 * @module
 */
import type { Dirent } from 'node:fs';
import { lstatSync, type Stats, statSync } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { countFolderItems, FOLDER_COUNT_MAX_FOLDERS } from './folder-count.js';
import { HtmlRenderer } from './listing-html.js';
import { entryComparator, SortedRunMerger, sortInRuns } from './listing-order.js';
import { JsonRenderer, textRenderer } from './listing-plain.js';
import type {
  ListingEntry,
  ListingOptions,
  ListingOrder,
  ListingRenderer,
  ListingSortKey,
} from './listing-types.js';
import { pickReadme } from './markdown.js';
import { isServerOwnName } from './resolve.js';

/** Entries stat-ed concurrently and rendered per stream chunk: enough to keep the disk busy, small enough
 * that one batch of HTML (at most a few hundred KB even with the longest names) stays a modest chunk. */
export const LISTING_BATCH_SIZE = 256;

/** Directory entries `opendir` fetches per underlying read; larger than the default 32 to cut round trips. */
const DIRECTORY_READ_BUFFER_ENTRIES = 256;

/** How much rendered output the stream buffers ahead of a slow consumer before it stops pulling batches. */
const STREAM_HIGH_WATER_MARK_BYTES = 64 * 1024;

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

async function* generateListing(options: ListingOptions): AsyncGenerator<Buffer, void, undefined> {
  const sortKey = options.sort ?? 'name';
  const order = options.order ?? 'asc';

  let entries = await readEntries(options.dirPath, options.showDotfiles ?? false);

  // Stat up front only what the order depends on; the rest is stat-ed batch by batch while rendering.
  const needingStat = sortKey === 'name' ? entries.filter((entry) => entry.kindUnknown) : entries;
  await statInBatches(options.dirPath, needingStat);
  if (needingStat.length > 0) entries = entries.filter((entry) => !entry.gone);

  const html = options.format === 'html';
  const readmeName =
    html && options.readme !== undefined
      ? pickReadme(entries.filter((entry) => !entry.isDirectory).map((entry) => entry.name))
      : null;
  // Counting reads each subfolder: only for listings with few enough of them.
  const countFolders =
    html &&
    options.folderCounts !== false &&
    entries.filter((entry) => entry.isDirectory || entry.kindUnknown).length <= FOLDER_COUNT_MAX_FOLDERS;
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
    if (countFolders) {
      for (const entry of batch) {
        if (entry.isDirectory && !entry.gone) {
          entry.itemCount = await countFolderItems(
            options.dirPath,
            entry.name,
            options.showDotfiles ?? false,
          );
        }
      }
    }
    let chunk = '';
    for (const entry of batch) {
      if (!entry.gone) chunk += renderer.row(entry);
    }
    if (chunk.length > 0) yield Buffer.from(chunk, 'utf8');
    // Let other connections run between batches even when every stat was already done.
    await yieldToEventLoop();
  }
  const belowTable = readmeName === null ? '' : await options.readme!(readmeName);
  yield Buffer.from(renderer.tail(belowTable), 'utf8');
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
