import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HttpRequest } from '../../wire/message.js';
import { buildCgiEnvironment, serverNameFor } from './environment.js';
import { type CgiHeadResult, findHeadEnd, parseCgiHead } from './head.js';
import type { CgiScript } from './locate.js';
import { CGI_PATH } from './options.js';

function request(overrides: Partial<HttpRequest> = {}): HttpRequest {
  return {
    method: 'GET',
    target: '/cgi-bin/env.py/a/b?x=1&y=%20',
    path: '/cgi-bin/env.py/a/b',
    query: 'x=1&y=%20',
    version: '1.1',
    headers: { host: 'example.test:8080', 'user-agent': 'table/1.0' },
    rawHeaders: [
      ['Host', 'example.test:8080'],
      ['User-Agent', 'table/1.0'],
    ],
    body: null,
    contentLength: null,
    authority: 'example.test:8080',
    remoteAddress: '127.0.0.1',
    remotePort: 50000,
    localAddress: '127.0.0.1',
    localPort: 8080,
    secure: false,
    ...overrides,
  };
}

const script: CgiScript = {
  scriptPath: '/srv/www/cgi-bin/env.py',
  scriptName: '/cgi-bin/env.py',
  pathInfo: '/a/b',
  interpreter: null,
};
const options = { root: '/srv/www', serverSoftware: 'docroot/0.1.0' };

describe('buildCgiEnvironment (RFC 3875 §4.1)', () => {
  it('sets exactly the meta-variables for a GET with PATH_INFO', () => {
    assert.deepEqual(buildCgiEnvironment(request(), script, options, null), {
      PATH: CGI_PATH,
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_SOFTWARE: 'docroot/0.1.0',
      SERVER_NAME: 'example.test',
      SERVER_PORT: '8080',
      SERVER_PROTOCOL: 'HTTP/1.1',
      REQUEST_METHOD: 'GET',
      REQUEST_SCHEME: 'http',
      SCRIPT_NAME: '/cgi-bin/env.py',
      PATH_INFO: '/a/b',
      PATH_TRANSLATED: '/srv/www/a/b',
      QUERY_STRING: 'x=1&y=%20',
      REMOTE_ADDR: '127.0.0.1',
      REMOTE_PORT: '50000',
      SERVER_ADDR: '127.0.0.1',
      SCRIPT_FILENAME: '/srv/www/cgi-bin/env.py',
      REQUEST_URI: '/cgi-bin/env.py/a/b?x=1&y=%20',
      DOCUMENT_ROOT: '/srv/www',
      CONTEXT_DOCUMENT_ROOT: '/srv/www',
      CONTEXT_PREFIX: '',
      REDIRECT_STATUS: '200',
      HTTP_HOST: 'example.test:8080',
      HTTP_USER_AGENT: 'table/1.0',
    });
  });

  const cases: Array<{
    name: string;
    request: Partial<HttpRequest>;
    script?: Partial<CgiScript>;
    contentLength?: number | null;
    present?: Record<string, string>;
    absent?: string[];
  }> = [
    {
      name: 'no PATH_TRANSLATED without PATH_INFO (§4.1.6)',
      request: {},
      script: { pathInfo: '' },
      present: { PATH_INFO: '' },
      absent: ['PATH_TRANSLATED'],
    },
    {
      name: 'CONTENT_LENGTH and CONTENT_TYPE only with a body (§4.1.2, §4.1.3)',
      request: { method: 'POST', headers: { 'content-type': 'text/plain', 'content-length': '5' } },
      contentLength: 5,
      present: { CONTENT_LENGTH: '5', CONTENT_TYPE: 'text/plain', REQUEST_METHOD: 'POST' },
      absent: ['HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH'],
    },
    {
      name: 'no CONTENT_* for a bodiless request',
      request: { headers: { 'content-type': 'text/plain' } },
      absent: ['CONTENT_LENGTH', 'CONTENT_TYPE', 'HTTP_CONTENT_TYPE'],
    },
    {
      name: 'never HTTP_PROXY from a Proxy field (httpoxy)',
      request: { headers: { proxy: 'http://evil.example/' } },
      absent: ['HTTP_PROXY'],
    },
    {
      name: 'credentials are not passed',
      request: { headers: { authorization: 'Basic eDp5', 'proxy-authorization': 'Basic eDp5' } },
      absent: ['HTTP_AUTHORIZATION', 'HTTP_PROXY_AUTHORIZATION'],
    },
    {
      name: 'field names with "_" are skipped so they cannot pose as "-" names',
      request: { headers: { x_forwarded_for: '6.6.6.6', 'x-forwarded-for': '1.2.3.4' } },
      present: { HTTP_X_FORWARDED_FOR: '1.2.3.4' },
    },
    {
      name: 'repeated fields arrive joined by the wire',
      request: { headers: { accept: 'text/html, text/plain', cookie: 'a=1; b=2' } },
      present: { HTTP_ACCEPT: 'text/html, text/plain', HTTP_COOKIE: 'a=1; b=2' },
    },
    {
      name: 'HTTPS=on and REQUEST_SCHEME=https on TLS',
      request: { secure: true },
      present: { HTTPS: 'on', REQUEST_SCHEME: 'https' },
    },
    {
      name: 'REMOTE_USER and AUTH_TYPE when the access check verified the credentials (§4.1.1, §4.1.11)',
      request: { remoteUser: 'dev', headers: { authorization: 'Basic ZGV2OnB3' } },
      present: { REMOTE_USER: 'dev', AUTH_TYPE: 'Basic' },
      absent: ['HTTP_AUTHORIZATION'],
    },
    {
      name: 'no REMOTE_USER from an Authorization field nobody checked',
      request: { headers: { authorization: 'Basic ZGV2OnB3' } },
      absent: ['REMOTE_USER', 'AUTH_TYPE'],
    },
    {
      name: 'REQUEST_URI of an absolute-form target is its path and query',
      request: { target: 'http://example.test/cgi-bin/env.py/a/b?x=1&y=%20' },
      present: { REQUEST_URI: '/cgi-bin/env.py/a/b?x=1&y=%20' },
    },
    {
      name: 'REQUEST_URI keeps the target exactly as sent',
      request: { target: '/cgi-bin/%65nv.py/a/b', path: '/cgi-bin/%65nv.py/a/b', query: '' },
      present: { REQUEST_URI: '/cgi-bin/%65nv.py/a/b', QUERY_STRING: '' },
    },
    {
      name: 'SERVER_PROTOCOL follows the request version',
      request: { version: '1.0' },
      present: { SERVER_PROTOCOL: 'HTTP/1.0' },
      absent: ['HTTPS'],
    },
    {
      name: 'SERVER_NAME falls back to the local address',
      request: { authority: '', localAddress: '10.0.0.7' },
      present: { SERVER_NAME: '10.0.0.7' },
    },
    {
      name: 'Transfer-Encoding is not passed (the body is already decoded)',
      request: { method: 'POST', headers: { 'transfer-encoding': 'chunked' } },
      contentLength: 3,
      present: { CONTENT_LENGTH: '3' },
      absent: ['HTTP_TRANSFER_ENCODING'],
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const env = buildCgiEnvironment(
        request(testCase.request),
        { ...script, ...testCase.script },
        options,
        testCase.contentLength ?? null,
      );
      for (const [name, value] of Object.entries(testCase.present ?? {}))
        assert.equal(env[name], value, name);
      for (const name of testCase.absent ?? []) assert.equal(env[name], undefined, name);
    });
  }
});

describe('serverNameFor (RFC 3875 §4.1.14)', () => {
  const cases: Array<[authority: string, local: string, expected: string]> = [
    ['example.test', '127.0.0.1', 'example.test'],
    ['example.test:8080', '127.0.0.1', 'example.test'],
    ['[::1]:8080', '::1', '[::1]'],
    ['[::1]', '::1', '[::1]'],
    ['127.0.0.1:80', '127.0.0.1', '127.0.0.1'],
    ['', '::1', '[::1]'],
    ['', '192.0.2.1', '192.0.2.1'],
  ];
  for (const [authority, local, expected] of cases) {
    it(`${JSON.stringify(authority)} / ${local} → ${expected}`, () => {
      assert.equal(serverNameFor(authority, local), expected);
    });
  }
});

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
