import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compareByCodePoint,
  compareListingNames,
  entryComparator,
  SortedRunMerger,
  sortInRuns,
} from './listing-order.js';
import type { ListingEntry, ListingOrder, ListingSortKey } from './listing-types.js';

function entry(name: string, kind: 'dir' | 'file', size = 0, mtimeMs = Number.NaN): ListingEntry {
  return {
    name,
    foldedName: name.toLowerCase(),
    isDirectory: kind === 'dir',
    statted: true,
    gone: false,
    size,
    mtimeMs,
    kindUnknown: false,
  };
}

const sign = (n: number) => Math.sign(n);

describe('compareByCodePoint', () => {
  const cases: Array<[string, string, -1 | 0 | 1, string]> = [
    ['a', 'a', 0, 'equal strings'],
    ['a', 'b', -1, 'plain ASCII'],
    ['B', 'a', -1, 'upper case before lower case (code points, no folding)'],
    ['ab', 'a', 1, 'a prefix comes first'],
    ['', 'a', -1, 'the empty string comes first'],
    ['\uFF21', '\u{1F600}', -1, 'U+FF21 before an astral character (code units would say the opposite)'],
    ['\uE000', '\uD800\uDC00', -1, 'U+E000 before U+10000'],
    ['\uD7FF', '\uE000', -1, 'below the surrogates stays below'],
    ['\u00e9', 'z', 1, 'é after z'],
  ];
  for (const [left, right, expected, why] of cases) {
    it(`${JSON.stringify(left)} vs ${JSON.stringify(right)}: ${why}`, () => {
      assert.equal(sign(compareByCodePoint(left, right)), expected);
      assert.equal(sign(compareByCodePoint(right, left)), -expected || 0);
    });
  }
});

describe('compareListingNames', () => {
  const cases: Array<[string, string, -1 | 0 | 1, string]> = [
    ['a.txt', 'B.txt', -1, 'case-insensitive first'],
    ['B.txt', 'b.txt', -1, 'case ties broken by code point (upper first)'],
    ['b.txt', 'c.txt', -1, 'ordinary order'],
    ['Z', '\u00e9', -1, 'Z before é (code points, not a locale)'],
    ['\u00e9', '\u65e5', -1, 'é before 日'],
    ['cafe', 'caf\u00e9', -1, 'unaccented first'],
    ['same', 'same', 0, 'equal names'],
    ['file10', 'file9', -1, 'no numeric collation'],
  ];
  for (const [left, right, expected, why] of cases) {
    it(`${left} vs ${right}: ${why}`, () => {
      assert.equal(sign(compareListingNames(left, right)), expected);
      assert.equal(sign(compareListingNames(right, left)), -expected || 0);
    });
  }
});

describe('entryComparator', () => {
  const entries = [
    entry('b.txt', 'file', 300, 3000),
    entry('A.txt', 'file', 100, 1000),
    entry('zdir', 'dir', 4096, 500),
    entry('c.txt', 'file', 100, Number.NaN),
    entry('adir', 'dir', 64, 9000),
    entry('d.txt', 'file', 200, 1000),
  ];
  const cases: Array<[ListingSortKey, ListingOrder, string[]]> = [
    ['name', 'asc', ['adir', 'zdir', 'A.txt', 'b.txt', 'c.txt', 'd.txt']],
    ['name', 'desc', ['zdir', 'adir', 'd.txt', 'c.txt', 'b.txt', 'A.txt']],
    // Folder sizes mean nothing: folders keep ascending name order in either direction, and equal sizes
    // fall back to ascending name order too (A.txt and c.txt are both 100 bytes).
    ['size', 'asc', ['adir', 'zdir', 'A.txt', 'c.txt', 'd.txt', 'b.txt']],
    ['size', 'desc', ['adir', 'zdir', 'b.txt', 'd.txt', 'A.txt', 'c.txt']],
    // An unknown time sorts as the oldest; equal times (A.txt, d.txt) fall back to ascending name order.
    ['time', 'asc', ['zdir', 'adir', 'c.txt', 'A.txt', 'd.txt', 'b.txt']],
    ['time', 'desc', ['adir', 'zdir', 'b.txt', 'A.txt', 'd.txt', 'c.txt']],
  ];
  for (const [sortKey, order, expected] of cases) {
    it(`sort=${sortKey} order=${order}: folders first, then ${expected.slice(2).join(' ')}`, () => {
      const sorted = [...entries].sort(entryComparator(sortKey, order)).map((e) => e.name);
      assert.deepEqual(sorted, expected);
    });
  }
});

describe('sortInRuns and SortedRunMerger', () => {
  const names = Array.from({ length: 23 }, (_, i) => `f${String((i * 7) % 23).padStart(2, '0')}`);
  const cases: Array<[number, number, ListingOrder]> = [
    [1, 5, 'asc'],
    [4, 3, 'asc'],
    [5, 23, 'desc'],
    [23, 4, 'asc'],
    [100, 1, 'desc'],
  ];
  for (const [runLength, takeCount, order] of cases) {
    it(`runs of ${runLength}, taken ${takeCount} at a time, ${order}: the same order as one sort`, async () => {
      const entries = names.map((name) => entry(name, 'file'));
      const compare = entryComparator('name', order);
      const runs = await sortInRuns(entries, compare, runLength);
      assert.equal(runs.length, Math.ceil(names.length / runLength));
      const merger = new SortedRunMerger(runs, compare);
      const merged: string[] = [];
      for (let batch = merger.take(takeCount); batch.length > 0; batch = merger.take(takeCount)) {
        assert.ok(batch.length <= takeCount);
        merged.push(...batch.map((e) => e.name));
      }
      assert.deepEqual(
        merged,
        [...entries].sort(compare).map((e) => e.name),
      );
    });
  }

  it('no runs give nothing to take', () => {
    assert.deepEqual(new SortedRunMerger([], entryComparator('name', 'asc')).take(10), []);
  });
});
