import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { describe, test } from 'node:test';
import { exchange, get } from './helpers/raw-client.js';
import { FIXTURE_ROOT } from './helpers/servers.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

function run(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 10_000 });
}

/** Starts the CLI and resolves with the port it printed. */
function start(...args: string[]): Promise<{ child: ChildProcess; port: number; banner: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /http:\/\/[^:]+:(\d+)\//.exec(out);
      if (match) resolve({ child, port: Number(match[1]), banner: out });
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
  });
}

describe('the docroot command', () => {
  test('--help lists every flag', () => {
    const result = run('--help');
    assert.equal(result.status, 0);
    for (const flag of [
      '--port',
      '--host',
      '--no-listing',
      '--dotfiles',
      '--follow-symlinks',
      '--no-compress',
      '--cache-control',
      '--header',
      '--cors',
      '--spa',
      '--404',
      '--max-connections',
      '--cgi',
      '--cgi-dir',
      '--cgi-ext',
      '--cgi-timeout',
      '--cgi-max-body',
      '--trace',
      '--log',
      '--config',
      '--tls-cert',
      '--tls-key',
      '--tls-self-signed',
      '--workers',
      '--watch',
      '--help',
      '--version',
    ]) {
      assert.match(result.stdout, new RegExp(flag));
    }
  });

  test('--version prints the package version', () => {
    const result = run('--version');
    assert.equal(result.status, 0);
    assert.match(result.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test('an unknown flag is a one-line error and exit code 1', () => {
    const result = run('--bogus');
    assert.equal(result.status, 1);
    assert.equal(result.stderr, 'docroot: unknown flag --bogus (see docroot --help)\n');
  });

  test('a missing root is a one-line error', () => {
    const result = run('/no/such/folder/anywhere');
    assert.equal(result.status, 1);
    assert.equal(result.stderr, 'docroot: the folder /no/such/folder/anywhere does not exist\n');
  });

  test('a root that is a file is a one-line error', () => {
    const result = run(`${FIXTURE_ROOT}text.txt`);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^docroot: .*text\.txt is a file, not a folder\n$/);
  });

  test('a bad port is a one-line error', () => {
    const result = run('--port', 'eighty');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /--port needs a whole number/);
  });

  test('a port in use says so and suggests --port 0', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, 'localhost', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const result = run(FIXTURE_ROOT, '--port', String(port));
    blocker.close();
    assert.equal(result.status, 1);
    assert.equal(result.stderr, `docroot: port ${port} is already in use; try --port 0 for any free port\n`);
  });

  test('serves a folder on --port 0, prints root and URL, and stops on SIGTERM', async () => {
    const { child, port, banner } = await start(FIXTURE_ROOT, '--port', '0', '--host', '127.0.0.1');
    assert.match(banner, /serving .*test\/fixtures\/root/);
    const { responses } = await exchange(port, get('/text.txt'));
    assert.equal(responses[0]?.status, 200);
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  test('--host 0.0.0.0 prints the localhost URL too', async () => {
    const { child, banner } = await start(FIXTURE_ROOT, '--port', '0', '--host', '0.0.0.0');
    assert.match(banner, /http:\/\/localhost:\d+\//);
    child.kill('SIGKILL');
  });
});
