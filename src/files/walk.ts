/**
 * Walks a folder tree under the same policy as `resolve.ts`: names starting with "." are skipped unless
 * dotfiles are served, and a symbolic link whose real target lies outside the root is skipped unless
 * symlinks may be followed. Archives and search both walk with it, so neither can reveal a byte that a
 * plain GET would refuse.
 *
 * The walk is an async generator: it reads one folder at a time (entries sorted, for a stable order) and
 * only goes on when its consumer asks for the next entry, so a slow client holds back the walk instead of
 * queuing it in memory.
 * @module
 */
import { realpathSync, type Stats, statSync } from 'node:fs';
import { opendir } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { compareListingNames } from './listing-order.js';
import { isInside, isServerOwnName } from './resolve.js';

export interface WalkOptions {
  /** The document root, absolute and real. */
  root: string;
  /** The folder to walk (absolute, real, inside the root or reached by an allowed symlink). */
  start: string;
  dotfiles: boolean;
  /** Follow symlinks whose target is outside the root. */
  followSymlinks: boolean;
  /** Folders deeper than this below `start` are not entered (1: only `start`'s own entries). */
  maxDepth: number;
  /** Breadth-first (search: shallow matches first) or depth-first (archives: a folder's files together). */
  order: 'breadth-first' | 'depth-first';
  /** Checked before each folder is read; returning true ends the walk. */
  shouldStop?: () => boolean;
  /** Asked about each entry before it is yielded; false leaves it out (and a folder's contents with it). */
  include?: (relativePath: string, isDirectory: boolean) => Promise<boolean>;
}

export interface WalkEntry {
  /** Path below `start`, with '/' separators, without a trailing slash. */
  relativePath: string;
  name: string;
  /** Where to read it (symlinks resolved). */
  absolutePath: string;
  stats: Stats;
  isDirectory: boolean;
  /** Folder nesting below `start`, 1 for its own entries. */
  depth: number;
}

/** Entries stat-ed between yields to the event loop. */
const STAT_BATCH_SIZE = 256;

interface PendingFolder {
  absolutePath: string;
  relativePath: string;
  depth: number;
}

/**
 * Yields the regular files and folders below `options.start`. Other kinds (sockets, devices, FIFOs) and
 * entries that vanish or cannot be looked at are left out. A folder reached twice (through a symlink loop
 * or two links to one place) is entered once.
 */
export async function* walkTree(options: WalkOptions): AsyncGenerator<WalkEntry, void, undefined> {
  const visited = new Set<string>();
  const startStats = statSync(options.start);
  visited.add(folderKey(startStats));
  const pending: PendingFolder[] = [{ absolutePath: options.start, relativePath: '', depth: 0 }];
  while (pending.length > 0) {
    if (options.shouldStop?.() === true) return;
    const folder = (options.order === 'breadth-first' ? pending.shift() : pending.pop())!;
    const entries = await readFolder(folder, options, visited);
    const children: PendingFolder[] = [];
    for (const entry of entries) {
      yield entry;
      if (entry.isDirectory && entry.depth < options.maxDepth) {
        children.push({
          absolutePath: entry.absolutePath,
          relativePath: entry.relativePath,
          depth: entry.depth,
        });
      }
    }
    // Depth-first pops from the end, so push children reversed to visit them in name order.
    if (options.order === 'depth-first') children.reverse();
    pending.push(...children);
  }
}

async function readFolder(
  folder: PendingFolder,
  options: WalkOptions,
  visited: Set<string>,
): Promise<WalkEntry[]> {
  const names: string[] = [];
  const links = new Set<string>();
  try {
    const directory = await opendir(folder.absolutePath);
    for await (const dirent of directory) {
      if (!options.dotfiles && dirent.name.startsWith('.')) continue;
      if (isServerOwnName(dirent.name)) continue;
      names.push(dirent.name);
      if (dirent.isSymbolicLink()) links.add(dirent.name);
    }
  } catch {
    // Unreadable (or vanished) folders contribute nothing; the rest of the tree still counts.
    return [];
  }
  names.sort(compareListingNames);
  const entries: WalkEntry[] = [];
  let statted = 0;
  for (const name of names) {
    // Synchronous stats in batches (as in listing.ts): a local stat takes microseconds, a promise-based
    // one a thread-pool round trip; yielding between batches keeps other connections served.
    if (++statted % STAT_BATCH_SIZE === 0) await yieldToEventLoop();
    const candidate = path.join(folder.absolutePath, name);
    let real: string;
    let stats: Stats | undefined;
    try {
      // The folder's own path is already real, so only a link needs resolving.
      real = links.has(name) ? realpathSync(candidate) : candidate;
      stats = statSync(real, { throwIfNoEntry: false });
    } catch {
      continue;
    }
    if (stats === undefined) continue;
    // The same rule as resolvePath: the root is the boundary, not the folder tree.
    if (!isInside(options.root, real) && !options.followSymlinks) continue;
    const isDirectory = stats.isDirectory();
    if (!isDirectory && !stats.isFile()) continue;
    const relativePath = folder.relativePath === '' ? name : `${folder.relativePath}/${name}`;
    if (options.include !== undefined && !(await options.include(relativePath, isDirectory))) continue;
    if (isDirectory) {
      const key = folderKey(stats);
      if (visited.has(key)) continue;
      visited.add(key);
    }
    entries.push({
      relativePath,
      name,
      absolutePath: real,
      stats,
      isDirectory,
      depth: folder.depth + 1,
    });
  }
  return entries;
}

function folderKey(stats: Stats): string {
  return `${stats.dev}:${stats.ino}`;
}
