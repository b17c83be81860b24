/**
 * The listing's order, shared by listings, search and the tree walk (archives): folders first, then
 * files, each by the chosen key.
 *
 * Name order is locale-independent and stable: names are compared lower-cased (`String#toLowerCase`,
 * which uses the Unicode default case mapping, not the host locale), and names equal under that are
 * compared by Unicode code point. So `a.txt` < `B.txt` < `b.txt` < `c.txt`, and `Z` < `é` < `日`.
 * Size and time ties (and folders in a size sort, whose size means nothing) fall back to that name order.
 *
 * A big folder is sorted in runs with a yield between them, and the runs are merged lazily while
 * rendering, so sorting 100,000 names never holds the event loop for long.
 * @module
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ListingEntry, ListingOrder, ListingSortKey } from './listing-types.js';

/**
 * Entries sorted in one synchronous step. Sorting 100,000 names at once holds the event loop for tens of
 * milliseconds, so the list is sorted in runs of this length with a yield between them, and the runs are
 * merged lazily, one output batch at a time.
 */
export const SORT_RUN_LENGTH = 4096;

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

export type EntryComparator = (left: ListingEntry, right: ListingEntry) => number;

/** The order of a listing sorted by `sortKey` in `order`; folders come first either way. */
export function entryComparator(sortKey: ListingSortKey, order: ListingOrder): EntryComparator {
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

/** Splits `entries` into sorted runs of `runLength`, yielding to the event loop between runs. */
export async function sortInRuns(
  entries: readonly ListingEntry[],
  compare: EntryComparator,
  runLength = SORT_RUN_LENGTH,
): Promise<ListingEntry[][]> {
  const runs: ListingEntry[][] = [];
  for (let start = 0; start < entries.length; start += runLength) {
    if (start > 0) await yieldToEventLoop();
    runs.push(entries.slice(start, start + runLength).sort(compare));
  }
  return runs;
}

/**
 * Hands out the entries of several sorted runs in overall order, a few at a time. A binary min-heap of run
 * indices, keyed by each run's next entry, keeps every pick at O(log runs) comparisons. Ties between runs
 * cannot happen (names in one folder are distinct and every comparator ends on the name).
 */
export class SortedRunMerger {
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
