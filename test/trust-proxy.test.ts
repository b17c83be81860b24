/**
 * --trust-proxy: forwarding headers are believed only from the listed proxies. Spoofed headers from an
 * untrusted address change nothing; from a trusted one they give the access log and CGI's REMOTE_ADDR
 * the client's address, and X-Forwarded-Proto gives CGI its HTTPS.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { forwardedClient, type ProxyTrust, parseForwarded, parseProxyTrust } from '../src/http/forwarded.js';
import { type RunningCli, startCli } from './helpers/cli.js';
import { exchange, get } from './helpers/raw-client.js';
import { FIXTURE_ROOT } from './helpers/servers.js';

const python = spawnSync('python3', ['--version']).error === undefined;

function trustOf(...ranges: string[]): ProxyTrust {
  const trust = parseProxyTrust(ranges);
  assert.notEqual(typeof trust, 'string');
  return trust as ProxyTrust;
}

describe('who the client is', () => {
  const trust = trustOf('127.0.0.1', '10.0.0.0/8', 'fd00::/8');
  const cases: Array<[string, string, Record<string, string>, unknown]> = [
    ['untrusted peer: headers ignored', '192.0.2.7', { 'x-forwarded-for': '6.6.6.6' }, null],
    ['trusted peer, no header', '127.0.0.1', {}, null],
    [
      'trusted peer, one hop',
      '127.0.0.1',
      { 'x-forwarded-for': '203.0.113.9' },
      { address: '203.0.113.9', secure: undefined },
    ],
    [
      'a client cannot prepend its own choice',
      '127.0.0.1',
      { 'x-forwarded-for': '1.1.1.1, 203.0.113.9, 10.1.2.3' },
      { address: '203.0.113.9', secure: undefined },
    ],
    [
      'all trusted: the leftmost',
      '127.0.0.1',
      { 'x-forwarded-for': '10.0.0.1, 10.0.0.2' },
      { address: '10.0.0.1', secure: undefined },
    ],
    [
      'proto from the nearest proxy',
      '127.0.0.1',
      { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'http, https' },
      { address: '203.0.113.9', secure: true },
    ],
    [
      'Forwarded wins, with IPv6 and ports',
      '127.0.0.1',
      { forwarded: 'for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.5', 'x-forwarded-for': '6.6.6.6' },
      { address: '2001:db8:cafe::17', secure: undefined },
    ],
    [
      'Forwarded proto',
      '127.0.0.1',
      { forwarded: 'for=192.0.2.60;proto=https' },
      { address: '192.0.2.60', secure: true },
    ],
    [
      'unknown: the nearest real address',
      '127.0.0.1',
      { forwarded: 'for=unknown' },
      { address: '127.0.0.1', secure: undefined },
    ],
    [
      'IPv4-mapped peer',
      '::ffff:127.0.0.1',
      { 'x-forwarded-for': '203.0.113.9' },
      { address: '203.0.113.9', secure: undefined },
    ],
  ];
  for (const [name, peer, headers, expected] of cases) {
    test(name, () => assert.deepEqual(forwardedClient(peer, headers, trust), expected));
  }

  test('Forwarded syntax (RFC 7239 §4)', () => {
    assert.deepEqual(parseForwarded('for=192.0.2.43, for="[2001:db8:cafe::17]";proto=http;by=203.0.113.43'), [
      { for: '192.0.2.43' },
      { for: '[2001:db8:cafe::17]', proto: 'http', by: '203.0.113.43' },
    ]);
  });

  test('trust lists', () => {
    assert.ok(trustOf('loopback').trusts('::1'));
    assert.ok(trustOf('loopback').trusts(''), 'a unix-socket peer is on this machine');
    assert.ok(!trustOf('10.0.0.0/8').trusts(''));
    assert.ok(trustOf('private').trusts('192.168.1.20'));
    assert.ok(!trustOf('private').trusts('8.8.8.8'));
    assert.ok(trustOf('10.0.0.0/8,192.0.2.1').trusts('192.0.2.1'));
    for (const bad of ['10.0.0.0/33', 'example.com', '::1/129'])
      assert.equal(typeof parseProxyTrust([bad]), 'string');
  });
});

function startServer(...args: string[]): Promise<RunningCli> {
  return startCli([FIXTURE_ROOT, '--cgi', '--log', 'common', ...args]);
}

/** Stops the server, which flushes its access log, and returns everything it printed. */
async function stop(server: RunningCli): Promise<string> {
  await server.stop();
  return server.stdout();
}

const SPOOFED = 'X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n';

describe('--trust-proxy end to end', { skip: !python && 'python3 not installed (the CGI script)' }, () => {
  test('from an untrusted address the headers are ignored', async () => {
    const server = await startServer('--trust-proxy', '10.0.0.0/8');
    const { responses } = await exchange(server.port, get('/cgi-bin/env.py', SPOOFED));
    const env = JSON.parse(responses[0]!.body.toString()) as Record<string, string>;
    assert.equal(env.REMOTE_ADDR, '127.0.0.1');
    assert.equal(env.HTTPS, undefined);
    const log = await stop(server);
    assert.match(log, /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/cgi-bin\/env\.py HTTP\/1\.1" 200 /m);
    assert.doesNotMatch(log, /203\.0\.113\.9/);
  });

  test('from a trusted address they are used', async () => {
    const server = await startServer('--trust-proxy', '127.0.0.1');
    const { responses } = await exchange(server.port, get('/cgi-bin/env.py', SPOOFED));
    const env = JSON.parse(responses[0]!.body.toString()) as Record<string, string>;
    assert.equal(env.REMOTE_ADDR, '203.0.113.9');
    assert.equal(env.HTTPS, 'on');
    assert.equal(env.REQUEST_SCHEME, 'https');
    const log = await stop(server);
    assert.match(log, /^203\.0\.113\.9 - - \[[^\]]+\] "GET \/cgi-bin\/env\.py HTTP\/1\.1" 200 /m);
  });

  test('never trusted by default', async () => {
    const server = await startServer();
    const { responses } = await exchange(server.port, get('/cgi-bin/env.py', SPOOFED));
    assert.equal(
      (JSON.parse(responses[0]!.body.toString()) as Record<string, string>).REMOTE_ADDR,
      '127.0.0.1',
    );
    assert.doesNotMatch(await stop(server), /203\.0\.113\.9/);
  });
});
