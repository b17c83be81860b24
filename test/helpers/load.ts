/**
 * Helpers for the many-socket and fault tests: the fd limit, opening sockets in batches, a docroot in a
 * child process (see child-server.ts), and polling with a bound.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import type { ServerOptions } from '../../src/server.js';
import type { ChildStats } from './child-server.js';

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

/** Polls `probe` every `everyMs` until it returns true or `limitMs` passes; returns the last answer. */
export async function waitUntil(probe: () => boolean | Promise<boolean>, limitMs: number, everyMs = 50) {
  const until = Date.now() + limitMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
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
 * Starts docroot in a child (`node --expose-gc`), optionally under `ulimit -n <fdLimit>` via bash, and
 * resolves once it listens.
 */
export function startChildServer(options: ServerOptions, fdLimit?: number): Promise<ChildServer> {
  const args = ['--expose-gc', CHILD_SCRIPT, '--child-server', JSON.stringify(options)];
  const child =
    fdLimit === undefined
      ? spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : spawn('bash', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, ...args], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child server exited with ${code}`));
    child.once('exit', onExit);
    child.once('message', (message: { port: number }) => {
      child.off('exit', onExit);
      resolve({
        port: message.port,
        child,
        stats: () =>
          new Promise((done) => {
            const onMessage = (m: { stats?: ChildStats }) => {
              if (m.stats === undefined) return;
              child.off('message', onMessage);
              done(m.stats);
            };
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
