/**
 * The worker side of `--workers`: a worker (this same `docroot` command started again by cluster with
 * DOCROOT_WORKER=1) asks the primary for the TLS material, shares its counters and failed logins, and
 * finishes when told to.
 * @module
 */
import cluster from 'node:cluster';
import type { MetricsSnapshot } from '../metrics/counters.js';
import type { SharedFailures } from '../server.js';
import {
  AUTH_FAILURE_RELAY_TIMEOUT_MS,
  EXPOSE_WORKER_ENV,
  type PrimaryToWorker,
  WORKER_ENV,
  WORKER_HEADER,
  type WorkerToPrimary,
} from './worker-messages.js';

/** Failures a worker keeps while its auth gate is not loaded yet (it loads with the first request that needs it). */
const AUTH_FAILURE_BACKLOG = 10_000;

export function isWorkerProcess(): boolean {
  return process.env[WORKER_ENV] === '1' && cluster.isWorker;
}

/** Worker side: the TLS material from the primary (so every worker serves the same certificate). */
export function requestTlsFromPrimary(): Promise<{ cert: string; key: string }> {
  return new Promise((resolve) => {
    const onMessage = (message: PrimaryToWorker) => {
      if (message?.type !== 'docroot:tls') return;
      process.off('message', onMessage);
      resolve({ cert: message.cert, key: message.key });
    };
    process.on('message', onMessage);
    process.send?.({ type: 'docroot:tls?' } satisfies WorkerToPrimary);
  });
}

/**
 * Worker side, with --auth: failed logins shared with the other workers through the primary, so
 * `--auth-rate` limits a client once for the whole server, not once per worker. A worker started later
 * (a restart) counts only the failures from then on.
 */
export function shareAuthFailuresWithPrimary(): SharedFailures {
  let nextId = 0;
  const waiting = new Map<number, () => void>();
  let record: ((key: string, at: number) => void) | null = null;
  const backlog: Array<[string, number]> = [];
  process.on('message', (message: PrimaryToWorker) => {
    if (message?.type === 'docroot:auth-failure') {
      if (record !== null) record(message.key, message.at);
      else if (backlog.push([message.key, message.at]) > AUTH_FAILURE_BACKLOG) backlog.shift();
      process.send?.({ type: 'docroot:auth-failure-counted', id: message.id } satisfies WorkerToPrimary);
    } else if (message?.type === 'docroot:auth-failure-shared') {
      waiting.get(message.id)?.();
    }
  });
  return {
    publish(key, at) {
      if (process.send === undefined || !process.connected) return Promise.resolve();
      return new Promise((resolve) => {
        const id = ++nextId;
        // The primary always answers; should it be gone, the answer to the client is not held up.
        const timer = setTimeout(finish, AUTH_FAILURE_RELAY_TIMEOUT_MS * 2);
        function finish() {
          clearTimeout(timer);
          waiting.delete(id);
          resolve();
        }
        waiting.set(id, finish);
        process.send?.({ type: 'docroot:auth-failure', id, key, at } satisfies WorkerToPrimary);
      });
    },
    subscribe(recordFailure) {
      record = recordFailure;
      for (const [key, at] of backlog.splice(0)) recordFailure(key, at);
    },
  };
}

/** Worker side: calls `stop` when the primary asks this worker to finish and exit. */
export function onShutdownRequest(stop: () => void): void {
  process.on('message', (message: PrimaryToWorker) => {
    if (message?.type === 'docroot:shutdown') stop();
  });
}

/**
 * Worker side, with --metrics: answers the primary's calls for this worker's counters, and returns the
 * function that asks the primary for the whole server's (every worker's, summed).
 */
export function shareMetricsWithPrimary(
  local: () => MetricsSnapshot | null,
): (fallback: MetricsSnapshot) => Promise<MetricsSnapshot> {
  let nextId = 0;
  const waiting = new Map<number, (snapshot: MetricsSnapshot | null) => void>();
  process.on('message', (message: PrimaryToWorker) => {
    if (message?.type === 'docroot:metrics-collect') {
      const snapshot = local();
      if (snapshot !== null) {
        process.send?.({
          type: 'docroot:metrics-snapshot',
          id: message.id,
          snapshot,
        } satisfies WorkerToPrimary);
      }
    } else if (message?.type === 'docroot:metrics') {
      waiting.get(message.id)?.(message.snapshot);
      waiting.delete(message.id);
    }
  });
  return (fallback) =>
    new Promise((resolve) => {
      const id = ++nextId;
      waiting.set(id, (snapshot) => resolve(snapshot ?? fallback));
      process.send?.({ type: 'docroot:metrics?', id } satisfies WorkerToPrimary);
    });
}

/** Worker side: this worker's last counters, sent before it exits so the server's totals keep them. */
export function sendFinalMetrics(snapshot: MetricsSnapshot | null): Promise<void> {
  return new Promise((resolve) => {
    if (snapshot === null || process.send === undefined || !process.connected) {
      resolve();
      return;
    }
    process.send({ type: 'docroot:metrics-final', snapshot } satisfies WorkerToPrimary, undefined, {}, () =>
      resolve(),
    );
  });
}

/** Worker side: extra response fields (the pid, only when DOCROOT_EXPOSE_WORKER=1). */
export function workerHeaders(): Record<string, string> {
  return process.env[EXPOSE_WORKER_ENV] === '1' ? { [WORKER_HEADER]: String(process.pid) } : {};
}
