import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CgiHeadResult, findHeadEnd, parseCgiHead } from './head.js';

describe('findHeadEnd (RFC 3875 §6.2: LF or CRLF line ends)', () => {
  const cases: Array<[input: string, from: number, expected: number]> = [
    ['Content-Type: a\n\nbody', 0, 17],
    ['Content-Type: a\r\n\r\nbody', 0, 19],
    ['Content-Type: a\r\n\nbody', 0, 18],
    ['Content-Type: a\n\r\nbody', 0, 18],
    ['Content-Type: a\n', 0, -1],
    ['Content-Type: a\r\n\r', 0, -1],
    ['', 0, -1],
    ['\n', 0, 1],
    ['Content-Type: a\n\n', 16, 17],
    ['Content-Type: a\n\n', 10, 17],
    ['A: b\nC: d\n\nx', 9, 11],
  ];
  for (const [input, from, expected] of cases) {
    it(`${JSON.stringify(input)} from ${from} → ${expected}`, () => {
      assert.equal(findHeadEnd(Buffer.from(input, 'latin1'), from), expected);
    });
  }
});

describe('parseCgiHead (RFC 3875 §6)', () => {
  const cases: Array<{ name: string; head: string; nph?: boolean; expected: CgiHeadResult | RegExp }> = [
    {
      name: 'document response',
      head: 'Content-Type: text/html\n',
      expected: {
        kind: 'document',
        status: 200,
        reason: undefined,
        headers: { 'Content-Type': 'text/html' },
        length: undefined,
      },
    },
    {
      name: 'CRLF line ends and Status with reason',
      head: 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n',
      expected: {
        kind: 'document',
        status: 404,
        reason: 'Not Found',
        headers: { 'Content-Type': 'text/plain' },
        length: undefined,
      },
    },
    {
      name: 'Status without a reason uses the standard one',
      head: 'Status: 204\n',
      expected: { kind: 'document', status: 204, reason: undefined, headers: {}, length: undefined },
    },
    {
      name: 'local redirect',
      head: 'Location: /other/page?x=1\n',
      expected: { kind: 'local-redirect', location: '/other/page?x=1' },
    },
    {
      name: 'client redirect becomes 302',
      head: 'Location: http://example.com/\n',
      expected: {
        kind: 'document',
        status: 302,
        reason: undefined,
        headers: { Location: 'http://example.com/' },
        length: undefined,
      },
    },
    {
      name: 'a local path with a Status is a client redirect with that status',
      head: 'Status: 301 Moved\nLocation: /new\n',
      expected: {
        kind: 'document',
        status: 301,
        reason: 'Moved',
        headers: { Location: '/new' },
        length: undefined,
      },
    },
    {
      name: 'a network-path Location is a client redirect',
      head: 'Location: //example.com/x\n',
      expected: {
        kind: 'document',
        status: 302,
        reason: undefined,
        headers: { Location: '//example.com/x' },
        length: undefined,
      },
    },
    {
      name: 'valid Content-Length becomes the length; framing and hop-by-hop fields are dropped',
      head: 'Content-Type: a/b\nContent-Length: 12\nConnection: close\nTransfer-Encoding: chunked\nKeep-Alive: 5\nDate: x\nServer: y\nX-Other:  v  \n',
      expected: {
        kind: 'document',
        status: 200,
        reason: undefined,
        headers: { 'Content-Type': 'a/b', 'X-Other': 'v' },
        length: 12,
      },
    },
    {
      name: 'an invalid Content-Length is dropped',
      head: 'Content-Type: a/b\nContent-Length: 12abc\n',
      expected: {
        kind: 'document',
        status: 200,
        reason: undefined,
        headers: { 'Content-Type': 'a/b' },
        length: undefined,
      },
    },
    {
      name: 'repeated fields become a list',
      head: 'Content-Type: a/b\nSet-Cookie: a=1\nset-cookie: b=2\n',
      expected: {
        kind: 'document',
        status: 200,
        reason: undefined,
        headers: { 'Content-Type': 'a/b', 'Set-Cookie': ['a=1', 'b=2'] },
        length: undefined,
      },
    },
    {
      name: 'nph status line and fields pass through',
      head: 'HTTP/1.1 203 Straight\r\nContent-Type: text/plain\r\nStatus: 500 ignored\r\nContent-Length: 3\r\n',
      nph: true,
      expected: {
        kind: 'document',
        status: 203,
        reason: 'Straight',
        headers: { 'Content-Type': 'text/plain', Status: '500 ignored' },
        length: 3,
      },
    },
    { name: 'empty head', head: '', expected: /empty header block/ },
    { name: 'a line without a colon', head: 'not a header\n', expected: /line 1 .* no colon/ },
    { name: 'no colon on line 2', head: 'Content-Type: a\nbroken\n', expected: /line 2 .* no colon/ },
    { name: 'folded line', head: 'Content-Type: a\n  folded\n', expected: /folded/ },
    { name: 'invalid field name', head: 'Bad Name: x\nContent-Type: a\n', expected: /invalid field name/ },
    { name: 'control character in a value', head: 'Content-Type: a\u0001b\n', expected: /control character/ },
    { name: 'no Content-Type, Location or Status', head: 'X-Only: 1\n', expected: /none of Content-Type/ },
    { name: 'Status out of range', head: 'Status: 99 Low\n', expected: /three-digit code/ },
    { name: 'Status 1xx', head: 'Status: 101 Switching\n', expected: /three-digit code/ },
    { name: 'Status not a number', head: 'Status: OK\n', expected: /three-digit code/ },
    { name: 'Status twice', head: 'Status: 200\nStatus: 404\n', expected: /Status twice/ },
    { name: 'Location twice', head: 'Location: /a\nLocation: /b\n', expected: /Location twice/ },
    {
      name: 'Content-Type twice',
      head: 'Content-Type: a/b\nContent-Type: c/d\n',
      expected: /Content-Type twice/,
    },
    { name: 'relative Location', head: 'Location: page.html\n', expected: /absolute URI or a path/ },
    { name: 'nph without a status line', head: 'Content-Type: a\n', nph: true, expected: /status line/ },
    {
      name: 'nph with Transfer-Encoding',
      head: 'HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n',
      nph: true,
      expected: /Transfer-Encoding/,
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const result = parseCgiHead(testCase.head, testCase.nph ?? false);
      if (testCase.expected instanceof RegExp) {
        assert.equal(result.kind, 'error');
        assert.match((result as { message: string }).message, testCase.expected);
      } else {
        assert.deepEqual(result, testCase.expected);
      }
    });
  }
});
