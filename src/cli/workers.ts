/**
 * `--workers N`: a primary process that forks N copies of the server with `node:cluster`, replaces the
 * ones that die (backing off when they die in a loop), restarts them one at a time on SIGHUP and stops
 * them all gracefully on SIGINT/SIGTERM.
 *
 * The workers accept from one shared listening socket (`SCHED_NONE`), not through the primary's
 * round-robin: see the comment where the policy is set.
 *
 * Imported with import() only when --workers is given; the worker side (worker-side.ts, re-exported
 * here) runs in the same `docroot` command (main.ts), started again by cluster with DOCROOT_WORKER=1;
 * what the two say to each other is in worker-messages.ts. Nothing here prints or exits: the primary
 * reports through `log`, and main.ts decides.
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { type MetricsSnapshot, retiredPart, sumSnapshots } from '../metrics/counters.js';
import {
  AUTH_FAILURE_RELAY_TIMEOUT_MS,
  type PrimaryToWorker,
  WORKER_ENV,
  type WorkerToPrimary,
} from './worker-messages.js';

export { EXPOSE_WORKER_ENV, WORKER_ENV, WORKER_HEADER } from './worker-messages.js';
export {
  isWorkerProcess,
  onShutdownRequest,
  requestTlsFromPrimary,
  sendFinalMetrics,
  shareAuthFailuresWithPrimary,
  shareMetricsWithPrimary,
  workerHeaders,
} from './worker-side.js';

/** More unexpected exits than this within CRASH_WINDOW_MS is a crash loop. */
export const CRASH_LOOP_LIMIT = 5;
export const CRASH_WINDOW_MS = 30_000;
/** First pause once in a crash loop, doubled for each further crash, up to the maximum. */
const CRASH_BACKOFF_FIRST_MS = 1_000;
const CRASH_BACKOFF_MAX_MS = 30_000;
/** A worker told to stop gets this long to finish its responses (its own grace is 10 s) before SIGKILL. */
const WORKER_STOP_TIMEOUT_MS = 15_000;

/** How long the primary waits for the workers' counters before answering a scrape with those it has. */
const METRICS_COLLECT_TIMEOUT_MS = 2_000;
export function workerCount(requested: number | 'auto'): number {
  return requested === 'auto' ? os.availableParallelism() : requested;
}

export interface PrimaryOptions {
  count: number;
  /** The certificate and key every worker serves (read or made once, so all workers agree). */
  tls?: { cert: string; key: string };
  /** A line for the terminal. */
  log(line: string): void;
}

export interface Primary {
  /** Resolves with the port once the first worker listens; rejects when it could not start. */
  readonly ready: Promise<{ port: number; address: string }>;
  /** Resolves with the exit code once every worker is gone. */
  readonly done: Promise<number>;
  /** Graceful restart: replace the workers one by one, each old one finishing its responses. */
  restart(): Promise<void>;
  /** Graceful shutdown: every worker finishes its responses and exits. */
  stop(): void;
  /** Kills every worker at once. */
  kill(): void;
  pids(): number[];
}

/**
 * How long to wait before replacing a worker, given how many unexpected exits happened within the
 * crash window (this one included): at once up to CRASH_LOOP_LIMIT, then 1 s, 2 s, 4 s… up to 30 s, so a
 * worker that dies on every request cannot turn the primary into a fork bomb.
 */
export function restartDelayMs(recentExits: number): number {
  const overLimit = recentExits - CRASH_LOOP_LIMIT;
  if (overLimit <= 0) return 0;
  return Math.min(CRASH_BACKOFF_MAX_MS, CRASH_BACKOFF_FIRST_MS * 2 ** (overLimit - 1));
}

export function startPrimary(options: PrimaryOptions): Primary {
  const live = new Set<Worker>();
  /** Workers that have listened, so they have their message handlers in place. */
  const started = new WeakSet<Worker>();
  const retiring = new Set<Worker>();
  const crashes: number[] = [];
  let everListened = false;
  let stopping = false;
  let restarting: Promise<void> | null = null;
  let resolveReady!: (address: { port: number; address: string }) => void;
  let rejectReady!: (error: Error) => void;
  const ready = new Promise<{ port: number; address: string }>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {});
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });
  let exitCode = 0;

  // The kernel hands connections to the workers from the one shared listening socket. With the primary
  // handing them out instead (round robin), a connection sent to a worker that is retiring was lost when
  // that worker exited before taking it: a rolling restart dropped a request now and then.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ silent: false });

  // --metrics: a scrape reaches one worker, which asks the primary for everyone's counters.
  let collectionId = 0;
  const collections = new Map<number, (snapshot: MetricsSnapshot) => void>();
  /**
   * Each live worker's latest counters, and the last ones of workers gone, so totals never go back when
   * workers are replaced. A worker's final counters may arrive just before or just after its exit.
   */
  const lastSnapshots = new Map<Worker, MetricsSnapshot>();
  const goneSnapshots = new Map<Worker, MetricsSnapshot>();
  const collectMetrics = (): Promise<MetricsSnapshot | null> => {
    const id = ++collectionId;
    // Workers still starting have served nothing and cannot answer yet.
    const asked = [...live].filter((worker) => started.has(worker) && worker.isConnected());
    return new Promise((resolve) => {
      const got: MetricsSnapshot[] = [];
      const finish = () => {
        clearTimeout(timer);
        collections.delete(id);
        resolve(sumSnapshots([...got, ...[...goneSnapshots.values()].map(retiredPart)]));
      };
      const timer = setTimeout(finish, METRICS_COLLECT_TIMEOUT_MS);
      collections.set(id, (snapshot) => {
        got.push(snapshot);
        if (got.length === asked.length) finish();
      });
      for (const worker of asked) send(worker, { type: 'docroot:metrics-collect', id });
      if (asked.length === 0) finish();
    });
  };

  // --auth-rate: a failed login one worker counts is relayed to the others; the worker answers the client
  // once they all have it, so the client's next attempt meets the same count whichever worker takes it.
  let relayId = 0;
  const relays = new Map<number, { waiting: Set<Worker>; done: () => void }>();
  const relayAuthFailure = (from: Worker, id: number, key: string, at: number) => {
    const others = [...live].filter(
      (worker) => worker !== from && started.has(worker) && worker.isConnected(),
    );
    const relay = ++relayId;
    const waiting = new Set(others);
    const done = () => {
      clearTimeout(timer);
      relays.delete(relay);
      send(from, { type: 'docroot:auth-failure-shared', id });
    };
    const timer = setTimeout(done, AUTH_FAILURE_RELAY_TIMEOUT_MS);
    relays.set(relay, { waiting, done });
    for (const worker of others) send(worker, { type: 'docroot:auth-failure', id: relay, key, at });
    if (waiting.size === 0) done();
  };
  const counted = (worker: Worker, relay: number) => {
    const entry = relays.get(relay);
    if (entry === undefined) return;
    entry.waiting.delete(worker);
    if (entry.waiting.size === 0) entry.done();
  };

  const fork = (): Worker => {
    const worker = cluster.fork({ [WORKER_ENV]: '1' });
    live.add(worker);
    worker.on('message', (message: WorkerToPrimary) => {
      if (message?.type === 'docroot:auth-failure') {
        relayAuthFailure(worker, message.id, message.key, message.at);
      } else if (message?.type === 'docroot:auth-failure-counted') {
        counted(worker, message.id);
      } else if (message?.type === 'docroot:tls?' && options.tls !== undefined) {
        send(worker, { type: 'docroot:tls', ...options.tls });
      } else if (message?.type === 'docroot:metrics?') {
        void collectMetrics().then((snapshot) =>
          send(worker, { type: 'docroot:metrics', id: message.id, snapshot }),
        );
      } else if (message?.type === 'docroot:metrics-snapshot') {
        lastSnapshots.set(worker, message.snapshot);
        collections.get(message.id)?.(message.snapshot);
      } else if (message?.type === 'docroot:metrics-final') {
        (live.has(worker) ? lastSnapshots : goneSnapshots).set(worker, message.snapshot);
      }
    });
    worker.once('listening', (address) => {
      started.add(worker);
      everListened = true;
      resolveReady({ port: address.port, address: address.address ?? '' });
    });
    worker.once('exit', (code, signal) => onExit(worker, code, signal));
    return worker;
  };

  const onExit = (worker: Worker, code: number | null, signal: string | null) => {
    live.delete(worker);
    // A relay still waiting for this worker's count waits no more.
    for (const relay of [...relays.keys()]) counted(worker, relay);
    const last = lastSnapshots.get(worker);
    if (last !== undefined) {
      lastSnapshots.delete(worker);
      goneSnapshots.set(worker, last);
    }
    const expected = retiring.delete(worker);
    if (stopping) {
      if (live.size === 0) resolveDone(exitCode);
      return;
    }
    if (expected) return;
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
    if (!everListened) {
      // It could not start (port in use, bad root…) and said why on stderr; the others will not do better.
      exitCode = 1;
      rejectReady(new Error(`worker ${worker.process.pid} ${how} before listening`));
      stopAll();
      return;
    }
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
    const delay = restartDelayMs(crashes.length);
    if (delay === 0) {
      options.log(`worker ${worker.process.pid} ${how}; starting another`);
      fork();
      return;
    }
    options.log(
      `worker ${worker.process.pid} ${how}; ${crashes.length} exits in ${CRASH_WINDOW_MS / 1000} s, ` +
        `waiting ${delay / 1000} s before starting another`,
    );
    setTimeout(() => {
      if (!stopping) fork();
    }, delay);
  };

  /** Asks one worker to stop and resolves when it has exited (killed if it takes too long). */
  const retire = (worker: Worker): Promise<void> =>
    new Promise((resolve) => {
      retiring.add(worker);
      if (worker.isDead()) {
        resolve();
        return;
      }
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), WORKER_STOP_TIMEOUT_MS);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      // One still starting has no handler for the message yet, and nothing to finish: SIGTERM ends it.
      if (started.has(worker)) send(worker, { type: 'docroot:shutdown' });
      else worker.process.kill('SIGTERM');
    });

  const stopAll = () => {
    stopping = true;
    if (live.size === 0) {
      resolveDone(exitCode);
      return;
    }
    for (const worker of live) void retire(worker);
  };

  const waitForListening = (worker: Worker): Promise<boolean> =>
    new Promise((resolve) => {
      const onListening = () => {
        worker.off('exit', onEarlyExit);
        resolve(true);
      };
      const onEarlyExit = () => {
        worker.off('listening', onListening);
        resolve(false);
      };
      worker.once('listening', onListening);
      worker.once('exit', onEarlyExit);
    });

  const restartOneByOne = async () => {
    const old = [...live];
    options.log(`restarting ${old.length} workers one by one`);
    for (const worker of old) {
      if (stopping) return;
      if (worker.isDead()) continue;
      const replacement = fork();
      if (!(await waitForListening(replacement))) {
        options.log('a new worker failed to start; keeping the running ones');
        return;
      }
      await retire(worker);
    }
    options.log('restart finished');
  };

  // The first worker alone, so a start-up error (port in use) is reported once; then the rest.
  const first = fork();
  void waitForListening(first).then((listening) => {
    if (!listening || stopping) return;
    for (let i = 1; i < options.count; i++) fork();
  });

  return {
    ready,
    done,
    restart() {
      if (restarting === null) {
        restarting = restartOneByOne().finally(() => {
          restarting = null;
        });
      }
      return restarting;
    },
    stop: stopAll,
    kill() {
      stopping = true;
      for (const worker of live) worker.process.kill('SIGKILL');
    },
    pids: () => [...live].map((worker) => worker.process.pid ?? 0),
  };
}

function send(worker: Worker, message: PrimaryToWorker): void {
  if (!worker.isConnected()) return;
  worker.send(message, (error: Error | null) => {
    // A worker that exited meanwhile: its exit handler deals with it.
    void error;
  });
}
