import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HttpRequest } from '../../wire/message.js';
import { buildCgiEnvironment, serverNameFor } from './environment.js';
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
