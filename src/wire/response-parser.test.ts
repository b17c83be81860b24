import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_LIMITS } from './limits.js';
import { parseResponseHead } from './response-parser.js';

interface Vector {
  name: string;
  raw: string;
  method?: string;
  /** Expected error reason, or the parsed head's fields. */
  error?: RegExp;
  expect?: { status?: number; reason?: string; version?: string; framing?: unknown; keepAlive?: boolean };
}

const VECTORS: Vector[] = [
  {
    name: 'a 200 with Content-Length',
    raw: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n',
    expect: { status: 200, reason: 'OK', framing: { kind: 'length', length: 5 }, keepAlive: true },
  },
  {
    name: 'chunked',
    raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
    expect: { framing: { kind: 'chunked' } },
  },
  {
    name: 'no length: close-delimited, not reusable',
    raw: 'HTTP/1.1 200 OK\r\n\r\n',
    expect: { framing: { kind: 'close' }, keepAlive: false },
  },
  { name: 'an empty reason phrase', raw: 'HTTP/1.1 204 \r\n\r\n', expect: { status: 204, reason: '' } },
  {
    name: 'no reason phrase at all',
    raw: 'HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n',
    expect: { status: 200 },
  },
  {
    name: 'HTTP/1.0 without keep-alive',
    raw: 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n',
    expect: { version: '1.0', keepAlive: false },
  },
  {
    name: 'HTTP/1.0 with keep-alive',
    raw: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n',
    expect: { keepAlive: true },
  },
  {
    name: 'Connection: close',
    raw: 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n',
    expect: { keepAlive: false },
  },
  {
    name: 'a HEAD answer has no body whatever it declares',
    raw: 'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n',
    method: 'HEAD',
    expect: { framing: { kind: 'none' } },
  },
  {
    name: '304 has no body',
    raw: 'HTTP/1.1 304 Not Modified\r\n\r\n',
    expect: { framing: { kind: 'none' } },
  },
  {
    name: '100 Continue',
    raw: 'HTTP/1.1 100 Continue\r\n\r\n',
    expect: { status: 100, framing: { kind: 'none' } },
  },
  {
    name: 'repeated equal Content-Length values',
    raw: 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n',
    expect: { framing: { kind: 'length', length: 3 } },
  },
  {
    name: 'two differing Content-Lengths',
    raw: 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n',
    error: /Content-Length values that differ/,
  },
  {
    name: 'a list of differing Content-Lengths',
    raw: 'HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n',
    error: /differ/,
  },
  {
    name: 'Content-Length with Transfer-Encoding',
    raw: 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
    error: /both Transfer-Encoding and Content-Length/,
  },
  {
    name: 'CL+TE even on a 204',
    raw: 'HTTP/1.1 204 No Content\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
    error: /both/,
  },
  {
    name: 'a transfer coding other than chunked',
    raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
    error: /not supported/,
  },
  {
    name: 'Transfer-Encoding in HTTP/1.0',
    raw: 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
    error: /HTTP\/1.0/,
  },
  { name: 'a signed Content-Length', raw: 'HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n', error: /decimal/ },
  { name: 'a lower-case version', raw: 'http/1.1 200 OK\r\n\r\n', error: /status line/ },
  { name: 'HTTP/2.0 on the wire', raw: 'HTTP/2.0 200 OK\r\n\r\n', error: /status line/ },
  { name: 'HTTP/1.2', raw: 'HTTP/1.2 200 OK\r\n\r\n', error: /not HTTP\/1.0 or HTTP\/1.1/ },
  { name: 'a two-digit status', raw: 'HTTP/1.1 20 OK\r\n\r\n', error: /three digits|space/ },
  { name: 'status 600', raw: 'HTTP/1.1 600 Odd\r\n\r\n', error: /outside/ },
  { name: 'status 099', raw: 'HTTP/1.1 099 Odd\r\n\r\n', error: /outside/ },
  { name: 'a letter in the status', raw: 'HTTP/1.1 2x0 OK\r\n\r\n', error: /three digits/ },
  { name: 'no space after the status', raw: 'HTTP/1.1 200OK\r\n\r\n', error: /followed by a space/ },
  { name: 'garbage instead of a status line', raw: 'hello world\r\n\r\n', error: /status line/ },
  { name: 'a control character in the reason', raw: 'HTTP/1.1 200 O\x01K\r\n\r\n', error: /control/ },
  { name: 'a bare LF', raw: 'HTTP/1.1 200 OK\nContent-Length: 0\n\n', error: /bare LF/ },
  { name: 'obs-fold', raw: 'HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\n\r\n', error: /whitespace/ },
  { name: 'space before the colon', raw: 'HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n', error: /colon/ },
  { name: 'NUL in a value', raw: 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n', error: /control/ },
];

describe('response-head parser', () => {
  for (const vector of VECTORS) {
    test(vector.name, () => {
      const result = parseResponseHead(
        Buffer.from(vector.raw, 'latin1'),
        DEFAULT_LIMITS,
        vector.method ?? 'GET',
      );
      if (vector.error !== undefined) {
        assert.equal(result.kind, 'error', JSON.stringify(result));
        if (result.kind === 'error') assert.match(result.reason, vector.error);
        return;
      }
      assert.equal(result.kind, 'complete', JSON.stringify(result));
      if (result.kind !== 'complete') return;
      assert.equal(result.consumed, vector.raw.length);
      for (const [key, value] of Object.entries(vector.expect ?? {})) {
        assert.deepEqual((result.head as unknown as Record<string, unknown>)[key], value, key);
      }
    });
  }

  test('an incomplete head is partial, and a bare LF in it is refused at once', () => {
    const partial = parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nContent-Le'), DEFAULT_LIMITS, 'GET');
    assert.equal(partial.kind, 'partial');
    const bad = parseResponseHead(Buffer.from('HTTP/1.1 200 OK\nX'), DEFAULT_LIMITS, 'GET');
    assert.equal(bad.kind, 'error');
  });

  test('an endless head is refused', () => {
    const head = `HTTP/1.1 200 OK\r\n${'X-A: aaaaaaaaaaaaaaaa\r\n'.repeat(2000)}`;
    const result = parseResponseHead(Buffer.from(head), DEFAULT_LIMITS, 'GET');
    assert.equal(result.kind, 'error');
  });

  test('what follows the head is left alone (the body, or a second response)', () => {
    const raw = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n\r\n';
    const result = parseResponseHead(Buffer.from(raw), DEFAULT_LIMITS, 'GET');
    assert.equal(result.kind, 'complete');
    if (result.kind === 'complete') assert.equal(result.consumed, raw.indexOf('hi'));
  });

  test('fuzz: any bytes, fed whole or in two pieces, give partial, complete or error, never a throw', () => {
    const printable = fc.constantFrom(
      ...'HTTP/1.01 2009:\r\n\r\nContent-Length: 12, 3\tTransfer-Encoding: chunked\x00\x7f\xff '.split(''),
    );
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.array(printable, { maxLength: 200 }).map((a) => Buffer.from(a.join(''), 'latin1')),
      fc
        .tuple(fc.integer({ min: 100, max: 599 }), fc.array(printable, { maxLength: 80 }))
        .map(([status, tail]) => Buffer.from(`HTTP/1.1 ${status} X\r\n${tail.join('')}`, 'latin1')),
    );
    fc.assert(
      fc.property(bytes, fc.nat(), fc.constantFrom('GET', 'HEAD', 'POST'), (buf, split, method) => {
        const first = parseResponseHead(buf.subarray(0, split % (buf.length + 1)), DEFAULT_LIMITS, method);
        const whole = parseResponseHead(
          buf,
          DEFAULT_LIMITS,
          method,
          first.kind === 'partial' ? first.scanned : 0,
        );
        assert.ok(['partial', 'complete', 'error'].includes(whole.kind));
        if (whole.kind === 'complete') {
          assert.ok(whole.consumed <= buf.length);
          assert.ok(whole.head.status >= 100 && whole.head.status <= 599);
          const framing = whole.head.framing;
          // Never an ambiguous length passed on.
          if (
            whole.head.headers['transfer-encoding'] !== undefined &&
            whole.head.headers['content-length'] !== undefined
          )
            assert.fail('CL+TE accepted');
          if (framing.kind === 'length') assert.ok(Number.isSafeInteger(framing.length));
        }
      }),
      { numRuns: 3000 },
    );
  });
});
