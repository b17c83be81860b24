/**
 * docroot in a child process, for tests that need its own fd table (EMFILE under a low `ulimit -n`), its own
 * heap (`--expose-gc`), or more sockets than the test process may hold. Started by `startChildServer` in
 * `load.ts` with `--child-server <json options>`; talks over IPC: sends `{ port }` once listening and
 * answers `'stats'` with `{ fds, heapUsed, connections }`. Does nothing when loaded any other way (the
 * test runner loads every file under build/test).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type ServerOptions } from '../../src/server.js';

export interface ChildStats {
  fds: number;
  heapUsed: number;
  rss: number;
  /** Highest resident set size so far (VmHWM), in bytes; -1 where unknown. */
  peakRss: number;
  connections: number;
  errors: number;
  /** The context of each logged error (`PUT /a.txt`, `response body`…), in order. */
  errorContexts: string[];
  /** Failed accepts (EMFILE) reported by the listening socket. */
  acceptErrors: number;
}

function countFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1; // reading the directory needs a descriptor too: -1 means none was left
  }
}

function peakRss(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'latin1'));
    return match === null ? -1 : Number(match[1]) * 1024;
  } catch {
    return -1;
  }
}

/** process.memoryUsage() reads /proc/self/stat, which needs a descriptor; -1 when none is left. */
function memory(): { heapUsed: number; rss: number } {
  try {
    const usage = process.memoryUsage();
    return { heapUsed: usage.heapUsed, rss: usage.rss };
  } catch {
    return { heapUsed: -1, rss: -1 };
  }
}

const flag = process.argv.indexOf('--child-server');
if (flag !== -1 && process.send !== undefined) {
  const options = JSON.parse(process.argv[flag + 1] ?? '{}') as ServerOptions;
  let errors = 0;
  const errorContexts: string[] = [];
  const server = createServer({
    ...options,
    port: 0,
    host: '127.0.0.1',
    logError: (_error, context) => {
      errors++;
      errorContexts.push(context);
    },
  });
  const { port } = await server.listen();
  let acceptErrors = 0;
  server.wire.server.on('error', () => acceptErrors++);
  process.send({ port });
  process.on('message', (message) => {
    if (message === 'stats') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      const stats: ChildStats = {
        fds: countFds(),
        heapUsed: memory().heapUsed,
        rss: memory().rss,
        peakRss: peakRss(),
        connections: server.wire.connectionCount,
        errors,
        errorContexts,
        acceptErrors,
      };
      process.send?.({ stats });
    } else if (message === 'exit') {
      void server.close(500).then(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
}
