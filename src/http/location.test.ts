import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sameOriginPath } from './location.js';

test('sameOriginPath never returns a network-path reference', () => {
  const table: Array<[string, string]> = [
    ['/', '/'],
    ['/docs/', '/docs/'],
    ['//evil.example', '/evil.example'],
    ['///evil.example/', '/evil.example/'],
    ['/a//b', '/a//b'],
    ['', ''],
  ];
  for (const [input, expected] of table) assert.equal(sameOriginPath(input), expected, input);
});
