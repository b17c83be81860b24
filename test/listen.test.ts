/**
 * --listen: unix sockets driven by curl --unix-socket, stale socket files, and systemd socket activation
 * driven by systemd-socket-activate (Debian systemd), the server answering on the inherited descriptor.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseListenTarget, takeSystemdListenFds } from '../src/wire/endpoints.js';
import { startCli } from './helpers/cli.js';
import { exchange, get } from './helpers/raw-client.js';
import { FIXTURE_ROOT } from './helpers/servers.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const has = (program: string) => spawnSync(program, ['--version']).error === undefined;
const curl = has('curl');
const socketActivate = has('systemd-socket-activate');

interface Started {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Spawns a command and resolves once its stdout or stderr matches `ready`. */
function start(command: string, args: string[], ready: RegExp): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      if (ready.test(text)) {
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        child.stdout!.on('data', (more: Buffer) => (text += more.toString()));
        child.stderr!.on('data', (more: Buffer) => (text += more.toString()));
        resolve({
          child,
          output: () => text,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${text}`)));
  });
}

function curlUnix(socketPath: string, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--unix-socket', socketPath, url], (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message} ${stderr}`)) : resolve(stdout),
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'docroot-listen-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('parsing --listen', () => {
  const cases: Array<[string, unknown]> = [
    ['127.0.0.1:8080', { kind: 'tcp', host: '127.0.0.1', port: 8080 }],
    ['[::1]:8443', { kind: 'tcp', host: '::1', port: 8443 }],
    [':80', { kind: 'tcp', host: '::', port: 80 }],
    ['localhost:0', { kind: 'tcp', host: 'localhost', port: 0 }],
    ['unix:/run/docroot.sock', { kind: 'unix', path: '/run/docroot.sock' }],
    ['fd:3', { kind: 'fd', fd: 3 }],
  ];
  for (const [text, expected] of cases) {
    test(text, () => assert.deepEqual(parseListenTarget(text), expected));
  }
  for (const bad of ['8080', 'unix:relative.sock', 'fd:x', '[nope]:1', 'host:99999', '::1:80']) {
    test(`refuses ${bad}`, () => assert.equal(typeof parseListenTarget(bad), 'string'));
  }
  test('socket activation only for our pid, and the variables are taken away', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'http:https' };
    assert.deepEqual(takeSystemdListenFds(env, 42), [
      { kind: 'fd', fd: 3, name: 'http' },
      { kind: 'fd', fd: 4, name: 'https' },
    ]);
    assert.deepEqual(env, {});
    assert.deepEqual(takeSystemdListenFds({ LISTEN_PID: '41', LISTEN_FDS: '1' }, 42), []);
  });
});

test('LISTEN_FDS meant for another process is ignored: --host and --port as usual', async () => {
  const server = await startCli([FIXTURE_ROOT, '--log', 'off'], { LISTEN_FDS: '1', LISTEN_PID: '1' });
  try {
    const { responses } = await exchange(server.port, get('/text.txt', 'Connection: close\r\n'));
    assert.equal(responses[0]?.status, 200);
  } finally {
    await server.stop();
  }
});

describe('unix sockets', { timeout: 60_000 }, () => {
  test('curl --unix-socket gets the file; the socket has --socket-mode', {
    skip: !curl && 'curl not installed',
  }, async () => {
    const socketPath = path.join(dir, 'mode.sock');
    const server = await start(
      process.execPath,
      [
        CLI,
        FIXTURE_ROOT,
        '--listen',
        `unix:${socketPath}`,
        '--socket-mode',
        '600',
        '--socket-owner',
        // A name for the user (looked up in /etc/passwd), a number for the group.
        `${os.userInfo().username}:${process.getgid!()}`,
        '--log',
        'off',
      ],
      /unix:/,
    );
    try {
      assert.equal(
        await curlUnix(socketPath, 'http://localhost/text.txt'),
        'Hello from a plain text file.\nSecond line.\n',
      );
      const stats = statSync(socketPath);
      assert.equal(stats.mode & 0o777, 0o600);
      assert.deepEqual([stats.uid, stats.gid], [process.getuid!(), process.getgid!()]);
    } finally {
      await server.stop();
    }
    assert.equal(existsSync(socketPath), false, 'the socket file is removed on shutdown');
  });

  test('--workers 2 share one unix socket', { skip: !curl && 'curl not installed' }, async () => {
    const socketPath = path.join(dir, 'workers.sock');
    const server = await start(
      process.execPath,
      [CLI, FIXTURE_ROOT, '--listen', `unix:${socketPath}`, '--workers', '2', '--log', 'off'],
      /unix:/,
    );
    try {
      for (let i = 0; i < 4; i++) {
        assert.match(await curlUnix(socketPath, 'http://localhost/text.txt'), /^Hello/);
      }
    } finally {
      await server.stop();
    }
    assert.equal(existsSync(socketPath), false, 'the socket file is removed on shutdown');
  });

  test('a stale socket file nobody answers on is replaced', {
    skip: !curl && 'curl not installed',
  }, async () => {
    const socketPath = path.join(dir, 'stale.sock');
    // A server killed with SIGKILL leaves its socket file behind.
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    assert.ok(statSync(socketPath).isSocket());
    const server = await start(
      process.execPath,
      [CLI, FIXTURE_ROOT, '--listen', `unix:${socketPath}`, '--log', 'off'],
      /unix:/,
    );
    try {
      assert.match(await curlUnix(socketPath, 'http://localhost/text.txt'), /^Hello/);
    } finally {
      await server.stop();
    }
  });

  test('a live server and a regular file are never removed', async () => {
    const live = path.join(dir, 'live.sock');
    const holder = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => holder.listen(live, resolve));
    const file = path.join(dir, 'not-a-socket');
    writeFileSync(file, 'data');
    try {
      for (const [target, message] of [
        [live, /another server is answering/],
        [file, /is not a socket; not removing it/],
      ] as const) {
        const run = spawnSync(process.execPath, [CLI, FIXTURE_ROOT, '--listen', `unix:${target}`], {
          encoding: 'utf8',
        });
        assert.equal(run.status, 1);
        assert.match(run.stderr, message);
        assert.ok(existsSync(target));
      }
    } finally {
      holder.close();
    }
  });

  test('[::1]:port, shown as a bracketed URL', async (t) => {
    const probe = await new Promise<boolean>((resolve) => {
      const server = net.createServer().listen(0, '::1', () => server.close(() => resolve(true)));
      server.once('error', () => resolve(false));
    });
    if (!probe) {
      t.skip('no IPv6 loopback on this machine');
      return;
    }
    const server = await start(
      process.execPath,
      [CLI, FIXTURE_ROOT, '--listen', '[::1]:0', '--log', 'off'],
      /http:\/\/\[::1\]:(\d+)\//,
    );
    try {
      const port = Number(/http:\/\/\[::1\]:(\d+)\//.exec(server.output())![1]);
      const { responses } = await exchange(port, get('/text.txt', 'Connection: close\r\n'), { host: '::1' });
      assert.equal(responses[0]?.status, 200);
    } finally {
      await server.stop();
    }
  });

  test('TCP and a unix socket at once', async () => {
    const socketPath = path.join(dir, 'both.sock');
    const server = await start(
      process.execPath,
      [CLI, FIXTURE_ROOT, '--listen', `unix:${socketPath}`, '--listen', '127.0.0.1:0', '--log', 'off'],
      /http:\/\/127\.0\.0\.1:(\d+)\//,
    );
    try {
      const port = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(server.output())![1]);
      const { responses } = await exchange(port, get('/text.txt', 'Connection: close\r\n'));
      assert.equal(responses[0]?.status, 200);
      const viaUnix = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(socketPath, () => socket.end(get('/text.txt', 'Connection: close\r\n')));
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      assert.match(viaUnix, /^HTTP\/1\.1 200 OK\r\n/);
    } finally {
      await server.stop();
    }
  });
});

describe('systemd socket activation', {
  skip: !socketActivate && 'systemd-socket-activate not installed (Debian systemd)',
  timeout: 60_000,
}, () => {
  test('on a TCP port: the server answers on descriptor 3', async () => {
    const port = await freePort();
    const activator = await start(
      'systemd-socket-activate',
      ['-l', `127.0.0.1:${port}`, '--fdname=web', process.execPath, CLI, FIXTURE_ROOT, '--log', 'off'],
      /Listening on/,
    );
    try {
      // systemd-socket-activate starts docroot on the first connection, which docroot then answers.
      const { responses } = await exchange(port, get('/text.txt', 'Connection: close\r\n'));
      assert.equal(responses[0]?.status, 200);
      assert.match(responses[0]!.body.toString(), /^Hello/);
    } finally {
      await activator.stop();
    }
  });

  test('--listen fd:3 serves a descriptor inherited without the LISTEN_ variables', async () => {
    const port = await freePort();
    const script = `unset LISTEN_PID LISTEN_FDS LISTEN_FDNAMES; exec "$0" "$@"`;
    const activator = await start(
      'systemd-socket-activate',
      [
        '-l',
        `127.0.0.1:${port}`,
        'sh',
        '-c',
        script,
        process.execPath,
        CLI,
        FIXTURE_ROOT,
        '--listen',
        'fd:3',
        '--log',
        'off',
      ],
      /Listening on/,
    );
    try {
      const { responses } = await exchange(port, get('/text.txt', 'Connection: close\r\n'));
      assert.equal(responses[0]?.status, 200);
    } finally {
      await activator.stop();
    }
  });

  test('on a unix socket, with --workers 2', { skip: !curl && 'curl not installed' }, async () => {
    const socketPath = path.join(dir, 'activated.sock');
    const activator = await start(
      'systemd-socket-activate',
      ['-l', socketPath, process.execPath, CLI, FIXTURE_ROOT, '--workers', '2', '--log', 'off'],
      /Listening on/,
    );
    try {
      for (let i = 0; i < 3; i++)
        assert.match(await curlUnix(socketPath, 'http://localhost/text.txt'), /^Hello/);
    } finally {
      await activator.stop();
    }
  });
});
