import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml } from './html.js';

describe('escapeHtml', () => {
  const cases: Array<[string, string]> = [
    ['', ''],
    ['plain text', 'plain text'],
    ['a & b', 'a &amp; b'],
    ['<script>', '&lt;script&gt;'],
    ['"double"', '&quot;double&quot;'],
    ["'single'", '&#39;single&#39;'],
    ['&amp;', '&amp;amp;'],
    ['caf\u00e9 \u65e5 \u{1F600}', 'caf\u00e9 \u65e5 \u{1F600}'],
    ['?sort=name&order=desc', '?sort=name&amp;order=desc'],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(escapeHtml(text), expected);
    });
  }
});
