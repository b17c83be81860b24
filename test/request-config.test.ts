/**
 * Issue 8: `docroot request` against docroot and against a plain node:http server, and the config file.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseRequestCommand, takeResponse, unescapeRaw } from '../src/cli/request.js';
import { exchange, get } from './helpers/raw-client.js';
import { FIXTURE_ROOT, type RunningDocroot, startDocroot } from './helpers/servers.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI without blocking the event loop (the servers under test live in this process). */
function runCli(args: string[], cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { encoding: 'utf8', timeout: 15_000, ...(cwd ? { cwd } : {}) },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('docroot request', () => {
  let docroot: RunningDocroot;
  let plain: http.Server;
  let plainPort: number;

  before(async () => {
    docroot = await startDocroot();
    plain = http.createServer((req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.write(`you sent ${req.method} ${req.url}\n`);
      res.end('bye\n');
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    plainPort = (plain.address() as AddressInfo).port;
  });
  after(async () => {
    await docroot.close();
    plain.closeAllConnections();
    await new Promise((resolve) => plain.close(resolve));
  });

  test('prints the composed request and docroot’s response in the notation', async () => {
    const { code, stdout } = await runCli(['request', `http://127.0.0.1:${docroot.port}/text.txt`]);
    assert.equal(code, 0);
    const lines = stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 6), [
      `* connected to 127.0.0.1:${docroot.port}`,
      'C (-->): GET /text.txt HTTP/1.1<CRLF>',
      `C (-->): Host: 127.0.0.1:${docroot.port}<CRLF>`,
      lines[3], // User-Agent, checked below
      'C (-->): Connection: close<CRLF>',
      'C (-->): <CRLF>',
    ]);
    assert.match(lines[3]!, /^C \(-->\): User-Agent: docroot\/\d+\.\d+\.\d+<CRLF>$/);
    assert.equal(lines[6], 'S (<--): HTTP/1.1 200 OK<CRLF>');
    assert.ok(lines.includes('S (<--): Content-Length: 43<CRLF>'));
    assert.ok(lines.includes('S (<--): Connection: close<CRLF>'));
    assert.deepEqual(lines.slice(-4), [
      'S (<--): <CRLF>',
      'S (<--): Hello from a plain text file.<LF>',
      'S (<--): Second line.<LF>',
      '* connection closed by the server',
    ]);
  });

  test('--raw sends exact bytes: a bare LF gets a 400 that says so', async () => {
    const { code, stdout } = await runCli([
      'request',
      `http://127.0.0.1:${docroot.port}/`,
      '--raw',
      'GET / HTTP/1.1\\nHost: x\\r\\n\\r\\n',
    ]);
    assert.equal(code, 0);
    assert.match(stdout, /^C \(-->\): GET \/ HTTP\/1\.1<LF>\nC \(-->\): Host: x<CRLF>\nC \(-->\): <CRLF>\n/m);
    assert.match(stdout, /^S \(<--\): HTTP\/1\.1 400 Bad Request<CRLF>$/m);
    assert.match(stdout, /^S \(<--\): 400 Bad Request: .*bare LF.*<LF>$/m);
  });

  test('-X, -H and --data compose the request; a binary body is summarised', async () => {
    const { stdout } = await runCli([
      'request',
      `http://127.0.0.1:${docroot.port}/images/logo.png`,
      '-H',
      'Accept: image/*',
      '-H',
      'User-Agent:',
    ]);
    assert.match(stdout, /^C \(-->\): Accept: image\/\*<CRLF>$/m);
    assert.doesNotMatch(stdout, /User-Agent/);
    assert.match(stdout, /^S \(<--\): \[\d+ bytes of image\/png\]$/m);
    const posted = await runCli(['request', `http://127.0.0.1:${docroot.port}/text.txt`, '--data', 'a=1']);
    assert.match(posted.stdout, /^C \(-->\): POST \/text\.txt HTTP\/1\.1<CRLF>$/m);
    assert.match(posted.stdout, /^C \(-->\): Content-Length: 3<CRLF>$/m);
    assert.match(posted.stdout, /^C \(-->\): a=1$/m);
    assert.match(posted.stdout, /^S \(<--\): HTTP\/1\.1 405 Method Not Allowed<CRLF>$/m);
  });

  test('works against a plain node:http server, chunked framing shown', async () => {
    const { code, stdout } = await runCli(['request', `http://127.0.0.1:${plainPort}/hi?x=1`]);
    assert.equal(code, 0);
    assert.match(stdout, /^S \(<--\): HTTP\/1\.1 200 OK<CRLF>$/m);
    assert.match(stdout, /^S \(<--\): Transfer-Encoding: chunked<CRLF>$/m);
    assert.match(stdout, /^S \(<--\): 15<CRLF>\nS \(<--\): you sent GET \/hi\?x=1<LF>\nS \(<--\): <CRLF>$/m);
    assert.match(stdout, /^S \(<--\): 0<CRLF>$/m);
    assert.match(stdout, /\* connection closed by the server\n$/);
  });

  test('a refused connection is one line on stderr and exit code 1', async () => {
    const blocker = http.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    await new Promise((resolve) => blocker.close(resolve));
    const { code, stdout, stderr } = await runCli(['request', `http://127.0.0.1:${port}/`]);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.equal(stderr, `docroot: cannot connect to 127.0.0.1:${port}: ECONNREFUSED\n`);
  });

  test('a server that never answers times out with exit code 1', async () => {
    const { code, stderr } = await runCli([
      'request',
      `http://127.0.0.1:${docroot.port}/`,
      '--raw',
      'GET / HTTP/1.1\\r\\n',
      '--timeout',
      '0.3',
    ]);
    assert.equal(code, 1);
    assert.match(stderr, /^docroot: no response from 127\.0\.0\.1:\d+ within 0\.3 s\n$/);
  });

  test('--raw escapes', () => {
    assert.deepEqual(
      unescapeRaw('a\\r\\n\\t\\0\\x7f\\\\é'),
      Buffer.from([0x61, 13, 10, 9, 0, 0x7f, 0x5c, 0xc3, 0xa9]),
    );
    assert.throws(() => unescapeRaw('\\q'), /unknown escape \\q/);
    assert.throws(() => unescapeRaw('x\\'), /lone backslash/);
    const command = parseRequestCommand(['http://[::1]:81/', '--raw', 'HEAD / HTTP/1.1\\r\\n\\r\\n']);
    assert.equal(command.kind, 'request');
    if (command.kind === 'request') {
      assert.equal(command.plan.host, '::1');
      assert.equal(command.plan.port, 81);
      assert.deepEqual(command.plan.methods, ['HEAD']);
    }
    assert.equal(parseRequestCommand(['https://example.test/']).kind, 'error');
  });

  test('responses are cut by Content-Length, chunked framing, HEAD and the close', () => {
    const two = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 204 No Content\r\n\r\n');
    const first = takeResponse(two, false, false)!;
    assert.equal(first.response.body.toString(), 'hi');
    assert.equal(
      takeResponse(two.subarray(first.consumed), false, false)!.consumed,
      two.length - first.consumed,
    );
    const head = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n');
    assert.equal(takeResponse(head, false, true)!.response.body.length, 0);
    assert.equal(takeResponse(head, false, false), null);
    const closeDelimited = Buffer.from('HTTP/1.0 200 OK\r\n\r\nrest');
    assert.equal(takeResponse(closeDelimited, false, false), null);
    assert.equal(takeResponse(closeDelimited, true, false)!.response.body.toString(), 'rest');
  });
});

describe('config file', () => {
  let folder: string;
  before(() => {
    folder = mkdtempSync(path.join(os.tmpdir(), 'docroot-config-'));
    // A site inside the config file's own folder, which even an untrusted file may name.
    mkdirSync(path.join(folder, 'site', 'docs'), { recursive: true });
    writeFileSync(path.join(folder, 'site', 'text.txt'), 'text');
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  function writeConfig(config: unknown, name = 'docroot.config.json'): string {
    const file = path.join(folder, name);
    writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
    return file;
  }

  /** Starts the CLI in `folder` and resolves with the port it printed. */
  function start(args: string[]): Promise<{ child: ChildProcess; port: number; banner: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: folder,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const match = /http:\/\/[^:]+:(\d+)\//.exec(out);
        if (match) resolve({ child, port: Number(match[1]), banner: out });
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
    });
  }

  async function stop(child: ChildProcess): Promise<void> {
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  const baseConfig = {
    dir: 'site',
    port: 0,
    host: '127.0.0.1',
    noListing: true,
    header: ['X-From: config'],
    log: 'off',
  };

  test('a valid docroot.config.json in the current folder is applied', async () => {
    writeConfig(baseConfig);
    const { child, port, banner } = await start([]);
    try {
      assert.match(banner, /http:\/\/127\.0\.0\.1:\d+\//);
      const file = (await exchange(port, get('/text.txt'))).responses[0]!;
      assert.equal(file.headers['x-from'], 'config');
      const folderResponse = (await exchange(port, get('/docs/'))).responses[0]!;
      assert.equal(folderResponse.status, 404, 'noListing from the file');
    } finally {
      await stop(child);
    }
  });

  test('flags win over the file, lists included', async () => {
    writeConfig(baseConfig);
    const { child, port } = await start(['--header', 'X-From: flag']);
    try {
      const file = (await exchange(port, get('/text.txt'))).responses[0]!;
      assert.equal(file.headers['x-from'], 'flag');
    } finally {
      await stop(child);
    }
  });

  test('--config names another file; a relative dir is taken from the file’s folder', async () => {
    const other = writeConfig(
      { ...baseConfig, dir: path.relative(folder, FIXTURE_ROOT), log: 'json' },
      'other.json',
    );
    writeConfig({ bogus: true });
    const { child, port } = await start(['--config', other]);
    try {
      const response = (await exchange(port, get('/text.txt'))).responses[0]!;
      assert.equal(response.status, 200);
    } finally {
      await stop(child);
    }
  });

  test('an unknown key is one line naming the key and the file, exit code 1', () => {
    writeConfig({ port: 0, bogus: 1 });
    const result = spawnSync(process.execPath, [CLI], { cwd: folder, encoding: 'utf8', timeout: 10_000 });
    assert.equal(result.status, 1);
    assert.equal(
      result.stderr,
      'docroot: docroot.config.json: unknown key "bogus" (keys are the long flags in camelCase, e.g. "port", "noListing", "cacheControl"; see docroot --help)\n',
    );
  });

  test('wrong types and bad values name the key', () => {
    const run = () => spawnSync(process.execPath, [CLI], { cwd: folder, encoding: 'utf8', timeout: 10_000 });
    writeConfig({ noListing: 'yes' });
    assert.equal(
      run().stderr,
      'docroot: docroot.config.json: "noListing" must be true or false, got string "yes"\n',
    );
    writeConfig({ port: 'eighty' });
    assert.equal(run().stderr, 'docroot: docroot.config.json: "port" needs a whole number, got "eighty"\n');
    writeConfig({ help: true });
    assert.match(run().stderr, /unknown key "help"/);
    writeConfig('{ not json');
    assert.match(run().stderr, /^docroot: docroot\.config\.json is not valid JSON: /);
    assert.equal(run().status, 1);
    const missing = spawnSync(process.execPath, [CLI, '--config', 'nope.json'], {
      cwd: folder,
      encoding: 'utf8',
    });
    assert.equal(missing.stderr, 'docroot: config file nope.json does not exist\n');
  });
});
