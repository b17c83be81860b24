/**
 * Helpers for the many-socket and fault tests: the fd limit, opening sockets in batches, a docroot in a
 * child process (see child-server.ts), and polling with a bound.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import type { ServerOptions } from '../../src/server.js';
import type { ChildStats } from './child-server.js';
import { seededRandom } from './seeded.js';
import { waitFor } from './wait.js';

/** The soft limit on open files of this process (from /proc/self/limits), or Infinity when unknown. */
export function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Open file descriptors of this process (0 where /proc does not exist). */
export function openFdCount(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/** Opens `count` sockets to 127.0.0.1:port, `batch` connects at a time. Sockets that fail are skipped. */
export async function openSockets(port: number, count: number, batch = 250): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    const opened = await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<net.Socket | null>((resolve) => {
            const socket = net.connect(port, '127.0.0.1');
            socket.once('connect', () => resolve(socket));
            socket.once('error', () => resolve(null));
            socket.on('error', () => {});
          }),
      ),
    );
    for (const socket of opened) if (socket !== null) sockets.push(socket);
  }
  return sockets;
}

/** `waitFor` that answers false instead of throwing once `limitMs` passes (stress scripts report it). */
export async function waitUntil(probe: () => boolean | Promise<boolean>, limitMs: number): Promise<boolean> {
  try {
    return await waitFor(probe, 'a condition', limitMs);
  } catch {
    return false;
  }
}

export interface ChildServer {
  port: number;
  child: ChildProcess;
  stats(): Promise<ChildStats>;
  stop(): Promise<void>;
}

const CHILD_SCRIPT = new URL('./child-server.js', import.meta.url).pathname;

/**
 * Starts docroot in a child (`node --expose-gc`), optionally under `ulimit -n <fdLimit>` via bash (or the
 * hard limit when fdLimit is above it), and resolves once it listens.
 */
export function startChildServer(options: ServerOptions, fdLimit?: number): Promise<ChildServer> {
  const args = ['--expose-gc', CHILD_SCRIPT, '--child-server', JSON.stringify(options)];
  const child =
    fdLimit === undefined
      ? spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : spawn(
          'bash',
          [
            '-c',
            // Lowering always works; raising beyond the hard limit does not, so fall back to the hard limit.
            `ulimit -n ${fdLimit} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`,
            process.execPath,
            ...args,
          ],
          {
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          },
        );
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child server exited with ${code}`));
    child.once('exit', onExit);
    child.once('message', (message: { port: number }) => {
      child.off('exit', onExit);
      resolve({
        port: message.port,
        child,
        stats: () =>
          new Promise((done, fail) => {
            const onExit = (code: number | null) => fail(new Error(`child server exited with ${code}`));
            const onMessage = (m: { stats?: ChildStats }) => {
              if (m.stats === undefined) return;
              child.off('message', onMessage);
              child.off('exit', onExit);
              done(m.stats);
            };
            if (child.exitCode !== null) {
              onExit(child.exitCode);
              return;
            }
            child.once('exit', onExit);
            child.on('message', onMessage);
            child.send('stats');
          }),
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) {
              done();
              return;
            }
            const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
            child.once('exit', () => {
              clearTimeout(timer);
              done();
            });
            child.send('exit');
          }),
      });
    });
  });
}

export type SoakAction =
  | 'full'
  | 'keep-alive'
  | 'abort-mid-body'
  | 'reset-mid-body'
  | 'abort-mid-head'
  | 'garbage'
  | 'pipelined-abort'
  | 'abandoned-upload';

const ACTIONS: SoakAction[] = [
  'full',
  'keep-alive',
  'abort-mid-body',
  'reset-mid-body',
  'abort-mid-head',
  'garbage',
  'pipelined-abort',
  'abandoned-upload',
];

export interface SoakOptions {
  requests: number;
  concurrency: number;
  /** A small file and a large one (several MiB) under the server's root. */
  smallPath: string;
  largePath: string;
  /** Give up on one action after this long (it counts as 'stuck'). @default 10000 */
  actionTimeoutMs?: number;
  /** Stop early after this long. */
  deadlineMs?: number;
}

export interface SoakResult {
  requests: number;
  byAction: Record<string, number>;
  outcomes: Record<string, number>;
  stuck: number;
  ms: number;
}

/** The soak's PRNG: a seed replays a run. */
export const random = seededRandom;

/** One client action against the server; resolves with a short outcome label. */
function act(port: number, action: SoakAction, options: SoakOptions, rand: () => number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = 0;
    let text = '';
    let done = false;
    const finish = (outcome: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!socket.destroyed) socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish('stuck'), options.actionTimeoutMs ?? 10_000);
    const request = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: soak\r\n${extra}\r\n`;
    socket.on('error', () => finish('error'));
    socket.on('close', () => finish(received > 0 ? `closed after ${text.slice(9, 12)}` : 'closed'));
    socket.on('data', (chunk: Buffer) => {
      if (received === 0) text = chunk.toString('latin1', 0, Math.min(chunk.length, 64));
      received += chunk.length;
      switch (action) {
        case 'abort-mid-body':
          finish('aborted');
          break;
        case 'reset-mid-body':
          if (!done) {
            done = true;
            clearTimeout(timer);
            socket.resetAndDestroy();
            resolve('reset');
          }
          break;
        case 'pipelined-abort':
          finish('aborted after first');
          break;
        default:
          break;
      }
    });
    socket.on('connect', () => {
      switch (action) {
        case 'full':
          socket.write(request(options.smallPath, 'Connection: close\r\n'));
          break;
        case 'keep-alive':
          socket.write(request(options.smallPath) + request(options.smallPath, 'Connection: close\r\n'));
          break;
        case 'abort-mid-body':
        case 'reset-mid-body':
          socket.write(request(options.largePath));
          break;
        case 'abort-mid-head': {
          const bytes = request(options.smallPath);
          socket.write(bytes.slice(0, 1 + Math.floor(rand() * (bytes.length - 2))));
          setImmediate(() => finish('aborted'));
          break;
        }
        case 'garbage': {
          const junk = Buffer.alloc(1 + Math.floor(rand() * 200));
          for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256);
          socket.end(junk);
          break;
        }
        case 'pipelined-abort':
          socket.write(request(options.largePath) + request(options.smallPath) + request(options.largePath));
          break;
        case 'abandoned-upload':
          socket.write('POST /upload HTTP/1.1\r\nHost: soak\r\nContent-Length: 100000\r\n\r\npartial');
          setImmediate(() => finish('abandoned'));
          break;
      }
    });
  });
}

/** Runs `requests` random client actions, `concurrency` at a time. */
export async function soak(port: number, options: SoakOptions, seed = 1): Promise<SoakResult> {
  const rand = random(seed);
  const started = Date.now();
  const byAction: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  let next = 0;
  let stuck = 0;
  const worker = async () => {
    while (next < options.requests) {
      if (options.deadlineMs !== undefined && Date.now() - started > options.deadlineMs) return;
      next++;
      const action = ACTIONS[Math.floor(rand() * ACTIONS.length)]!;
      byAction[action] = (byAction[action] ?? 0) + 1;
      const outcome = await act(port, action, options, rand);
      if (outcome === 'stuck') stuck++;
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return { requests: next, byAction, outcomes, stuck, ms: Date.now() - started };
}
