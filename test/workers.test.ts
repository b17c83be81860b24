/**
 * --workers: several processes serve one port; a killed worker is replaced; SIGHUP replaces them all one
 * by one without refusing requests; SIGTERM stops everything with exit code 0. Each worker names its pid
 * in X-Docroot-Worker only because these tests set DOCROOT_EXPOSE_WORKER=1.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CRASH_LOOP_LIMIT, restartDelayMs, workerCount } from '../src/cli/workers.js';
import { exchange, get } from './helpers/raw-client.js';
import { FIXTURE_ROOT } from './helpers/servers.js';
import { nextEvent, waitFor } from './helpers/wait.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

interface RunningCli {
  child: ChildProcess;
  port: number;
  banner: string;
  stderr(): string;
}

function startWorkers(...args: string[]): Promise<RunningCli> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [CLI, FIXTURE_ROOT, '--port', '0', '--host', '127.0.0.1', ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DOCROOT_EXPOSE_WORKER: '1' },
      },
    );
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (match) resolve({ child, port: Number(match[1]), banner: out, stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}${err}`)));
  });
}

/** The worker pid behind one new connection. */
async function workerPid(port: number): Promise<number> {
  const { responses } = await exchange(port, get('/text.txt', 'Connection: close\r\n'));
  assert.equal(responses[0]?.status, 200);
  return Number(responses[0]!.headers['x-docroot-worker']);
}

async function pidsSeen(port: number, connections: number): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < connections; i++) pids.add(await workerPid(port));
  return pids;
}

/** Children of a process, from /proc (Linux). */
function childPids(parent: number): number[] {
  const result = spawnSync('pgrep', ['-P', String(parent)], { encoding: 'utf8' });
  return result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map(Number);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the crash-loop guard', () => {
  test(`replaces at once up to ${CRASH_LOOP_LIMIT} exits in the window, then backs off doubling to 30 s`, () => {
    assert.equal(restartDelayMs(1), 0);
    assert.equal(restartDelayMs(CRASH_LOOP_LIMIT), 0);
    assert.equal(restartDelayMs(CRASH_LOOP_LIMIT + 1), 1000);
    assert.equal(restartDelayMs(CRASH_LOOP_LIMIT + 2), 2000);
    assert.equal(restartDelayMs(CRASH_LOOP_LIMIT + 3), 4000);
    assert.equal(restartDelayMs(CRASH_LOOP_LIMIT + 50), 30_000);
  });
});

describe('docroot --workers 2', () => {
  let server: RunningCli;
  before(async () => {
    server = await startWorkers('--workers', '2');
  });
  after(() => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
  });

  test('prints one banner naming the number of workers', () => {
    assert.match(
      server.banner,
      /^docroot \S+ serving .*root with 2 workers\n {2}http:\/\/127\.0\.0\.1:\d+\/\n$/,
    );
  });

  test('two worker processes both serve the port', async () => {
    const children = await waitFor(() => {
      const pids = childPids(server.child.pid!);
      return pids.length === 2 ? pids : undefined;
    }, 'two workers');
    const seen = await waitFor(async () => {
      const pids = await pidsSeen(server.port, 6);
      return pids.size === 2 ? pids : undefined;
    }, 'answers from both workers');
    assert.deepEqual([...seen].sort(), [...children].sort());
  });

  test('a worker killed with SIGKILL is replaced and requests keep succeeding', async () => {
    const before = childPids(server.child.pid!);
    const victim = before[0]!;
    process.kill(victim, 'SIGKILL');
    const replacement = await waitFor(() => {
      const now = childPids(server.child.pid!);
      const fresh = now.filter((pid) => !before.includes(pid));
      return now.length === 2 && fresh.length === 1 ? fresh[0] : undefined;
    }, 'a replacement worker');
    await waitFor(
      async () => ((await pidsSeen(server.port, 6)).has(replacement) ? true : undefined),
      'answers',
    );
    assert.match(server.stderr(), new RegExp(`worker ${victim} was killed by SIGKILL; starting another`));
  });

  test('SIGHUP replaces every worker one by one while requests go on', async () => {
    const before = childPids(server.child.pid!);
    server.child.kill('SIGHUP');
    const failures: string[] = [];
    let requests = 0;
    await waitFor(async () => {
      requests++;
      const { responses, closed, timedOut, raw } = await exchange(
        server.port,
        get('/text.txt', 'Connection: close\r\n'),
      );
      if (responses[0]?.status !== 200) {
        failures.push(
          `request ${requests}: ${JSON.stringify({ closed, timedOut, raw: raw.toString('latin1', 0, 40) })}`,
        );
      }
      return server.stderr().includes('restart finished') ? true : undefined;
    }, 'the restart to finish');
    const after = childPids(server.child.pid!);
    assert.equal(after.length, 2);
    assert.ok(
      after.every((pid) => !before.includes(pid)),
      `old ${before} new ${after}`,
    );
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed during the restart`);
  });

  test('SIGTERM stops the workers and the primary with exit code 0', async () => {
    const workers = childPids(server.child.pid!);
    const exited = new Promise<number | null>((r) => server.child.once('exit', r));
    server.child.kill('SIGTERM');
    assert.equal(await exited, 0);
    await waitFor(() => (workers.every((pid) => !isAlive(pid)) ? true : undefined), 'the workers to exit');
  });
});

test('--workers 2 --auth-rate 3/min: a guesser gets three tries for the whole server, not three per worker', async () => {
  const server = await startWorkers('--workers', '2', '--auth', 'bob:secret@/docs', '--auth-rate', '3/min');
  const wrong = `Authorization: Basic ${Buffer.from('bob:wrong').toString('base64')}\r\n`;
  /** A wrong guess, and on the same connection a public file whose answer names the worker that took both. */
  const guess = async () => {
    const { responses } = await exchange(
      server.port,
      `${get('/docs/', wrong)}${get('/text.txt', 'Connection: close\r\n')}`,
      { responses: 2 },
    );
    assert.equal(responses[1]?.status, 200);
    return { status: responses[0]?.status, worker: Number(responses[1]?.headers['x-docroot-worker']) };
  };
  try {
    await waitFor(
      async () => ((await pidsSeen(server.port, 6)).size === 2 ? true : undefined),
      'both workers',
    );
    // Guess until each worker has answered a guess after the third failure; a worker counting alone
    // would still let its own first guesses through.
    const answers: Array<{ status: number | undefined; worker: number }> = [];
    await waitFor(async () => {
      answers.push(await guess());
      return new Set(answers.slice(3).map((answer) => answer.worker)).size === 2 ? true : undefined;
    }, 'both workers to answer the guesser after its third failure');
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [401, 401, 401, ...answers.slice(3).map(() => 429)],
      `status@worker: ${answers.map((answer) => `${answer.status}@${answer.worker}`).join(' ')}`,
    );
  } finally {
    server.child.kill('SIGKILL');
  }
});

test('--workers with a port in use says so once and exits 1', async () => {
  const blocker = await startWorkers('--workers', '1');
  try {
    const result = spawnSync(
      process.execPath,
      [CLI, FIXTURE_ROOT, '--port', String(blocker.port), '--host', '127.0.0.1', '--workers', '3'],
      { encoding: 'utf8', timeout: 10_000 },
    );
    assert.equal(result.status, 1);
    assert.equal(
      result.stderr,
      `docroot: port ${blocker.port} is already in use; try --port 0 for any free port\n`,
    );
  } finally {
    blocker.child.kill('SIGKILL');
  }
});

test('--workers auto means one worker per CPU; bad counts are one-line errors', () => {
  assert.equal(workerCount('auto'), os.availableParallelism());
  assert.equal(workerCount(3), 3);
  const bad = spawnSync(process.execPath, [CLI, '--workers', 'many'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, 'docroot: --workers needs a whole number, got "many" (or auto)\n');
  const zero = spawnSync(process.execPath, [CLI, '--workers', '0'], { encoding: 'utf8' });
  assert.match(zero.stderr, /--workers must be between 1 and 1024/);
});

test('a download in progress during SIGHUP finishes before its worker exits', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'docroot-workers-'));
  const size = 32 * 1024 * 1024;
  writeFileSync(path.join(root, 'big.bin'), Buffer.alloc(size, 7));
  const child = spawn(process.execPath, [CLI, root, '--port', '0', '--host', '127.0.0.1', '--workers', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const port = await new Promise<number>((resolve) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const match = /:(\d+)\//.exec(out);
        if (match) resolve(Number(match[1]));
      });
    });
    const socket = net.connect(port, '127.0.0.1');
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      socket.pause(); // a slow client: the response stays in flight
    });
    socket.write(get('/big.bin', 'Connection: close\r\n'));
    await waitFor(() => (received > 0 ? true : undefined), 'the first bytes');
    // An idle keep-alive connection to the same (only) worker: it closes it when told to shut down.
    const idle = net.connect(port, '127.0.0.1');
    idle.on('error', () => {});
    idle.write(get('/missing'));
    await nextEvent(idle, 'data', 'the answer on the idle connection');
    const idleClosed = nextEvent(idle, 'close', 'the old worker to close its idle connection');
    child.kill('SIGHUP');
    await waitFor(() => (err.includes('restarting 1 workers') ? true : undefined), 'the restart to begin');
    await idleClosed;
    assert.ok(!err.includes('restart finished'), 'the old worker waits for its download');
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('data', () => socket.resume());
    socket.resume();
    await closed;
    assert.ok(received > size, `received ${received} bytes of a ${size}-byte body plus head`);
    await waitFor(() => (err.includes('restart finished') ? true : undefined), 'the restart to finish');
  } finally {
    child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});

test('--help lists the production flags', () => {
  const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
  for (const flag of ['--tls-cert', '--tls-key', '--tls-self-signed', '--workers', '--watch']) {
    assert.match(help.stdout, new RegExp(`${flag} `));
  }
});
