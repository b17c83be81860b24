/**
 * Bounded guessing (`--auth-rate`): failed authentications are counted per client address over a
 * sliding window; a client that reaches the limit gets 429 with Retry-After (RFC 6585 §4) until its oldest
 * failure in the window expires. Successes are not counted. The parser is here too, so the command line
 * loads nothing else.
 * @module
 */
import { DEFAULT_AUTH_FAILURES, DEFAULT_AUTH_WINDOW_MS } from '../defaults.js';

/** At most `failures` failed logins per client address within `windowMs`. */
export interface AuthRate {
  failures: number;
  windowMs: number;
}

/** Ten a minute: plenty for a person who mistyped, four orders of magnitude below an unthrottled guesser. */
export const DEFAULT_AUTH_RATE: AuthRate = Object.freeze({
  failures: DEFAULT_AUTH_FAILURES,
  windowMs: DEFAULT_AUTH_WINDOW_MS,
});
/**
 * Client addresses remembered at once; the least recently failing one is forgotten beyond this, so the
 * state stays bounded whatever the number of clients (≈ 10 000 × `failures` numbers).
 */
export const MAX_TRACKED_CLIENTS = 10_000;
/** The most failures a window may allow: beyond it the limit no longer limits anything useful. */
const MAX_FAILURES_PER_WINDOW = 100_000;

const WINDOW_UNITS: Readonly<Record<string, number>> = {
  s: 1000,
  sec: 1000,
  second: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
};

/**
 * `10/min`, `5/30s`, `100/hour`, a bare `10` (a minute), or `off` → an AuthRate, false (off), or a
 * one-line reason the text is wrong.
 */
export function parseAuthRate(text: string): AuthRate | false | string {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'off') return false;
  const match = /^(\d{1,6})(?:\s*\/\s*(\d{0,6})\s*([a-z]+))?$/.exec(trimmed);
  const unit = match?.[3] === undefined ? 60_000 : WINDOW_UNITS[match[3]];
  const failures = Number(match?.[1]);
  const count = match?.[2] === undefined || match[2] === '' ? 1 : Number(match[2]);
  if (
    match === null ||
    unit === undefined ||
    count < 1 ||
    failures < 1 ||
    failures > MAX_FAILURES_PER_WINDOW
  ) {
    return `--auth-rate needs failures per window like 10/min, 5/30s or 100/hour (or off), got "${text}"`;
  }
  return { failures, windowMs: count * unit };
}

/**
 * The key a client is counted under: its IPv4 address, or the /64 prefix of an IPv6 address (one
 * subscriber usually holds a whole /64, so counting single IPv6 addresses would not limit anything).
 */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::')
    ? [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back]
    : front;
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * Failures shared between the processes that serve one port (`--workers`), so that a guesser gets the
 * limit once, not once per process.
 */
export interface SharedFailures {
  /** Tells the other processes of a failure counted here; resolves once they have it (or waiting gave up). */
  publish(key: string, at: number): Promise<void>;
  /** Where the failures the other processes count arrive (those from before this call included). */
  subscribe(record: (key: string, at: number) => void): void;
}

/** Failure times per client, oldest first, at most `failures` each. */
export class FailureLimiter {
  private readonly clients = new Map<string, number[]>();

  constructor(
    readonly rate: AuthRate,
    private readonly now: () => number = Date.now,
    private readonly shared?: SharedFailures,
  ) {
    shared?.subscribe((key, at) => this.add(key, at));
  }

  /** Milliseconds until this client may try a password again; 0 when it may now. */
  retryAfterMs(address: string): number {
    const times = this.clients.get(clientKey(address));
    if (times === undefined || times.length < this.rate.failures) return 0;
    const wait = times[0]! + this.rate.windowMs - this.now();
    return Math.max(wait, 0);
  }

  /**
   * Counts a failed login; with `shared`, the promise resolves once the other processes count it too, so
   * the client's next attempt finds the same count wherever it lands.
   */
  recordFailure(address: string): Promise<void> | undefined {
    const key = clientKey(address);
    const now = this.now();
    this.add(key, now);
    return this.shared?.publish(key, now);
  }

  private add(key: string, at: number): void {
    const now = this.now();
    const times = (this.clients.get(key) ?? []).filter((time) => time > now - this.rate.windowMs);
    if (at <= now - this.rate.windowMs) return;
    times.push(at);
    // Another process's failure may be older than one counted here meanwhile.
    if (times.length > 1 && times[times.length - 2]! > at) times.sort((a, b) => a - b);
    if (times.length > this.rate.failures) times.splice(0, times.length - this.rate.failures);
    // Re-inserted, so the map's order is least recently failing first.
    this.clients.delete(key);
    this.clients.set(key, times);
    if (this.clients.size > MAX_TRACKED_CLIENTS) {
      const oldest = this.clients.keys().next();
      if (!oldest.done) this.clients.delete(oldest.value);
    }
  }

  /** Clients currently remembered (for tests of the bound). */
  get trackedClients(): number {
    return this.clients.size;
  }
}
