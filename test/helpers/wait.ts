/**
 * Waiting in tests: on events, never on sleeps. This is the only module under test/ that may create a
 * timer that is not a deadline (the poll interval of `waitFor`); `test/no-sleeps.test.ts` checks that.
 *
 * - `waitFor` polls a condition about the system under test (a file appeared, a log line was written)
 *   until it holds, and fails with what it waited for once the deadline passes.
 * - `nextEvent` waits for one emitter event, with the same deadline.
 * - `gate` is a promise the test opens by hand: a handler awaits it, so a test decides exactly when a
 *   "slow" response may finish (after the event it needs, such as the server having seen the head).
 * - `turn` gives every callback already queued on the event loop (I/O included) its chance to run: the
 *   event that proves "the system had its chance" before a test asserts that nothing happened.
 */
import type { EventEmitter } from 'node:events';

/**
 * How long a test waits for an event before it calls the event missing. Generous on purpose: a deadline
 * only bounds a failing test, so on a loaded 2-core machine it must never be what makes one fail.
 */
export const DEFAULT_DEADLINE_MS = 20_000;
/** Between two looks at a polled condition. */
const POLL_INTERVAL_MS = 5;

/**
 * Resolves with the first value of `probe` that is neither `undefined`, `null` nor `false`; throws
 * `timed out after N ms waiting for <what>` past the deadline.
 */
export async function waitFor<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  deadlineMs = DEFAULT_DEADLINE_MS,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

/** Resolves with the arguments of the next `event` from `emitter`; rejects past the deadline. */
export function nextEvent(
  emitter: EventEmitter,
  event: string,
  what: string,
  deadlineMs = DEFAULT_DEADLINE_MS,
): Promise<unknown[]> {
  return withDeadline(
    new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args))),
    what,
    deadlineMs,
  );
}

/** `promise`, or a rejection naming `what` if it has not settled within the deadline. */
export function withDeadline<T>(
  promise: Promise<T>,
  what: string,
  deadlineMs = DEFAULT_DEADLINE_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${deadlineMs} ms waiting for ${what}`)),
      deadlineMs,
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

/** A promise opened by hand. */
export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/**
 * Lets the event loop run `turns` full rounds (timers, I/O polling, setImmediate): anything already
 * queued, such as the reaction to bytes that have arrived, has then happened.
 */
export async function turn(turns = 1): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}
