import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_LIMITS, type WireLimits } from './limits.js';
import { type HeadParseResult, parseRequestHead } from './parser.js';

interface Vector {
  name: string;
  raw: string;
  /** Expected error status, or the fields of a parsed head to compare. */
  status?: number;
  reason?: RegExp;
  expect?: Partial<{
    method: string;
    path: string;
    query: string;
    version: string;
    authority: string;
    keepAlive: boolean;
    expectContinue: boolean;
    framing: unknown;
    headers: Record<string, string>;
  }>;
  limits?: Partial<WireLimits>;
}

const H = 'Host: example.com\r\n';

const VECTORS: Vector[] = [
  {
    name: 'a minimal HTTP/1.1 GET',
    raw: `GET / HTTP/1.1\r\n${H}\r\n`,
    expect: { method: 'GET', path: '/', version: '1.1', keepAlive: true },
  },
  {
    name: 'an HTTP/1.0 GET without Host',
    raw: 'GET /a HTTP/1.0\r\n\r\n',
    expect: { version: '1.0', keepAlive: false, authority: '' },
  },
  {
    name: 'HTTP/1.0 asking for keep-alive',
    raw: 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
    expect: { keepAlive: true },
  },
  {
    name: 'HTTP/1.1 with Connection: close',
    raw: `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
    expect: { keepAlive: false },
  },
  {
    name: 'Connection list containing close',
    raw: `GET / HTTP/1.1\r\n${H}Connection: upgrade, CLOSE\r\n\r\n`,
    expect: { keepAlive: false },
  },
  {
    name: 'a query string',
    raw: `GET /p/a.txt?x=1&y=%20 HTTP/1.1\r\n${H}\r\n`,
    expect: { path: '/p/a.txt', query: 'x=1&y=%20' },
  },
  {
    name: 'leading empty lines before the request line',
    raw: `\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`,
    expect: { method: 'GET' },
  },
  {
    name: 'absolute-form takes its authority from the URI',
    raw: `GET http://other.test:8080/x?q HTTP/1.1\r\n${H}\r\n`,
    expect: { path: '/x', query: 'q', authority: 'other.test:8080' },
  },
  {
    name: 'absolute-form without a path means /',
    raw: `GET http://other.test HTTP/1.1\r\n${H}\r\n`,
    expect: { path: '/', authority: 'other.test' },
  },
  {
    name: 'asterisk-form with OPTIONS',
    raw: `OPTIONS * HTTP/1.1\r\n${H}\r\n`,
    expect: { method: 'OPTIONS', path: '*' },
  },
  { name: 'asterisk-form with GET', raw: `GET * HTTP/1.1\r\n${H}\r\n`, status: 400, reason: /asterisk/ },
  {
    name: 'header values lose surrounding whitespace',
    raw: `GET / HTTP/1.1\r\n${H}X-A: \t spaced \t\r\n\r\n`,
    expect: { headers: { 'x-a': 'spaced' } },
  },
  {
    name: 'repeated fields are combined',
    raw: `GET / HTTP/1.1\r\n${H}Accept: a\r\naccept: b\r\n\r\n`,
    expect: { headers: { accept: 'a, b' } },
  },
  {
    name: 'obs-text in a value is kept',
    raw: `GET / HTTP/1.1\r\n${H}X-Name: caf\xe9\r\n\r\n`,
    expect: { headers: { 'x-name': 'caf\xe9' } },
  },
  {
    name: 'Content-Length framing',
    raw: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\n`,
    expect: { framing: { kind: 'length', length: 5 } },
  },
  {
    name: 'Content-Length: 0 means no body',
    raw: `POST / HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`,
    expect: { framing: { kind: 'none' } },
  },
  {
    name: 'identical duplicate Content-Length',
    raw: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\n`,
    expect: { framing: { kind: 'length', length: 5 } },
  },
  {
    name: 'Content-Length list of equal values',
    raw: `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\n`,
    expect: { framing: { kind: 'length', length: 5 } },
  },
  {
    name: 'chunked framing',
    raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`,
    expect: { framing: { kind: 'chunked' } },
  },
  {
    name: 'chunked in odd case',
    raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: ChUnKeD\r\n\r\n`,
    expect: { framing: { kind: 'chunked' } },
  },
  {
    name: 'Expect: 100-continue with a body',
    raw: `PUT / HTTP/1.1\r\n${H}Content-Length: 3\r\nExpect: 100-continue\r\n\r\n`,
    expect: { expectContinue: true },
  },
  {
    name: 'Expect: 100-continue without a body waits for nothing',
    raw: `GET / HTTP/1.1\r\n${H}Expect: 100-continue\r\n\r\n`,
    expect: { expectContinue: false },
  },
  // Errors
  { name: 'HTTP/1.1 without Host', raw: 'GET / HTTP/1.1\r\n\r\n', status: 400, reason: /exactly one Host/ },
  {
    name: 'two Host fields',
    raw: `GET / HTTP/1.1\r\n${H}${H}\r\n`,
    status: 400,
    reason: /more than one Host/,
  },
  { name: 'a Host with a space', raw: 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', status: 400, reason: /Host/ },
  { name: 'HTTP/2.0', raw: `GET / HTTP/2.0\r\n${H}\r\n`, status: 505, reason: /HTTP\/2.0 is not supported/ },
  { name: 'HTTP/0.9 style line', raw: 'GET /\r\n\r\n', status: 400, reason: /HTTP version/ },
  { name: 'a lower-case version', raw: `GET / http/1.1\r\n${H}\r\n`, status: 400, reason: /HTTP version/ },
  {
    name: 'two spaces after the method',
    raw: `GET  / HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    reason: /request-target/,
  },
  { name: 'a method that is not a token', raw: `G(T / HTTP/1.1\r\n${H}\r\n`, status: 400, reason: /method/ },
  {
    name: 'a NUL in the request line',
    raw: `GET /\0 HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    reason: /request-target/,
  },
  {
    name: 'a high byte in the request-target',
    raw: `GET /\xff HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    reason: /non-ASCII/,
  },
  {
    name: 'a fragment in the request-target',
    raw: `GET /a#b HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    reason: /request-target/,
  },
  {
    name: 'a relative request-target',
    raw: `GET a/b HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    reason: /must start with/,
  },
  {
    name: 'an absolute-form with an unknown scheme',
    raw: `GET ftp://x/ HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    reason: /scheme/,
  },
  {
    name: 'an absolute-form with userinfo',
    raw: `GET http://u@x/ HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    reason: /authority/,
  },
  {
    name: 'a bare LF ending the request line',
    raw: `GET / HTTP/1.1\n${H}\r\n`,
    status: 400,
    reason: /bare LF/,
  },
  {
    name: 'a bare LF ending a header line',
    raw: `GET / HTTP/1.1\r\n${H}X: y\n\r\n`,
    status: 400,
    reason: /header line 3 ends in a bare LF/,
  },
  {
    name: 'a bare CR inside a header value',
    raw: `GET / HTTP/1.1\r\n${H}X: a\rb\r\n\r\n`,
    status: 400,
    reason: /control character \(0x0d\)/,
  },
  {
    name: 'a NUL in a header value',
    raw: `GET / HTTP/1.1\r\n${H}X: a\0b\r\n\r\n`,
    status: 400,
    reason: /control character \(0x00\)/,
  },
  {
    name: 'whitespace between name and colon',
    raw: `GET / HTTP/1.1\r\n${H}Content-Length : 5\r\n\r\n`,
    status: 400,
    reason: /header line 3 has whitespace before the colon/,
  },
  {
    name: 'obs-fold',
    raw: `GET / HTTP/1.1\r\n${H}X: a\r\n  folded\r\n\r\n`,
    status: 400,
    reason: /obs-fold/,
  },
  {
    name: 'a header line without a colon',
    raw: `GET / HTTP/1.1\r\n${H}NoColon\r\n\r\n`,
    status: 400,
    reason: /no colon/,
  },
  {
    name: 'a field name with a non-token character',
    raw: `GET / HTTP/1.1\r\n${H}X[a]: b\r\n\r\n`,
    status: 400,
    reason: /not allowed in a field name/,
  },
  {
    name: 'an empty field name',
    raw: `GET / HTTP/1.1\r\n${H}: b\r\n\r\n`,
    status: 400,
    reason: /empty field name/,
  },
  {
    name: 'Content-Length that is not a number',
    raw: `POST / HTTP/1.1\r\n${H}Content-Length: 5a\r\n\r\n`,
    status: 400,
    reason: /not a decimal/,
  },
  {
    name: 'Content-Length with a plus sign',
    raw: `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\n`,
    status: 400,
    reason: /not a decimal/,
  },
  { name: 'negative Content-Length', raw: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, status: 400 },
  {
    name: 'differing duplicate Content-Length',
    raw: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\n`,
    status: 400,
    reason: /differ/,
  },
  {
    name: 'an overflowing Content-Length',
    raw: `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`,
    status: 400,
    reason: /too large/,
  },
  {
    name: 'Content-Length over the body limit',
    raw: `POST / HTTP/1.1\r\n${H}Content-Length: 1000\r\n\r\n`,
    status: 413,
    limits: { maxBodyBytes: 999 },
  },
  {
    name: 'Transfer-Encoding and Content-Length together',
    raw: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`,
    status: 400,
    reason: /both/,
  },
  {
    name: 'chunked not last',
    raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n`,
    status: 400,
    reason: /last/,
  },
  {
    name: 'chunked twice',
    raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n`,
    status: 400,
    reason: /once/,
  },
  {
    name: 'an unknown transfer coding',
    raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`,
    status: 501,
  },
  {
    name: 'Transfer-Encoding on HTTP/1.0',
    raw: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n',
    status: 400,
    reason: /HTTP\/1.0/,
  },
  { name: 'an unsupported expectation', raw: `GET / HTTP/1.1\r\n${H}Expect: teapot\r\n\r\n`, status: 417 },
  {
    name: 'a request line over the limit',
    raw: `GET /${'a'.repeat(100)} HTTP/1.1\r\n${H}\r\n`,
    status: 414,
    limits: { maxRequestLineBytes: 64 },
  },
  {
    name: 'a header section over the limit',
    raw: `GET / HTTP/1.1\r\n${H}X: ${'a'.repeat(200)}\r\n\r\n`,
    status: 431,
    limits: { maxHeaderBytes: 128 },
  },
  {
    name: 'more header fields than allowed',
    raw: `GET / HTTP/1.1\r\n${H}${'X: 1\r\n'.repeat(5)}\r\n`,
    status: 431,
    limits: { maxHeaderCount: 4 },
  },
];

function limitsFor(vector: Vector): WireLimits {
  return { ...DEFAULT_LIMITS, ...vector.limits };
}

function check(vector: Vector, result: HeadParseResult, consumedExpected: number): void {
  if (vector.status !== undefined) {
    assert.equal(result.kind, 'error', `expected an error, got ${result.kind}`);
    if (result.kind !== 'error') return;
    assert.equal(result.error.status, vector.status);
    if (vector.reason) assert.match(result.error.message, vector.reason);
    return;
  }
  assert.equal(result.kind, 'complete', result.kind === 'error' ? result.error.message : 'partial');
  if (result.kind !== 'complete') return;
  assert.equal(result.consumed, consumedExpected);
  for (const [key, value] of Object.entries(vector.expect ?? {})) {
    if (key === 'headers') {
      for (const [name, v] of Object.entries(value as Record<string, string>))
        assert.equal(result.head.headers[name], v);
    } else {
      assert.deepEqual((result.head as unknown as Record<string, unknown>)[key], value, key);
    }
  }
}

/** Feeds the bytes one at a time, as a slow client would, carrying `scanned` between calls. */
function parseByteByByte(bytes: Buffer, limits: WireLimits): HeadParseResult {
  let scanned = 0;
  for (let n = 1; n <= bytes.length; n++) {
    const result = parseRequestHead(bytes.subarray(0, n), limits, scanned);
    if (result.kind !== 'partial') return result;
    scanned = result.scanned;
  }
  return { kind: 'partial', scanned };
}

describe('parseRequestHead()', () => {
  for (const vector of VECTORS) {
    const bytes = Buffer.from(vector.raw, 'latin1');
    test(`${vector.name}: whole`, () => {
      check(vector, parseRequestHead(bytes, limitsFor(vector)), bytes.length);
    });
    test(`${vector.name}: byte by byte`, () => {
      check(vector, parseByteByByte(bytes, limitsFor(vector)), bytes.length);
    });
    if (vector.status === undefined) {
      test(`${vector.name}: pipelined pair`, () => {
        const pair = Buffer.concat([bytes, bytes]);
        const first = parseRequestHead(pair, limitsFor(vector));
        check(vector, first, bytes.length);
        assert.equal(first.kind, 'complete');
        if (first.kind !== 'complete') return;
        check(vector, parseRequestHead(pair.subarray(first.consumed), limitsFor(vector)), bytes.length);
      });
    }
  }

  test('answers partial for an incomplete head and reports how far it scanned', () => {
    const result = parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n'), DEFAULT_LIMITS);
    assert.deepEqual(result, { kind: 'partial', scanned: 25 });
  });

  test('rejects an over-long request line before its end arrives (414)', () => {
    const limits = { ...DEFAULT_LIMITS, maxRequestLineBytes: 32 };
    const result = parseRequestHead(Buffer.from(`GET /${'a'.repeat(40)}`), limits);
    assert.equal(result.kind, 'error');
    if (result.kind === 'error') assert.equal(result.error.status, 414);
  });

  test('rejects an endless header section before its end arrives (431)', () => {
    const limits = { ...DEFAULT_LIMITS, maxHeaderBytes: 64 };
    const result = parseRequestHead(Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(100)}`), limits);
    assert.equal(result.kind, 'error');
    if (result.kind === 'error') assert.equal(result.error.status, 431);
  });

  test('rejects a complete but malformed request line before the head ends (HTTP/0.9, TLS)', () => {
    for (const [raw, status] of [
      ['GET /\r\n', 400],
      ['GET / HTTP/2.0\r\n', 505],
      ['\u0016\u0003\u0001\u0002\r\n', 400],
    ] as const) {
      const result = parseRequestHead(Buffer.from(raw, 'latin1'), DEFAULT_LIMITS);
      assert.equal(result.kind, 'error', JSON.stringify(raw));
      if (result.kind === 'error') assert.equal(result.error.status, status);
      assert.deepEqual(parseByteByByte(Buffer.from(raw, 'latin1'), DEFAULT_LIMITS), result);
    }
    const fine = parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nHost: a'), DEFAULT_LIMITS);
    assert.equal(fine.kind, 'partial');
  });

  test('checks every byte of a long value at every alignment (the sixteen-byte scan)', () => {
    // Each byte at each of 32 offsets into a 56-byte value, so it lands in every lane of a sixteen-byte
    // step and on both sides of a step; with and without bytes after the head in the same buffer.
    for (const byte of [0x00, 0x01, 0x08, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff]) {
      for (let at = 0; at < 32; at++) {
        const value = `${'v'.repeat(16 + at)}${String.fromCharCode(byte)}${'w'.repeat(39 - at)}`;
        for (const after of ['', `GET / HTTP/1.1\r\n${H}\r\n`]) {
          const raw = Buffer.from(`GET / HTTP/1.1\r\n${H}X-Long: ${value}\r\n\r\n${after}`, 'latin1');
          const result = parseRequestHead(raw, DEFAULT_LIMITS);
          const label = `byte 0x${byte.toString(16)} at ${at}`;
          if (byte === 0x09 || (byte >= 0x20 && byte !== 0x7f)) {
            assert.equal(result.kind, 'complete', label);
            if (result.kind === 'complete') assert.equal(result.head.headers['x-long'], value, label);
          } else {
            assert.equal(result.kind, 'error', label);
            if (result.kind === 'error') assert.equal(result.error.status, 400, label);
          }
        }
      }
    }
  });

  test('leaves a pipelined body and next request unconsumed', () => {
    const raw = Buffer.from(`POST / HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n${H}\r\n`);
    const result = parseRequestHead(raw, DEFAULT_LIMITS);
    assert.equal(result.kind, 'complete');
    if (result.kind === 'complete')
      assert.equal(raw.toString('latin1', result.consumed), `abcGET / HTTP/1.1\r\n${H}\r\n`);
  });
});
