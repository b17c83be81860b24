/**
 * Password checks off the event loop: fast kinds (plain, `sha512:<hex>`) are checked inline; slow hashes
 * (bcrypt, SHA-512 crypt, milliseconds each on purpose) go to one worker thread (password-worker.ts),
 * started on the first such check. While the thread works, the event loop keeps serving everyone else.
 * @module
 */
import { Worker } from 'node:worker_threads';
import { isSlowKind, passwordKind, verifyPasswordSync } from './passwords.js';

/**
 * Slow checks waiting for the worker beyond this are refused at once (503): the queue is what a flood of
 * guesses from many addresses would grow, and each entry costs a request held open.
 */
export const MAX_QUEUED_VERIFICATIONS = 64;

/** The worker's queue is full: answer 503 with Retry-After rather than wait. */
export class VerifierBusyError extends Error {
  constructor() {
    super(`more than ${MAX_QUEUED_VERIFICATIONS} password checks are waiting`);
    this.name = 'VerifierBusyError';
  }
}

export interface PasswordVerifier {
  /** Whether `given` matches `stored`; rejects with VerifierBusyError when too many checks wait. */
  verify(given: string, stored: string): Promise<boolean>;
  /** Checks started so far, fast and slow alike (so a test can see that a dummy check ran). */
  readonly count: number;
  /** Stops the worker thread (server shutdown). */
  close(): Promise<void>;
}

interface Pending {
  resolve(ok: boolean): void;
  reject(error: unknown): void;
}

export function createPasswordVerifier(): PasswordVerifier {
  let worker: Worker | null = null;
  let nextId = 0;
  let count = 0;
  const pending = new Map<number, Pending>();

  const failAll = (error: unknown) => {
    for (const entry of pending.values()) entry.reject(error);
    pending.clear();
  };

  function startWorker(): Worker {
    const thread = new Worker(new URL('./password-worker.js', import.meta.url));
    // An idle checker must not keep a finished program alive.
    thread.unref();
    thread.on('message', (message: { id: number; ok: boolean }) => {
      const entry = pending.get(message.id);
      if (entry === undefined) return;
      pending.delete(message.id);
      entry.resolve(message.ok);
    });
    // A crashed worker fails the checks it held (500 for those requests); the next check starts a new one.
    const onGone = (error: unknown) => {
      if (worker === thread) worker = null;
      failAll(error);
    };
    thread.on('error', onGone);
    thread.on('exit', (code) => onGone(new Error(`the password worker exited with code ${code}`)));
    return thread;
  }

  return {
    get count() {
      return count;
    },
    verify(given, stored) {
      count++;
      if (!isSlowKind(passwordKind(stored))) return Promise.resolve(verifyPasswordSync(given, stored, null));
      if (pending.size >= MAX_QUEUED_VERIFICATIONS) return Promise.reject(new VerifierBusyError());
      worker ??= startWorker();
      const id = nextId++;
      const thread = worker;
      return new Promise<boolean>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        thread.postMessage({ id, given, stored });
      });
    },
    async close() {
      const thread = worker;
      worker = null;
      if (thread !== null) await thread.terminate();
    },
  };
}
