import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IS_TCHAR, isHttpToken } from './chars.js';

/** RFC 9110 §5.6.2, written out once more by hand so the table is checked against the grammar. */
const TCHAR_DELIMITERS_ALLOWED = "!#$%&'*+-.^_`|~";

test('IS_TCHAR is exactly RFC 9110 tchar', () => {
  for (let code = 0; code < 256; code++) {
    const ch = String.fromCharCode(code);
    const expected = /^[0-9A-Za-z]$/.test(ch) || TCHAR_DELIMITERS_ALLOWED.includes(ch);
    assert.equal(IS_TCHAR[code] === 1, expected, `byte 0x${code.toString(16)}`);
  }
});

test('isHttpToken', () => {
  const cases: Array<[string, boolean]> = [
    ['GET', true],
    ['X-Custom_Field.1', true],
    ["!#$%&'*+-.^_`|~", true],
    ['', false],
    ['a b', false],
    ['a:b', false],
    ['"quoted"', false],
    ['na\u00efve', false],
    ['tab\t', false],
  ];
  for (const [value, expected] of cases) assert.equal(isHttpToken(value), expected, JSON.stringify(value));
});
