/**
 * `--proxy` and its companions on the command line and in the config file, and the command itself run
 * with curl through it (--trace shows both legs on stderr, the access log the proxied request).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { describe, test } from 'node:test';
import { parseCommandLine } from '../src/cli/args.js';
import { checkConfig } from '../src/cli/config.js';
import { FIXTURE_ROOT } from './helpers/servers.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

function errorOf(argv: string[]): string {
  const command = parseCommandLine(argv);
  return command.kind === 'error' ? command.message : '';
}

describe('--proxy flags', () => {
  test('routes, timeout and switches are parsed', () => {
    const command = parseCommandLine([
      '--proxy',
      '/api=http://127.0.0.1:3000/',
      '--proxy',
      '/ws=http://127.0.0.1:3001',
      '--proxy-timeout',
      '2.5',
      '--proxy-insecure',
      '--proxy-keep-host',
      '--proxy-rewrite-headers',
    ]);
    assert.equal(command.kind, 'serve');
    if (command.kind !== 'serve') return;
    assert.deepEqual(command.options.proxy, {
      routes: ['/api=http://127.0.0.1:3000/', '/ws=http://127.0.0.1:3001'],
      timeoutMs: 2500,
      insecure: true,
      keepHost: true,
      rewriteHeaders: true,
    });
    const plain = parseCommandLine([]);
    assert.equal(plain.kind === 'serve' && plain.options.proxy, undefined);
  });

  const errors: Array<[string[], RegExp]> = [
    [['--proxy', 'api=http://x'], /prefix must be a URL path/],
    [['--proxy', '/api'], /PREFIX=URL/],
    [['--proxy', '/api=ftp://x'], /http:\/\/host/],
    [['--proxy', '/api=http://a:1', '--proxy', '/api/=http://b:2'], /given twice/],
    [['--proxy-insecure'], /only makes sense with --proxy/],
    [['--proxy', '/a=http://a', '--proxy-timeout', '0'], /--proxy-timeout needs seconds/],
  ];
  for (const [argv, message] of errors) {
    test(`${argv.join(' ')} → one-line error`, () => assert.match(errorOf(argv), message));
  }

  test('the config file takes "proxy" (a string or a list) and the other keys in camelCase', () => {
    const config = checkConfig(
      { proxy: ['/api=http://127.0.0.1:3000'], proxyTimeout: 5, proxyRewriteHeaders: true },
      'docroot.config.json',
    );
    const command = parseCommandLine([], config);
    assert.equal(command.kind, 'serve');
    if (command.kind !== 'serve') return;
    assert.deepEqual(command.options.proxy?.routes, ['/api=http://127.0.0.1:3000']);
    assert.equal(command.options.proxy?.timeoutMs, 5000);
    assert.equal(command.options.proxy?.rewriteHeaders, true);
    const bad = parseCommandLine([], checkConfig({ proxy: 'nope' }, 'docroot.config.json'));
    assert.equal(bad.kind, 'error');
  });
});

async function runCurl(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stdout, stderr };
}

const curl = spawnSync('curl', ['--version']).status === 0;

describe('docroot --proxy with curl', { skip: curl ? false : 'curl not installed' }, () => {
  test('curl gets the backend answer; --trace prints both legs; the log has the request', async () => {
    const backend = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, forwardedFor: req.headers['x-forwarded-for'] }));
    });
    backend.listen(0, '127.0.0.1');
    await once(backend, 'listening');
    const port = (backend.address() as net.AddressInfo).port;
    const child = spawn(
      process.execPath,
      [
        CLI,
        FIXTURE_ROOT,
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--no-qr',
        '--proxy',
        `/api=http://127.0.0.1:${port}/`,
        '--trace',
        '--log',
        'common',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    try {
      const docrootPort = await new Promise<number>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => {
          stdout += d.toString();
          const match = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout);
          if (match && stdout.includes('proxy: /api')) resolve(Number(match[1]));
        });
        child.once('exit', (code) => reject(new Error(`docroot exited with ${code}: ${stderr}`)));
      });
      assert.match(stdout, new RegExp(`proxy: /api → http://127.0.0.1:${port}/`));
      // Not spawnSync: the backend answers from this very event loop.
      const result = await runCurl(['-sS', `http://127.0.0.1:${docrootPort}/api/items?id=7`]);
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), { url: '/items?id=7', forwardedFor: '127.0.0.1' });
      while (!stdout.includes('"GET /api/items?id=7 HTTP/1.1" 200')) await once(child.stdout!, 'data');
      while (!stderr.includes(`proxy ← http://127.0.0.1:${port}`)) await once(child.stderr!, 'data');
      assert.match(stderr, /C \(-->\): GET \/items\?id=7 HTTP\/1.1/);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
      backend.close();
    }
  });
});
