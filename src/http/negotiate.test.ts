import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseContentEncoding, chooseMediaType, parseQualityList, type QualityItem } from './negotiate.js';

const qualityCases: Array<{ name: string; value: string; expected: QualityItem[] }> = [
  { name: 'defaults q to 1', value: 'gzip', expected: [{ value: 'gzip', q: 1 }] },
  {
    name: 'reads the RFC 9110 §12.5.3 example',
    value: 'gzip;q=1.0, identity; q=0.5, *;q=0',
    expected: [
      { value: 'gzip', q: 1 },
      { value: 'identity', q: 0.5 },
      { value: '*', q: 0 },
    ],
  },
  {
    name: 'reads the RFC 9110 §12.5.1 example with media ranges',
    value: 'text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, */*;q=0.5',
    expected: [
      { value: 'text/*', q: 0.3 },
      { value: 'text/plain', q: 0.7 },
      { value: 'text/plain', q: 1 },
      { value: '*/*', q: 0.5 },
    ],
  },
  {
    name: 'lower-cases values',
    value: 'GZip, Text/HTML',
    expected: [
      { value: 'gzip', q: 1 },
      { value: 'text/html', q: 1 },
    ],
  },
  { name: 'accepts an upper-case Q', value: 'br;Q=0.2', expected: [{ value: 'br', q: 0.2 }] },
  { name: 'accepts three decimals', value: 'br;q=0.001', expected: [{ value: 'br', q: 0.001 }] },
  { name: 'accepts 1.000', value: 'br;q=1.000', expected: [{ value: 'br', q: 1 }] },
  { name: 'accepts 0. with no decimals', value: 'br;q=0.', expected: [{ value: 'br', q: 0 }] },
  { name: 'drops four decimals', value: 'br;q=0.0001, gzip', expected: [{ value: 'gzip', q: 1 }] },
  { name: 'drops q above 1', value: 'br;q=1.5, gzip', expected: [{ value: 'gzip', q: 1 }] },
  { name: 'drops 1.001', value: 'br;q=1.001, gzip', expected: [{ value: 'gzip', q: 1 }] },
  { name: 'drops a negative q', value: 'br;q=-1, gzip', expected: [{ value: 'gzip', q: 1 }] },
  { name: 'drops an empty q', value: 'br;q=, gzip', expected: [{ value: 'gzip', q: 1 }] },
  { name: 'drops a leading-dot q', value: 'br;q=.5, gzip', expected: [{ value: 'gzip', q: 1 }] },
  { name: 'drops spaces around = in q', value: 'br;q = 0.5, gzip', expected: [{ value: 'gzip', q: 1 }] },
  {
    name: 'ignores parameters other than q',
    value: 'text/html;level=1;q=0.4',
    expected: [{ value: 'text/html', q: 0.4 }],
  },
  {
    name: 'ignores accept-ext after q',
    value: 'text/html;q=0.4;ext=1',
    expected: [{ value: 'text/html', q: 0.4 }],
  },
  {
    name: 'reads commas inside quoted parameters',
    value: 'text/html;x="a,b";q=0.3, br',
    expected: [
      { value: 'text/html', q: 0.3 },
      { value: 'br', q: 1 },
    ],
  },
  {
    name: 'reads escaped quotes inside quoted parameters',
    value: 'text/html;x="a\\",b";q=0.3',
    expected: [{ value: 'text/html', q: 0.3 }],
  },
  {
    name: 'skips empty elements and OWS',
    value: ' , gzip ;  q=0.5 ,, ',
    expected: [{ value: 'gzip', q: 0.5 }],
  },
  { name: 'allows an empty parameter', value: 'gzip;;q=0.5', expected: [{ value: 'gzip', q: 0.5 }] },
  {
    name: 'drops elements with invalid characters',
    value: 'g zip, gz@ip, br',
    expected: [{ value: 'br', q: 1 }],
  },
  { name: 'drops media types with two slashes', value: 'a/b/c, br', expected: [{ value: 'br', q: 1 }] },
  { name: 'drops an unterminated quoted parameter', value: 'text/html;x="abc', expected: [] },
  { name: 'returns nothing for an empty value', value: '', expected: [] },
];

for (const { name, value, expected } of qualityCases) {
  test(`parseQualityList() ${name}: ${JSON.stringify(value)}`, () => {
    assert.deepEqual(parseQualityList(value), expected);
  });
}

const ALL = ['br', 'gzip'] as const;

const encodingCases: Array<{
  name: string;
  header: string | undefined;
  available?: readonly string[];
  expected: string | null;
}> = [
  { name: 'gives identity when the header is absent', header: undefined, expected: 'identity' },
  { name: 'gives identity for an empty header', header: '', expected: 'identity' },
  { name: 'takes the server order on ties', header: 'gzip, deflate, br', expected: 'br' },
  { name: 'honours client weights over server order', header: 'br;q=0.5, gzip', expected: 'gzip' },
  { name: 'gives identity when nothing available is accepted', header: 'deflate', expected: 'identity' },
  {
    name: 'gives identity when the client prefers it explicitly',
    header: 'gzip;q=0.5, identity',
    expected: 'identity',
  },
  { name: 'prefers a named coding to implicit identity', header: 'gzip;q=0.5', expected: 'gzip' },
  { name: 'accepts anything for *', header: '*', expected: 'br' },
  { name: 'excludes a coding given q=0 even with *', header: 'br;q=0, *', expected: 'gzip' },
  {
    name: 'falls back to identity for gzip;q=0, * when gzip is all there is',
    header: 'gzip;q=0, *',
    available: ['gzip'],
    expected: 'identity',
  },
  { name: 'refuses everything for *;q=0', header: '*;q=0', expected: null },
  { name: 'allows identity for *;q=0, identity', header: '*;q=0, identity', expected: 'identity' },
  { name: 'gives a named coding despite *;q=0', header: 'gzip, *;q=0', expected: 'gzip' },
  { name: 'refuses identity;q=0 when nothing else is acceptable', header: 'identity;q=0', expected: null },
  { name: 'gives a coding for identity;q=0, gzip', header: 'identity;q=0, gzip', expected: 'gzip' },
  { name: 'treats x-gzip as gzip', header: 'x-gzip', expected: 'gzip' },
  { name: 'matches case-insensitively', header: 'GZIP', expected: 'gzip' },
  { name: 'returns the available element as given', header: 'gzip', available: ['GZip'], expected: 'GZip' },
  { name: 'gives identity with nothing available', header: 'gzip, br', available: [], expected: 'identity' },
  {
    name: 'refuses with nothing available and identity excluded',
    header: 'gzip, identity;q=0',
    available: [],
    expected: null,
  },
  {
    name: 'uses the first of repeated entries',
    header: 'gzip;q=0, gzip',
    available: ['gzip'],
    expected: 'identity',
  },
  { name: 'ignores entries with invalid q', header: 'br;q=2, gzip;q=0.1', expected: 'gzip' },
  {
    name: 'lets * cover identity at its weight',
    header: 'br;q=0.2, *;q=0.5',
    available: ['br'],
    expected: 'identity',
  },
];

for (const { name, header, available = ALL, expected } of encodingCases) {
  test(`chooseContentEncoding() ${name}: ${JSON.stringify(header)} of [${available.join(', ')}] → ${expected}`, () => {
    assert.equal(chooseContentEncoding(header, available), expected);
  });
}

const OFFERED = ['text/html', 'application/json', 'text/plain'] as const;

const mediaCases: Array<{
  name: string;
  accept: string | undefined;
  offered?: readonly string[];
  expected: string | null;
}> = [
  { name: 'gives the first offered when Accept is absent', accept: undefined, expected: 'text/html' },
  { name: 'gives the first offered when Accept is empty', accept: '', expected: 'text/html' },
  { name: 'gives the first offered when Accept is all malformed', accept: 'nonsense', expected: 'text/html' },
  { name: 'gives the first offered for */*', accept: '*/*', expected: 'text/html' },
  { name: 'picks an exact match', accept: 'application/json', expected: 'application/json' },
  { name: 'honours q-values', accept: 'text/html;q=0.5, text/plain', expected: 'text/plain' },
  {
    name: 'prefers the more specific range on equal q',
    accept: '*/*, application/json',
    expected: 'application/json',
  },
  {
    name: 'lets text/plain beat text/* and */* when weighing text/plain',
    accept: 'text/*;q=0.1, */*;q=0.2, text/plain;q=0.9',
    expected: 'text/plain',
  },
  {
    name: 'lets text/plain;q=0 exclude it despite text/*',
    accept: 'text/*, text/plain;q=0',
    offered: ['text/plain', 'text/html'],
    expected: 'text/html',
  },
  {
    name: 'lets text/* beat */* for text types',
    accept: 'text/*;q=0, */*',
    offered: ['text/html', 'image/png'],
    expected: 'image/png',
  },
  { name: 'refuses when nothing matches', accept: 'image/png', expected: null },
  { name: 'refuses when everything has q=0', accept: '*/*;q=0', expected: null },
  { name: 'matches case-insensitively', accept: 'TEXT/PLAIN', expected: 'text/plain' },
  {
    name: 'ignores parameters on the offered type and returns it whole',
    accept: 'text/plain',
    offered: ['text/plain; charset=utf-8'],
    expected: 'text/plain; charset=utf-8',
  },
  {
    name: 'does not let text/* match a type that merely starts with text',
    accept: 'text/*',
    offered: ['textual/x'],
    expected: null,
  },
  {
    name: 'reads the RFC 9110 §12.5.1 browser-like Accept',
    accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    offered: ['application/json', 'text/html'],
    expected: 'text/html',
  },
  { name: 'gives null when nothing is offered', accept: '*/*', offered: [], expected: null },
];

for (const { name, accept, offered = OFFERED, expected } of mediaCases) {
  test(`chooseMediaType() ${name}: ${JSON.stringify(accept)} → ${expected}`, () => {
    assert.equal(chooseMediaType(accept, offered), expected);
  });
}
