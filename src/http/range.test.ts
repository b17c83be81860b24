import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ByteRange,
  contentRangeValue,
  MAX_RANGES,
  makeBoundary,
  parseRangeHeader,
  planMultipartByteranges,
  type RangeParseResult,
  unsatisfiedContentRange,
} from './range.js';

const IGNORE: RangeParseResult = { kind: 'ignore' };
const UNSATISFIABLE: RangeParseResult = { kind: 'unsatisfiable' };
const ranges = (...list: Array<[number, number]>): RangeParseResult => ({
  kind: 'ranges',
  ranges: list.map(([start, end]) => ({ start, end })),
});

/** `bytes=0-0,2-2,4-4,...` with `count` disjoint one-byte ranges. */
const sparse = (count: number): string =>
  `bytes=${Array.from({ length: count }, (_, i) => `${2 * i}-${2 * i}`).join(',')}`;

const parseCases: Array<{ value: string; size?: number; expected: RangeParseResult; why?: string }> = [
  // RFC 9110 §14.1.2 examples, on a 10000-byte representation.
  { value: 'bytes=0-499', size: 10000, expected: ranges([0, 499]), why: 'the first 500 bytes' },
  { value: 'bytes=500-999', size: 10000, expected: ranges([500, 999]), why: 'the second 500 bytes' },
  { value: 'bytes=-500', size: 10000, expected: ranges([9500, 9999]), why: 'the final 500 bytes (suffix)' },
  {
    value: 'bytes=9500-',
    size: 10000,
    expected: ranges([9500, 9999]),
    why: 'the final 500 bytes (open-ended)',
  },
  { value: 'bytes=0-0,-1', size: 10000, expected: ranges([0, 0], [9999, 9999]), why: 'first and last bytes' },
  { value: 'bytes=0-99', expected: ranges([0, 99]) },
  { value: 'bytes=100-', expected: ranges([100, 999]) },
  { value: 'bytes=-500', expected: ranges([500, 999]) },
  {
    value: 'bytes=-5000',
    expected: ranges([0, 999]),
    why: 'a suffix longer than the file selects all of it',
  },
  { value: 'bytes=900-5000', expected: ranges([900, 999]), why: 'last-pos past the end is clipped' },
  { value: 'bytes=0-99999999999999999999999', expected: ranges([0, 999]), why: 'a huge last-pos is clipped' },
  { value: 'bytes=999-999', expected: ranges([999, 999]) },
  { value: 'Bytes=0-1', expected: ranges([0, 1]), why: 'the unit is case-insensitive' },
  { value: 'bytes= 0-1', expected: ranges([0, 1]), why: 'OWS after = is tolerated' },
  { value: 'bytes=0-1 , 5-6', expected: ranges([0, 1], [5, 6]), why: 'OWS around commas' },
  { value: 'bytes=0-1,\t5-6 ', expected: ranges([0, 1], [5, 6]), why: 'tabs and trailing OWS' },
  { value: 'bytes=,0-1,,', expected: ranges([0, 1]), why: 'empty list elements are skipped' },
  { value: 'bytes=500-600,601-999', expected: ranges([500, 999]), why: 'adjacent ranges are coalesced' },
  { value: 'bytes=500-700,601-999', expected: ranges([500, 999]), why: 'overlapping ranges are coalesced' },
  { value: 'bytes=500-999,0-99', expected: ranges([0, 99], [500, 999]), why: 'ranges are sorted' },
  {
    value: 'bytes=0-99,200-299,50-250',
    expected: ranges([0, 299]),
    why: 'a range bridging two others merges all three',
  },
  { value: 'bytes=0-,0-,0-', expected: ranges([0, 999]), why: 'repeated whole-file ranges are served once' },
  {
    value: 'bytes=0-999,-1000,0-',
    expected: ranges([0, 999]),
    why: 'amplification through different spellings is served once',
  },
  { value: 'bytes=0-99,2000-3000', expected: ranges([0, 99]), why: 'unsatisfiable members are dropped' },
  {
    value: sparse(MAX_RANGES),
    size: 10000,
    expected: ranges(...Array.from({ length: MAX_RANGES }, (_, i): [number, number] => [2 * i, 2 * i])),
    why: 'exactly MAX_RANGES ranges are served',
  },
  {
    value: sparse(MAX_RANGES + 1),
    size: 10000,
    expected: IGNORE,
    why: 'more than MAX_RANGES disjoint ranges are ignored',
  },
  {
    value: `bytes=${Array.from({ length: 500 }, () => '0-9').join(',')}`,
    expected: ranges([0, 9]),
    why: 'many ranges that coalesce to few are served',
  },
  { value: 'bytes=1000-', expected: UNSATISFIABLE, why: 'first-pos at the end' },
  { value: 'bytes=1000-2000', expected: UNSATISFIABLE, why: 'first-pos past the end' },
  { value: 'bytes=-0', expected: UNSATISFIABLE, why: 'a zero-length suffix' },
  { value: 'bytes=-0,5000-', expected: UNSATISFIABLE, why: 'no member is satisfiable' },
  { value: 'bytes=500-200', expected: IGNORE, why: 'last-pos before first-pos is invalid' },
  { value: 'bytes=0-1,500-200', expected: IGNORE, why: 'one invalid member invalidates the whole header' },
  { value: 'bytes=0-1,x', expected: IGNORE },
  { value: 'bytes=0 - 1', expected: IGNORE, why: 'no whitespace inside a range-spec' },
  { value: 'bytes=+0-1', expected: IGNORE },
  { value: 'bytes=0x10-20', expected: IGNORE },
  { value: 'bytes=1.5-2', expected: IGNORE },
  { value: 'bytes=--1', expected: IGNORE },
  { value: 'bytes=-', expected: IGNORE },
  { value: 'bytes=5', expected: IGNORE },
  { value: 'bytes=', expected: IGNORE, why: 'an empty range-set' },
  { value: 'bytes=,', expected: IGNORE },
  { value: 'bytes 0-1', expected: IGNORE, why: 'a missing =' },
  { value: 'bytes =0-1', expected: IGNORE },
  { value: 'items=0-1', expected: IGNORE, why: 'another range unit' },
  { value: 'byte=0-1', expected: IGNORE },
  { value: '', expected: IGNORE },
  { value: 'bytes=0-1', size: 0, expected: IGNORE, why: 'an empty file' },
  { value: 'bytes=-1', size: 0, expected: IGNORE, why: 'an empty file' },
];

for (const { value, size = 1000, expected, why } of parseCases) {
  const label = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  const verb =
    expected.kind === 'ranges' ? 'accepts' : expected.kind === 'ignore' ? 'ignores' : 'finds unsatisfiable';
  test(`parseRangeHeader() ${verb} ${label} on ${size} bytes${why === undefined ? '' : ` (${why})`}`, () => {
    assert.deepEqual(parseRangeHeader(value, size), expected);
  });
}

const contentRangeCases: Array<{ actual: () => string; expected: string }> = [
  { actual: () => contentRangeValue({ start: 0, end: 99 }, 1000), expected: 'bytes 0-99/1000' },
  { actual: () => contentRangeValue({ start: 999, end: 999 }, 1000), expected: 'bytes 999-999/1000' },
  { actual: () => unsatisfiedContentRange(1000), expected: 'bytes */1000' },
  { actual: () => unsatisfiedContentRange(0), expected: 'bytes */0' },
];

for (const { actual, expected } of contentRangeCases) {
  test(`Content-Range value is ${expected}`, () => {
    assert.equal(actual(), expected);
  });
}

test('makeBoundary() returns distinct 32-character hex strings', () => {
  const a = makeBoundary();
  const b = makeBoundary();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, b);
});

/** Assembles the body the server would send, from the plan and the file bytes. */
function assemble(plan: ReturnType<typeof planMultipartByteranges>, file: Buffer): Buffer {
  const chunks: Buffer[] = [];
  for (const part of plan.parts) chunks.push(part.head, file.subarray(part.start, part.end + 1));
  chunks.push(plan.tail);
  return Buffer.concat(chunks);
}

/** A small independent multipart/byteranges reader (RFC 2046 §5.1.1 delimiters, RFC 9110 §14.6 parts). */
function parseMultipart(
  body: Buffer,
  boundary: string,
): { parts: Array<{ headers: Record<string, string>; data: Buffer }>; closed: boolean } {
  const delimiter = Buffer.from(`--${boundary}`);
  assert.equal(body.indexOf(delimiter), 0, 'the body starts with the first delimiter');
  const parts: Array<{ headers: Record<string, string>; data: Buffer }> = [];
  let pos = delimiter.length;
  while (true) {
    if (body.subarray(pos, pos + 2).toString() === '--') {
      assert.equal(body.subarray(pos + 2).toString(), '\r\n', 'only a CRLF follows the close delimiter');
      return { parts, closed: true };
    }
    assert.equal(body.subarray(pos, pos + 2).toString(), '\r\n');
    const headEnd = body.indexOf('\r\n\r\n', pos);
    const headers: Record<string, string> = {};
    for (const line of body
      .subarray(pos + 2, headEnd)
      .toString('latin1')
      .split('\r\n')) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headEnd + 4);
    assert.ok(next >= 0, 'every part is followed by a delimiter');
    parts.push({ headers, data: body.subarray(headEnd + 4, next) });
    pos = next + 2 + delimiter.length;
  }
}

const FILE = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));

const multipartCases: Array<{ name: string; ranges: ByteRange[]; contentType: string }> = [
  {
    name: 'two ranges',
    ranges: [
      { start: 0, end: 99 },
      { start: 500, end: 999 },
    ],
    contentType: 'text/plain; charset=utf-8',
  },
  {
    name: 'one-byte ranges',
    ranges: [
      { start: 0, end: 0 },
      { start: 999, end: 999 },
    ],
    contentType: 'application/pdf',
  },
  {
    name: 'three ranges including bytes that look like CRLF--',
    ranges: [
      { start: 1, end: 2 },
      { start: 10, end: 20 },
      { start: 30, end: 40 },
    ],
    contentType: 'application/octet-stream',
  },
  { name: 'a single range', ranges: [{ start: 0, end: 999 }], contentType: 'image/png' },
];

for (const { name, ranges: list, contentType } of multipartCases) {
  test(`planMultipartByteranges() frames ${name} so the body parses back to the requested bytes`, () => {
    const boundary = makeBoundary();
    const plan = planMultipartByteranges(list, FILE.length, contentType, boundary);
    assert.equal(plan.contentType, `multipart/byteranges; boundary=${boundary}`);
    const body = assemble(plan, FILE);
    assert.equal(plan.length, body.length, 'length matches the assembled body');
    const parsed = parseMultipart(body, boundary);
    assert.ok(parsed.closed);
    assert.equal(parsed.parts.length, list.length);
    parsed.parts.forEach((part, i) => {
      const range = list[i] as ByteRange;
      assert.deepEqual(part.headers, {
        'content-type': contentType,
        'content-range': `bytes ${range.start}-${range.end}/${FILE.length}`,
      });
      assert.deepEqual(part.data, FILE.subarray(range.start, range.end + 1));
    });
  });
}

test('planMultipartByteranges() produces the exact RFC 9110 §14.6 framing', () => {
  const file = Buffer.from('0123456789');
  const plan = planMultipartByteranges(
    [
      { start: 0, end: 1 },
      { start: 8, end: 9 },
    ],
    10,
    'text/plain',
    'SEP',
  );
  assert.equal(
    assemble(plan, file).toString(),
    '--SEP\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01' +
      '\r\n--SEP\r\nContent-Type: text/plain\r\nContent-Range: bytes 8-9/10\r\n\r\n89' +
      '\r\n--SEP--\r\n',
  );
});

test('planMultipartByteranges() omits the part Content-Type when none is given', () => {
  const plan = planMultipartByteranges([{ start: 0, end: 0 }], 1, '', 'b');
  assert.equal(plan.parts[0]?.head.toString(), '--b\r\nContent-Range: bytes 0-0/1\r\n\r\n');
});

const badBoundaries: Array<{ name: string; boundary: string }> = [
  { name: 'an empty boundary', boundary: '' },
  { name: 'a 71-character boundary', boundary: 'a'.repeat(71) },
  { name: 'a boundary with a space', boundary: 'a b' },
  { name: 'a boundary with a quote', boundary: 'a"b' },
  { name: 'a boundary with CRLF', boundary: 'a\r\nb' },
];

for (const { name, boundary } of badBoundaries) {
  test(`planMultipartByteranges() rejects ${name}`, () => {
    assert.throws(
      () => planMultipartByteranges([{ start: 0, end: 0 }], 1, 'text/plain', boundary),
      TypeError,
    );
  });
}

test('planMultipartByteranges() rejects an empty range list', () => {
  assert.throws(() => planMultipartByteranges([], 1, 'text/plain', 'b'), TypeError);
});
