import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServerOptions } from '../server.js';
import { type CliOptions, parseCommandLine } from './args.js';
import { banner } from './banner.js';
import { type ProcessContext, serverOptionsFromCli } from './server-options.js';

function cli(...argv: string[]): CliOptions {
  const command = parseCommandLine(argv);
  assert.equal(command.kind, 'serve', JSON.stringify(command));
  return (command as { options: CliOptions }).options;
}

/** The keys of `expected`, taken from `actual` ("these options, whatever the rest"). */
function pick(actual: ServerOptions, expected: Partial<ServerOptions>): Partial<ServerOptions> {
  return Object.fromEntries(Object.keys(expected).map((key) => [key, actual[key as keyof ServerOptions]]));
}

const GIB = 1024 ** 3;
const observer = { onExchange: () => {} };
const aggregateMetrics = async <T>(local: T) => local;
const log = (_line: string) => {};

/** argv (and what the process adds) → what createServer is given. */
const CASES: Array<[string, string[], ProcessContext, Partial<ServerOptions>, Array<keyof ServerOptions>?]> =
  [
    [
      'no flags: the defaults',
      [],
      {},
      {
        root: '.',
        port: 8080,
        host: 'localhost',
        listing: true,
        dotfiles: false,
        compress: true,
        healthPath: '/.well-known/docroot/health',
        http2: true,
        webdav: true,
        webdavLocks: true,
        archives: true,
        allowedHosts: [],
        headers: {},
      },
      ['cgi', 'upload', 'auth', 'proxy', 'metrics', 'tls', 'observer', 'listen', 'search', 'trustProxy'],
    ],
    ['folder and port', ['site', '-p', '0'], {}, { root: 'site', port: 0 }],
    [
      'switches turned off',
      ['--no-listing', '--no-compress', '--no-http2'],
      {},
      { listing: false, compress: false, http2: false },
    ],
    ['--no-search is the one option given only when off', ['--no-search'], {}, { search: false }],
    ['--no-readme turns the listing README off', ['--no-readme'], {}, { readme: false }],
    ['--health-path off', ['--health-path', 'off'], {}, { healthPath: false }],
    [
      '--cgi with its defaults',
      ['--cgi'],
      {},
      { cgi: { dir: 'cgi-bin', interpreters: {}, timeoutMs: 30_000, maxBodyBytes: GIB } },
    ],
    [
      '--cgi-ext alone runs no folder',
      ['--cgi-ext', '.PY=python3', '--cgi-timeout', '1.5'],
      {},
      { cgi: { dir: null, interpreters: { '.py': 'python3' }, timeoutMs: 1500, maxBodyBytes: GIB } },
    ],
    [
      '--upload with a size',
      ['--upload', '--max-upload-size', '10M'],
      {},
      { upload: { maxBytes: 10 * 1024 ** 2 } },
    ],
    [
      '--header and a worker’s own fields',
      ['--header', 'X-A: 1'],
      { worker: { headers: { 'X-Worker': '2' }, aggregateMetrics } },
      { headers: { 'X-A': '1', 'X-Worker': '2' }, webdavLocks: false },
    ],
    [
      '--metrics in a worker is summed by the primary',
      ['--metrics', '/metrics'],
      { worker: { headers: {}, aggregateMetrics } },
      { metrics: { path: '/metrics', aggregate: aggregateMetrics } },
    ],
    ['--metrics off', ['--metrics', 'off'], {}, {}, ['metrics']],
    [
      '--proxy with the process’s log',
      ['--proxy', '/api=http://127.0.0.1:3000', '--proxy-keep-host'],
      { proxy: { log } },
      {
        proxy: {
          routes: ['/api=http://127.0.0.1:3000'],
          timeoutMs: 30_000,
          insecure: false,
          keepHost: true,
          rewriteHeaders: false,
          log,
        },
      },
    ],
    ['--trust-proxy', ['--trust-proxy', 'loopback'], {}, { trustProxy: ['loopback'] }],
    [
      'observer and TLS come from the process',
      ['--tls-self-signed'],
      { observer, tls: { selfSigned: true } },
      { observer, tls: { selfSigned: true } },
    ],
    [
      'listen targets only when there are some',
      ['--listen', 'unix:/tmp/x.sock', '--socket-mode', '660'],
      { listen: { targets: [{ kind: 'unix', path: '/tmp/x.sock' }], unixSocket: { mode: 0o660 } } },
      { listen: [{ kind: 'unix', path: '/tmp/x.sock' }], unixSocket: { mode: 0o660 } },
    ],
    [
      'no listen targets: --host and --port',
      [],
      { listen: { targets: [], unixSocket: {} } },
      {},
      ['listen', 'unixSocket'],
    ],
    ['--404 is a path under the root', ['--404', 'missing.html'], {}, { notFoundPage: '/missing.html' }],
    ['--allowed-host is lower-cased', ['--allowed-host', 'Docs.Test'], {}, { allowedHosts: ['docs.test'] }],
  ];

describe('serverOptionsFromCli', () => {
  for (const [name, argv, context, expected, absent = []] of CASES) {
    test(name, () => {
      const options = serverOptionsFromCli(cli(...argv), context);
      assert.deepEqual(pick(options, expected), expected);
      for (const key of absent) assert.equal(key in options, false, `${key} should be left out`);
    });
  }
});

describe('the banner', () => {
  const BANNERS: Array<[string, string[], string[], string | null]> = [
    ['loopback', [], ['  http://localhost:8080/'], null],
    [
      'a LAN address gets a QR code',
      ['--host', '192.0.2.7'],
      ['  http://192.0.2.7:8080/'],
      'http://192.0.2.7:8080/',
    ],
    ['HTTPS', ['--tls-self-signed'], ['  https://localhost:8080/'], null],
    [
      'uploads for anyone',
      ['--upload'],
      [
        '  uploads are on: anyone who can reach this server can write and delete files here',
        '  WebDAV is on:',
      ],
      null,
    ],
    ['passwords without TLS', ['--auth', 'a:b@/:rw'], ['  WARNING: --auth without TLS'], null],
    [
      'CGI',
      ['--cgi', '--cgi-ext', '.py=python3'],
      ['  CGI is on: executables in /cgi-bin/, *.py files (with python3)'],
      null,
    ],
    [
      'proxy routes',
      ['--proxy', '/api=http://127.0.0.1:3000'],
      ['  proxy: /api → http://127.0.0.1:3000'],
      null,
    ],
  ];
  for (const [name, argv, lines, lanUrl] of BANNERS) {
    test(name, () => {
      const result = banner(cli(...argv), { root: '/srv/site', port: 8080 });
      assert.ok(result.text.startsWith('docroot '), result.text);
      assert.match(result.text, / serving \/srv\/site\n/);
      for (const line of lines)
        assert.ok(result.text.includes(`${line}`), `missing ${line} in\n${result.text}`);
      assert.equal(result.lanUrl, lanUrl);
    });
  }

  test('--workers and --listen lines', () => {
    const result = banner(cli(), { root: '/r', port: 0, workerCount: 3, listeningOn: ['unix:/tmp/s.sock'] });
    assert.match(result.text, /^docroot \S+ serving \/r with 3 workers\n {2}unix:\/tmp\/s\.sock\n$/);
  });
});
