import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../test/helpers/seeded.js';
import { evaluatePreconditions, isIfRangeSatisfied } from './conditional.js';
import { parseHttpDate } from './date.js';
import { parseEntityTagList } from './etag.js';
import { chooseContentEncoding, chooseMediaType, parseQualityList } from './negotiate.js';
import { parseRangeHeader } from './range.js';

/** Characters that matter to these parsers, plus a few that never should. */
const ALPHABET = ' \t,;=-*/"\\W0123456789abqzGMTSunNovbytes.\u00ff\u0000';

/** Seeded, so failures reproduce. */
const random = seededRandom;

function randomValue(next: () => number): string {
  const length = Math.floor(next() * 40);
  let text = '';
  for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return next() < 0.3 ? `bytes=${text}` : text;
}

const parsers: Array<{ name: string; run: (value: string) => void }> = [
  { name: 'parseHttpDate()', run: (v) => void parseHttpDate(v) },
  { name: 'parseEntityTagList()', run: (v) => void parseEntityTagList(v) },
  { name: 'parseQualityList()', run: (v) => void parseQualityList(v) },
  { name: 'chooseContentEncoding()', run: (v) => void chooseContentEncoding(v, ['br', 'gzip']) },
  { name: 'chooseMediaType()', run: (v) => void chooseMediaType(v, ['text/html', 'text/plain']) },
  {
    name: 'isIfRangeSatisfied()',
    run: (v) => void isIfRangeSatisfied(v, { etag: '"a"', lastModifiedMs: 0 }),
  },
  {
    name: 'evaluatePreconditions()',
    run: (v) => void evaluatePreconditions('GET', { 'if-none-match': v, 'if-match': v }, { etag: '"a"' }),
  },
  {
    name: 'parseRangeHeader()',
    run: (v) => {
      const result = parseRangeHeader(v, 1000);
      if (result.kind !== 'ranges') return;
      let previousEnd = -2;
      for (const { start, end } of result.ranges) {
        assert.ok(start >= 0 && start <= end && end < 1000, `range ${start}-${end} within the file`);
        assert.ok(start > previousEnd + 1, 'ranges sorted, disjoint and not adjacent');
        previousEnd = end;
      }
    },
  },
];

for (const { name, run } of parsers) {
  test(`${name} never throws on 5000 arbitrary field values`, () => {
    const next = random(0x5eed);
    for (let i = 0; i < 5000; i++) {
      const value = randomValue(next);
      assert.doesNotThrow(() => run(value), `input ${JSON.stringify(value)}`);
    }
  });
}
