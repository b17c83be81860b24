/**
 * packaging/: the systemd units pass `systemd-analyze verify`, and the service's own ExecStart command
 * line serves under systemd-socket-activate, the socket unit's way of starting it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { exchange, get } from './helpers/raw-client.js';
import { FIXTURE_ROOT } from './helpers/servers.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const PACKAGING = new URL('../../packaging/', import.meta.url).pathname;
const has = (program: string) => spawnSync(program, ['--version']).error === undefined;

const service = readFileSync(path.join(PACKAGING, 'docroot.service'), 'utf8');
const execStart = /^ExecStart=(.*)$/m.exec(service)![1]!.split(' ');

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'docroot-units-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('the unit asks for the sandbox the README promises', () => {
  for (const line of [
    'Type=notify',
    'DynamicUser=yes',
    'ProtectSystem=strict',
    'ReadOnlyPaths=/srv/www',
    'NoNewPrivileges=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    'CapabilityBoundingSet=',
    'Requires=docroot.socket',
  ]) {
    assert.ok(service.split('\n').includes(line), line);
  }
  assert.ok(!/^ReadWritePaths=/m.test(service), 'writable only when --upload is added');
});

test('systemd-analyze verify accepts both units', {
  skip: !has('systemd-analyze') && 'systemd-analyze not installed (Debian systemd)',
}, () => {
  // verify checks that ExecStart's program exists, so point it at this checkout's CLI.
  writeFileSync(
    path.join(dir, 'docroot.service'),
    service.replace(/^ExecStart=\/usr\/bin\/docroot/m, `ExecStart=${process.execPath} ${CLI}`),
  );
  copyFileSync(path.join(PACKAGING, 'docroot.socket'), path.join(dir, 'docroot.socket'));
  const result = spawnSync(
    'systemd-analyze',
    ['verify', path.join(dir, 'docroot.socket'), path.join(dir, 'docroot.service')],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr.trim(), '', 'no warnings');
});

test("systemd-analyze security rates the service's exposure at most 2.0 of 10", {
  skip: !has('systemd-analyze') && 'systemd-analyze not installed (Debian systemd)',
}, (t) => {
  writeFileSync(
    path.join(dir, 'docroot.service'),
    service.replace(/^ExecStart=\/usr\/bin\/docroot/m, `ExecStart=${process.execPath} ${CLI}`),
  );
  // --offline reads the unit file itself; older systemd versions (before 250) do not have it.
  const result = spawnSync(
    'systemd-analyze',
    ['security', '--offline=true', '--threshold=20', path.join(dir, 'docroot.service')],
    {
      encoding: 'utf8',
    },
  );
  if (/unrecognized option|Unknown option/.test(result.stderr)) {
    t.skip('this systemd-analyze has no --offline');
    return;
  }
  const exposure = /Overall exposure level for docroot\.service: ([\d.]+)/.exec(result.stdout);
  assert.ok(exposure, result.stdout + result.stderr);
  assert.equal(result.status, 0, `exposure ${exposure[1]}`);
  assert.ok(Number(exposure[1]) <= 2.0);
});

test("the service's command line serves on the socket systemd passes", {
  skip: !has('systemd-socket-activate') && 'systemd-socket-activate not installed (Debian systemd)',
}, async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  const args = execStart.slice(1).map((arg) => (arg === '/srv/www' ? FIXTURE_ROOT : arg));
  const activator: ChildProcess = spawn(
    'systemd-socket-activate',
    ['-l', `127.0.0.1:${port}`, process.execPath, CLI, ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let text = '';
      activator.stderr!.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('Listening on')) resolve();
      });
      activator.once('exit', (code) => reject(new Error(`exited with ${code}: ${text}`)));
    });
    const page = await exchange(port, get('/text.txt', 'Connection: close\r\n'));
    assert.equal(page.responses[0]?.status, 200);
    const metrics = await exchange(port, get('/metrics', 'Connection: close\r\n'));
    assert.equal(metrics.responses[0]?.status, 200);
    assert.match(
      metrics.responses[0]!.body.toString(),
      /^docroot_http_requests_total\{method="GET",status="2xx",transport="h1"\} [1-9]/m,
    );
  } finally {
    const exited = new Promise((resolve) => activator.once('exit', resolve));
    activator.kill('SIGTERM');
    await exited;
  }
});
