import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import { fieldLinesOf } from './field-lines.js';
import { DEFAULT_LIMITS } from './limits.js';
import { parseRequestHead, type RequestHead } from './parser.js';

function parse(fields: string): RequestHead {
  const result = parseRequestHead(Buffer.from(`GET /a HTTP/1.1\r\n${fields}\r\n`, 'latin1'), DEFAULT_LIMITS);
  assert.equal(result.kind, 'complete', result.kind === 'error' ? result.error.message : 'partial');
  if (result.kind !== 'complete') throw new Error('unreachable');
  return result.head;
}

const FIELDS =
  'Host: example.com\r\nAccept-Encoding: gzip, br\r\nCookie: a=1\r\nX-Tag:  one \r\ncookie: b=2\r\nx-tag: two\r\n';
const RECORD = {
  host: 'example.com',
  'accept-encoding': 'gzip, br',
  cookie: 'a=1; b=2',
  'x-tag': 'one, two',
};
const PAIRS = [
  ['Host', 'example.com'],
  ['Accept-Encoding', 'gzip, br'],
  ['Cookie', 'a=1'],
  ['X-Tag', 'one'],
  ['cookie', 'b=2'],
  ['x-tag', 'two'],
];

describe('the lazily built header record', () => {
  test('reads one field by its lower-case name, repeats joined, without building the record', () => {
    const head = parse(FIELDS);
    const lines = fieldLinesOf(head.headers);
    assert.ok(lines !== null);
    assert.equal(head.headers['accept-encoding'], 'gzip, br');
    assert.equal(head.headers.cookie, 'a=1; b=2');
    assert.equal(head.headers['x-tag'], 'one, two');
    assert.equal(head.headers['X-Tag'], undefined, 'keys are lower-case, as before');
    assert.equal(head.headers.range, undefined);
    assert.equal('cookie' in head.headers, true);
    assert.equal('range' in head.headers, false);
    assert.equal(lines.value('x-tag'), 'one, two');
  });

  test('the fields the hot path reads are found in any case, and repeats are joined', () => {
    const once = parse('Host: a\r\nACCEPT-ENCODING: br\r\nif-None-Match: "x"\r\nIf-Modified-Since: d\r\n');
    assert.equal(once.headers['accept-encoding'], 'br');
    assert.equal(once.headers['if-none-match'], '"x"');
    assert.equal(once.headers['if-modified-since'], 'd');
    const twice = parse('Host: a\r\nAccept-Encoding: gzip\r\nIf-None-Match: "x"\r\naccept-encoding: br\r\n');
    assert.equal(twice.headers['accept-encoding'], 'gzip, br');
    assert.equal(twice.headers['if-none-match'], '"x"');
    assert.equal(twice.headers['if-modified-since'], undefined);
    const none = parse('Host: a\r\nAccept-Language: en\r\nTransfer-Encodinx: q\r\n');
    assert.equal(none.headers['accept-encoding'], undefined);
    assert.equal(none.headers['if-modified-since'], undefined);
  });

  test('enumerates, spreads and serialises like a plain record, in arrival order', () => {
    const head = parse(FIELDS);
    assert.deepEqual(Object.keys(head.headers), Object.keys(RECORD));
    assert.deepEqual(Object.entries(head.headers), Object.entries(RECORD));
    assert.deepEqual({ ...head.headers }, RECORD);
    assert.equal(JSON.stringify(head.headers), JSON.stringify(RECORD));
    const seen: string[] = [];
    for (const key in head.headers) seen.push(key);
    assert.deepEqual(seen, Object.keys(RECORD));
    // No Object.prototype on the chain: a field cannot be shadowed by or reach an inherited property.
    assert.equal(head.headers.constructor, undefined);
    assert.equal(Object.getPrototypeOf(Object.getPrototypeOf(head.headers)), null);
  });

  test('console.log shows the fields of a record nobody has read yet', () => {
    const head = parse('Host: a\r\nX-Tag: one\r\n');
    assert.match(inspect(head.headers), /host: 'a'.*'x-tag': 'one'/s);
    assert.deepEqual(Object.keys(head.headers), ['host', 'x-tag']);
  });

  test('a field named __proto__ or constructor is an ordinary own field', () => {
    const head = parse('Host: a\r\n__proto__: x\r\nConstructor: y\r\n');
    assert.equal(head.headers['__proto__'.slice(0)], 'x');
    assert.equal(head.headers.constructor, 'y');
    assert.deepEqual(Object.keys(head.headers), ['host', '__proto__', 'constructor']);
  });

  test('writes and deletes work, and later reads (the hot path included) see them', () => {
    const head = parse(FIELDS);
    head.headers['x-added'] = 'yes';
    delete head.headers['accept-encoding'];
    assert.equal(head.headers['x-added'], 'yes');
    assert.equal(head.headers['accept-encoding'], undefined);
    assert.equal(fieldLinesOf(head.headers)?.value('accept-encoding'), undefined);
    assert.equal(fieldLinesOf(head.headers)?.value('x-added'), 'yes');
    assert.deepEqual(Object.keys(head.headers), ['host', 'cookie', 'x-tag', 'x-added']);
  });

  test('a record that is not the wire’s has no field lines', () => {
    assert.equal(fieldLinesOf({ host: 'a' }), null);
    const head = parse(FIELDS);
    assert.equal(fieldLinesOf({ ...head.headers }), null);
  });
});

describe('the lazily built rawHeaders', () => {
  test('behaves as the array of [name, value] pairs in arrival order, names as sent', () => {
    const head = parse(FIELDS);
    assert.equal(Array.isArray(head.rawHeaders), true);
    assert.equal(head.rawHeaders.length, PAIRS.length);
    assert.deepEqual([...head.rawHeaders], PAIRS);
    assert.deepEqual(
      head.rawHeaders.filter(([name]) => name.toLowerCase() === 'cookie'),
      [PAIRS[2], PAIRS[4]],
    );
    assert.deepEqual(head.rawHeaders[3], ['X-Tag', 'one']);
    assert.equal(JSON.stringify(head.rawHeaders), JSON.stringify(PAIRS));
    const copied: Array<readonly [string, string]> = [];
    for (const pair of head.rawHeaders) copied.push(pair);
    assert.deepEqual(copied, PAIRS);
  });

  test('a head with no fields has an empty record and list', () => {
    const result = parseRequestHead(Buffer.from('GET / HTTP/1.0\r\n\r\n', 'latin1'), DEFAULT_LIMITS);
    assert.equal(result.kind, 'complete');
    if (result.kind !== 'complete') return;
    assert.deepEqual(Object.keys(result.head.headers), []);
    assert.equal(result.head.rawHeaders.length, 0);
  });
});
