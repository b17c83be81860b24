import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HttpRequest } from '../wire/message.js';
import type { ResponseHead } from '../wire/response-parser.js';
import { forwardRequestFields, forwardResponseHeaders, rewriteLocation, rewriteSetCookie } from './fields.js';
import {
  hasDotSegment,
  matchRoute,
  orderRoutes,
  type ProxyRoute,
  parseProxyRoute,
  upstreamTarget,
} from './routes.js';

function route(text: string): ProxyRoute {
  const parsed = parseProxyRoute(text);
  assert.notEqual(typeof parsed, 'string', String(parsed));
  return parsed as ProxyRoute;
}

describe('proxy routes', () => {
  const targets: Array<[string, string, string, string]> = [
    // route, path, query, upstream target
    ['/api=http://127.0.0.1:3000', '/api/users', '', '/api/users'],
    ['/api=http://127.0.0.1:3000', '/api', 'a=1', '/api?a=1'],
    ['/api=http://127.0.0.1:3000/', '/api/users', '', '/users'],
    ['/api=http://127.0.0.1:3000/', '/api', '', '/'],
    ['/api/=http://127.0.0.1:3000/', '/api/users', 'x', '/users?x'],
    ['/api=http://127.0.0.1:3000/v1', '/api/users', '', '/v1/users'],
    ['/api=http://127.0.0.1:3000/v1/', '/api', '', '/v1'],
    ['/=http://127.0.0.1:3000', '/anything', '', '/anything'],
  ];
  for (const [text, path, query, expected] of targets) {
    test(`${text}: ${path}${query ? `?${query}` : ''} → ${expected}`, () => {
      assert.equal(upstreamTarget(route(text), path, query), expected);
    });
  }

  test('whole segments only, and the longest prefix wins', () => {
    const routes = orderRoutes([
      route('/api=http://a:1'),
      route('/api/v2=http://b:2'),
      route('/=http://c:3'),
    ]);
    assert.equal(matchRoute(routes, '/api/x')?.upstream.hostname, 'a');
    assert.equal(matchRoute(routes, '/api')?.upstream.hostname, 'a');
    assert.equal(matchRoute(routes, '/api/v2/x')?.upstream.hostname, 'b');
    assert.equal(matchRoute(routes, '/api/v22')?.upstream.hostname, 'a');
    assert.equal(matchRoute(routes, '/apix')?.upstream.hostname, 'c');
    assert.equal(matchRoute(orderRoutes([route('/api=http://a:1')]), '/apix'), null);
  });

  test('upstream parts: https default port, IPv6, authority for Host', () => {
    const secure = route('/s=https://example.test');
    assert.deepEqual(secure.upstream, {
      secure: true,
      hostname: 'example.test',
      port: 443,
      authority: 'example.test',
    });
    const v6 = route('/v=http://[::1]:8081');
    assert.deepEqual(v6.upstream, { secure: false, hostname: '::1', port: 8081, authority: '[::1]:8081' });
  });

  const bad = [
    'api=http://a',
    '/api',
    '/api=ftp://a',
    '/api=http://a/?q',
    '/api=http://u:p@a',
    '/a b=http://a',
    '/api=http://',
  ];
  for (const text of bad) {
    test(`refuses ${JSON.stringify(text)} with a message`, () => {
      assert.equal(typeof parseProxyRoute(text), 'string');
    });
  }

  test('dot segments, plain or encoded', () => {
    for (const path of ['/api/../x', '/api/./x', '/api/%2e%2E/x', '/api/.%2e', '/api/..'])
      assert.ok(hasDotSegment(path), path);
    for (const path of ['/api/x', '/api/...', '/api/.well-known', '/api/a..b'])
      assert.ok(!hasDotSegment(path), path);
  });
});

function request(headers: Array<[string, string]>, extra: Partial<HttpRequest> = {}): HttpRequest {
  const map: Record<string, string> = {};
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    map[key] = map[key] === undefined ? value : `${map[key]}, ${value}`;
  }
  return {
    method: 'GET',
    target: '/api/x',
    path: '/api/x',
    query: '',
    version: '1.1',
    headers: map,
    rawHeaders: headers,
    body: null,
    contentLength: null,
    authority: map.host ?? '',
    remoteAddress: '::ffff:10.0.0.7',
    remotePort: 5000,
    localAddress: '127.0.0.1',
    localPort: 8080,
    secure: false,
    ...extra,
  };
}

const POLICY = { keepHost: false, rewriteHeaders: true, viaName: 'docroot' };

describe('proxy header fields', () => {
  test('request: hop-by-hop and Connection-named fields dropped, forwarding fields added', () => {
    const fields = forwardRequestFields(
      request([
        ['Host', 'localhost:8080'],
        ['Connection', 'keep-alive, X-Secret'],
        ['Keep-Alive', 'timeout=5'],
        ['X-Secret', 'hop'],
        ['TE', 'trailers'],
        ['Proxy-Authorization', 'Basic abc'],
        ['Accept', 'application/json'],
        ['X-Forwarded-For', '192.0.2.1'],
        ['Via', '1.1 edge'],
        ['Upgrade', 'websocket'],
      ]),
      route('/api=http://127.0.0.1:3000'),
      POLICY,
      false,
    );
    assert.equal(
      fields,
      'Host: 127.0.0.1:3000\r\nAccept: application/json\r\nVia: 1.1 edge, 1.1 docroot\r\n' +
        'X-Forwarded-For: 192.0.2.1, 10.0.0.7\r\nX-Forwarded-Host: localhost:8080\r\nX-Forwarded-Proto: http\r\n' +
        'Forwarded: for=10.0.0.7;host="localhost:8080";proto=http\r\n',
    );
  });

  test('request: Host kept when asked; IPv6 client quoted in Forwarded; Upgrade kept for a switch', () => {
    const fields = forwardRequestFields(
      request(
        [
          ['Host', 'localhost:8080'],
          ['Connection', 'Upgrade'],
          ['Upgrade', 'websocket'],
        ],
        { remoteAddress: '::1', secure: true },
      ),
      route('/api=http://127.0.0.1:3000'),
      { ...POLICY, keepHost: true },
      true,
    );
    assert.match(fields, /^Host: localhost:8080\r\n/);
    assert.match(fields, /\r\nUpgrade: websocket\r\n/);
    assert.match(fields, /Forwarded: for="\[::1\]";host="localhost:8080";proto=https\r\n/);
    assert.match(fields, /X-Forwarded-Proto: https/);
  });

  test('request: no client address (a Unix socket) is "unknown" in Forwarded and X-Forwarded-For', () => {
    const fields = forwardRequestFields(
      request([['Host', 'h']], { remoteAddress: '' }),
      route('/api=http://127.0.0.1:3000'),
      POLICY,
      false,
    );
    assert.match(fields, /\r\nX-Forwarded-For: unknown\r\n/);
    assert.match(fields, /\r\nForwarded: for=unknown;host=h;proto=http\r\n/);
  });

  const head = (rawHeaders: Array<[string, string]>): ResponseHead => {
    const headers: Record<string, string> = {};
    for (const [n, v] of rawHeaders)
      headers[n.toLowerCase()] = headers[n.toLowerCase()] ? `${headers[n.toLowerCase()]}, ${v}` : v;
    return {
      version: '1.1',
      status: 200,
      reason: 'OK',
      headers,
      rawHeaders,
      framing: { kind: 'none' },
      keepAlive: true,
    };
  };

  test('response: hop-by-hop, Date and Server dropped, Set-Cookie kept apart, Via added', () => {
    const headers = forwardResponseHeaders(
      head([
        ['Date', 'x'],
        ['Server', 'backend'],
        ['Connection', 'X-Hop'],
        ['X-Hop', '1'],
        ['Transfer-Encoding', 'chunked'],
        ['Content-Type', 'application/json'],
        ['Set-Cookie', 'a=1; Domain=backend.test; Path=/'],
        ['set-cookie', 'b=2'],
        ['Access-Control-Allow-Origin', 'https://app.test'],
      ]),
      route('/api=http://127.0.0.1:3000/'),
      POLICY,
      false,
    );
    assert.deepEqual(headers, {
      'Content-Type': 'application/json',
      'Set-Cookie': ['a=1; Path=/api', 'b=2'],
      'Access-Control-Allow-Origin': 'https://app.test',
      Via: '1.1 docroot',
    });
  });

  const locations: Array<[string, string, string]> = [
    ['/api=http://127.0.0.1:3000/', 'http://127.0.0.1:3000/login?next=1', '/api/login?next=1'],
    ['/api=http://127.0.0.1:3000/', '/login', '/api/login'],
    ['/api=http://127.0.0.1:3000/v1', '/v1/items/2', '/api/items/2'],
    ['/api=http://127.0.0.1:3000/v1', '/other', '/other'],
    ['/api=http://127.0.0.1:3000', 'http://127.0.0.1:3000/api/x', '/api/x'],
    ['/api=http://127.0.0.1:3000', 'https://elsewhere.test/', 'https://elsewhere.test/'],
    ['/api=http://127.0.0.1:3000', 'http://127.0.0.1:30001/x', 'http://127.0.0.1:30001/x'],
    ['/api=http://127.0.0.1:3000/', '//evil.test/x', '//evil.test/x'],
  ];
  for (const [text, location, expected] of locations) {
    test(`Location ${location} via ${text} → ${expected}`, () => {
      assert.equal(rewriteLocation(location, route(text)), expected);
    });
  }

  test('Set-Cookie Path under the base path maps to the prefix; Domain goes', () => {
    const r = route('/api=http://127.0.0.1:3000/v1');
    assert.equal(
      rewriteSetCookie('s=1; Path=/v1/auth; Domain=.x.test; HttpOnly', r),
      's=1; Path=/api/auth; HttpOnly',
    );
    assert.equal(rewriteSetCookie('s=1; Path=/elsewhere', r), 's=1; Path=/elsewhere');
  });
});
