/**
 * What the `--workers` primary (workers.ts) and its workers (worker-side.ts) say to each other over
 * cluster's IPC channel, and the settings both sides read.
 * @module
 */
import type { MetricsSnapshot } from '../metrics/counters.js';

/** Set in each worker's environment by the primary. */
export const WORKER_ENV = 'DOCROOT_WORKER';
/** Test and diagnostics aid: with DOCROOT_EXPOSE_WORKER=1 every response names the worker's pid. */
export const EXPOSE_WORKER_ENV = 'DOCROOT_EXPOSE_WORKER';
export const WORKER_HEADER = 'X-Docroot-Worker';

/**
 * How long a failed login's answer waits for every other worker to count it (--auth-rate). They answer
 * in well under a millisecond; a worker stuck longer than this does not hold the answer up.
 */
export const AUTH_FAILURE_RELAY_TIMEOUT_MS = 1_000;

export type PrimaryToWorker =
  | { type: 'docroot:shutdown' }
  | { type: 'docroot:auth-failure'; id: number; key: string; at: number }
  | { type: 'docroot:auth-failure-shared'; id: number }
  | { type: 'docroot:tls'; cert: string; key: string }
  | { type: 'docroot:metrics-collect'; id: number }
  | { type: 'docroot:metrics'; id: number; snapshot: MetricsSnapshot | null };
export type WorkerToPrimary =
  | { type: 'docroot:tls?' }
  | { type: 'docroot:auth-failure'; id: number; key: string; at: number }
  | { type: 'docroot:auth-failure-counted'; id: number }
  | { type: 'docroot:metrics?'; id: number }
  | { type: 'docroot:metrics-snapshot'; id: number; snapshot: MetricsSnapshot }
  | { type: 'docroot:metrics-final'; snapshot: MetricsSnapshot };
