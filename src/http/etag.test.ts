import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type EntityTagList,
  makeContentEtag,
  makeFileEtag,
  parseEntityTag,
  parseEntityTagList,
  strongCompare,
  weakCompare,
  withEncodingSuffix,
} from './etag.js';

const makeCases: Array<{ name: string; actual: () => string; expected: string }> = [
  {
    name: 'makeFileEtag() encodes size and mtime in hex',
    actual: () => makeFileEtag(1000, 784111777000),
    expected: '"3e8-b690b434e8"',
  },
  {
    name: 'makeFileEtag() drops sub-millisecond mtime',
    actual: () => makeFileEtag(0, 1.75),
    expected: '"0-1"',
  },
  {
    name: 'makeContentEtag() quotes the hash',
    actual: () => makeContentEtag('abc123'),
    expected: '"abc123"',
  },
  {
    name: 'withEncodingSuffix() appends the coding inside the quotes',
    actual: () => withEncodingSuffix('"abc"', 'br'),
    expected: '"abc-br"',
  },
  {
    name: 'withEncodingSuffix() keeps the weak prefix',
    actual: () => withEncodingSuffix('W/"abc"', 'gzip'),
    expected: 'W/"abc-gzip"',
  },
];

for (const { name, actual, expected } of makeCases) {
  test(`${name}: ${expected}`, () => {
    assert.equal(actual(), expected);
  });
}

test('makeFileEtag() gives different tags for different sizes or mtimes', () => {
  const tags = new Set([makeFileEtag(1, 1), makeFileEtag(2, 1), makeFileEtag(1, 2), makeFileEtag(16, 1)]);
  assert.equal(tags.size, 4);
});

const throwCases: Array<{ name: string; run: () => unknown }> = [
  { name: 'withEncodingSuffix() rejects an unquoted tag', run: () => withEncodingSuffix('abc', 'br') },
  {
    name: 'withEncodingSuffix() rejects a coding with a quote',
    run: () => withEncodingSuffix('"abc"', 'b"r'),
  },
  { name: 'makeContentEtag() rejects a hash with a space', run: () => makeContentEtag('ab c') },
];

for (const { name, run } of throwCases) {
  test(`${name} with TypeError`, () => {
    assert.throws(run, TypeError);
  });
}

const listCases: Array<{ name: string; value: string; expected: EntityTagList | null }> = [
  { name: 'parses *', value: '*', expected: { any: true } },
  { name: 'parses * with OWS', value: '  * ', expected: { any: true } },
  {
    name: 'parses one strong tag',
    value: '"xyzzy"',
    expected: { any: false, tags: [{ weak: false, opaque: '"xyzzy"' }] },
  },
  {
    name: 'parses the RFC 9110 §13.1.1 list',
    value: '"xyzzy", "r2d2xxxx", "c3piozzzz"',
    expected: {
      any: false,
      tags: [
        { weak: false, opaque: '"xyzzy"' },
        { weak: false, opaque: '"r2d2xxxx"' },
        { weak: false, opaque: '"c3piozzzz"' },
      ],
    },
  },
  {
    name: 'parses weak and strong tags',
    value: 'W/"a", "b"',
    expected: {
      any: false,
      tags: [
        { weak: true, opaque: '"a"' },
        { weak: false, opaque: '"b"' },
      ],
    },
  },
  {
    name: 'parses the empty opaque-tag',
    value: '""',
    expected: { any: false, tags: [{ weak: false, opaque: '""' }] },
  },
  {
    name: 'keeps commas inside a tag',
    value: '"a,b"',
    expected: { any: false, tags: [{ weak: false, opaque: '"a,b"' }] },
  },
  {
    name: 'skips empty list elements',
    value: ', "a" ,, "b",',
    expected: {
      any: false,
      tags: [
        { weak: false, opaque: '"a"' },
        { weak: false, opaque: '"b"' },
      ],
    },
  },
  { name: 'rejects an unquoted tag', value: 'xyzzy', expected: null },
  { name: 'rejects a lower-case weak prefix', value: 'w/"a"', expected: null },
  { name: 'rejects a space inside a tag', value: '"a b"', expected: null },
  { name: 'rejects an unterminated tag', value: '"abc', expected: null },
  { name: 'rejects tags without a comma between them', value: '"a" "b"', expected: null },
  { name: 'rejects * mixed with tags', value: '*, "a"', expected: null },
  { name: 'rejects an empty value', value: '', expected: null },
  { name: 'rejects a value of only commas', value: ' , ,', expected: null },
];

for (const { name, value, expected } of listCases) {
  test(`parseEntityTagList() ${name}: ${JSON.stringify(value)}`, () => {
    assert.deepEqual(parseEntityTagList(value), expected);
  });
}

test('parseEntityTag() rejects a list', () => {
  assert.equal(parseEntityTag('"a", "b"'), null);
});

// The RFC 9110 §8.8.3.2 comparison table.
const compareCases: Array<{ a: string; b: string; strong: boolean; weak: boolean }> = [
  { a: 'W/"1"', b: 'W/"1"', strong: false, weak: true },
  { a: 'W/"1"', b: 'W/"2"', strong: false, weak: false },
  { a: 'W/"1"', b: '"1"', strong: false, weak: true },
  { a: '"1"', b: '"1"', strong: true, weak: true },
  { a: '"1"', b: 'garbage', strong: false, weak: false },
];

for (const { a, b, strong, weak } of compareCases) {
  test(`strongCompare(${a}, ${b}) is ${strong}`, () => {
    assert.equal(strongCompare(a, b), strong);
    assert.equal(strongCompare(b, a), strong);
  });
  test(`weakCompare(${a}, ${b}) is ${weak}`, () => {
    assert.equal(weakCompare(a, b), weak);
    assert.equal(weakCompare(b, a), weak);
  });
}
