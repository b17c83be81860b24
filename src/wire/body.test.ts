import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChunkedDecoder, ContentLengthDecoder } from './body.js';
import { DEFAULT_LIMITS } from './limits.js';

interface ChunkedVector {
  name: string;
  raw: string;
  body?: string;
  /** Bytes after the body that must be left for the next request. */
  rest?: string;
  status?: number;
  reason?: RegExp;
}

const CHUNKED_VECTORS: ChunkedVector[] = [
  { name: 'one chunk', raw: '5\r\nhello\r\n0\r\n\r\n', body: 'hello' },
  { name: 'several chunks', raw: '3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n', body: 'abcde' },
  {
    name: 'upper- and lower-case hex sizes',
    raw: 'A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n',
    body: '01234567890123456789',
  },
  { name: 'leading zeros in a size', raw: '0003\r\nabc\r\n000\r\n\r\n', body: 'abc' },
  {
    name: 'chunk extensions are ignored',
    raw: '3;name=value;flag\r\nabc\r\n0;x="q\\"s"\r\n\r\n',
    body: 'abc',
  },
  { name: 'whitespace before an extension', raw: '3 ;a=b\r\nabc\r\n0\r\n\r\n', body: 'abc' },
  {
    name: 'trailer fields are read and dropped',
    raw: '3\r\nabc\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n',
    body: 'abc',
  },
  {
    name: 'what follows the body stays',
    raw: '1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n',
    body: 'a',
    rest: 'GET / HTTP/1.1\r\n',
  },
  { name: 'an empty body', raw: '0\r\n\r\n', body: '' },
  { name: 'a size with a plus sign', raw: '+3\r\nabc\r\n0\r\n\r\n', status: 400, reason: /hexadecimal/ },
  { name: 'a size with 0x', raw: '0x3\r\nabc\r\n0\r\n\r\n', status: 400, reason: /chunk extension/ },
  { name: 'a negative size', raw: '-3\r\nabc\r\n0\r\n\r\n', status: 400 },
  {
    name: 'an overflowing size',
    raw: 'fffffffffffffffff\r\na\r\n0\r\n\r\n',
    status: 400,
    reason: /too large/,
  },
  { name: 'a size line ending in a bare LF', raw: '3\nabc\r\n0\r\n\r\n', status: 400, reason: /CRLF/ },
  {
    name: 'data longer than its size',
    raw: '3\r\nabcd\r\n0\r\n\r\n',
    status: 400,
    reason: /followed by CRLF/,
  },
  { name: 'data followed by a bare LF', raw: '3\r\nabc\n0\r\n\r\n', status: 400, reason: /followed by CRLF/ },
  { name: 'an empty size line', raw: '\r\nabc\r\n0\r\n\r\n', status: 400 },
  { name: 'a malformed extension', raw: '3;=x\r\nabc\r\n0\r\n\r\n', status: 400 },
  { name: 'a control character in an extension', raw: '3;a=\x01\r\nabc\r\n0\r\n\r\n', status: 400 },
  { name: 'a trailer line without a colon', raw: '0\r\nbad trailer\r\n\r\n', status: 400 },
  { name: 'a trailer ending in a bare LF', raw: '0\r\nX: 1\n\r\n', status: 400 },
  {
    name: 'a body over the limit',
    raw: `${(DEFAULT_LIMITS.maxBodyBytes + 1).toString(16)}\r\n`,
    status: 413,
  },
];

function runChunked(raw: Buffer, split: number) {
  const decoder = new ChunkedDecoder(DEFAULT_LIMITS);
  const parts: Buffer[] = [];
  let offset = 0;
  let pending: Buffer = Buffer.alloc(0);
  while (offset < raw.length) {
    pending = Buffer.concat([pending, raw.subarray(offset, offset + split)]);
    offset += split;
    const result = decoder.decode(pending, (data) => parts.push(Buffer.from(data)));
    pending = pending.subarray(result.consumed);
    if (result.error) return { error: result.error };
    if (result.done)
      return {
        body: Buffer.concat(parts).toString('latin1'),
        rest: Buffer.concat([pending, raw.subarray(offset)]),
      };
  }
  return { incomplete: true };
}

describe('ChunkedDecoder', () => {
  for (const vector of CHUNKED_VECTORS) {
    for (const split of [Number.MAX_SAFE_INTEGER, 1, 2, 7]) {
      test(`${vector.name} (pieces of ${split === Number.MAX_SAFE_INTEGER ? 'all' : split})`, () => {
        const outcome = runChunked(Buffer.from(vector.raw, 'latin1'), split);
        if (vector.status !== undefined) {
          assert.ok(outcome.error, 'expected an error');
          assert.equal(outcome.error.status, vector.status);
          if (vector.reason) assert.match(outcome.error.message, vector.reason);
          return;
        }
        assert.equal(outcome.error, undefined, outcome.error?.message);
        assert.equal(outcome.body, vector.body);
        assert.equal(outcome.rest?.toString('latin1') ?? '', vector.rest ?? '');
      });
    }
  }
});

describe('ContentLengthDecoder', () => {
  test('delivers exactly the declared bytes and leaves the rest', () => {
    const decoder = new ContentLengthDecoder(5);
    const got: string[] = [];
    const first = decoder.decode(Buffer.from('he'), (d) => got.push(d.toString()));
    assert.deepEqual(first, { consumed: 2, done: false });
    const second = decoder.decode(Buffer.from('lloGET'), (d) => got.push(d.toString()));
    assert.deepEqual(second, { consumed: 3, done: true });
    assert.equal(got.join(''), 'hello');
  });
});
