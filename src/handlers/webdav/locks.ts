/**
 * WebDAV write locks (RFC 4918 §6, §7): exclusive and shared, depth 0 or infinity, with timeouts. Locks
 * live in memory, keyed by URL path (a lock is on a URL, not on bytes: §6.1), and end with the process —
 * a client whose server restarted sees its token refused and locks again, as after any lock expiry.
 * @module
 */
import { randomUUID } from 'node:crypto';

/** Granted when the client asks for none or for Infinite (RFC 4918 §10.7 lets the server choose). */
export const DEFAULT_LOCK_TIMEOUT_SECONDS = 3600;
/** Longest timeout granted: a lock whose holder vanished must not block the share for days. */
export const MAX_LOCK_TIMEOUT_SECONDS = 7 * 24 * 3600;
/** Most locks held at once; more get 503, so lock requests cannot fill memory (RFC 4918 §20.6). */
export const MAX_LOCKS = 10_000;

export type LockScope = 'exclusive' | 'shared';
export type LockDepth = '0' | 'infinity';

export interface ActiveLock {
  /** `urn:uuid:…` (RFC 4918 §6.5 asks for unique URIs; §20.7 suggests urn:uuid). */
  readonly token: string;
  /** Decoded URL path of the lock root, '/' or '/a/b' (no trailing slash). */
  root: string;
  readonly scope: LockScope;
  readonly depth: LockDepth;
  /** The `DAV:owner` element's content as the client sent it (serialised XML), or ''. */
  readonly ownerXml: string;
  /** The authenticated user who took the lock ('' without --auth): only they may use its token (§6.4). */
  readonly principal: string;
  timeoutSeconds: number;
  expiresAt: number;
}

/** Whether `path` is `ancestor` or lies below it (both as lock keys). */
export function isWithin(ancestor: string, path: string): boolean {
  if (ancestor === path || ancestor === '/') return true;
  return path.startsWith(`${ancestor}/`);
}

/** The lock key of a list of decoded path segments. */
export function lockKey(segments: readonly string[]): string {
  return `/${segments.join('/')}`;
}

/** The granted timeout for a `Timeout` header (RFC 4918 §10.7): the first value we understand, capped. */
export function grantedTimeout(header: string | undefined): number {
  if (header === undefined) return DEFAULT_LOCK_TIMEOUT_SECONDS;
  for (const part of header.split(',')) {
    const value = part.trim();
    if (value.toLowerCase() === 'infinite') return DEFAULT_LOCK_TIMEOUT_SECONDS;
    if (value.toLowerCase().startsWith('second-')) {
      const digits = value.slice('second-'.length);
      if (/^\d{1,10}$/.test(digits)) {
        return Math.max(1, Math.min(Number(digits), MAX_LOCK_TIMEOUT_SECONDS));
      }
    }
  }
  return DEFAULT_LOCK_TIMEOUT_SECONDS;
}

export class LockTable {
  private readonly locks = new Map<string, ActiveLock>();

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    this.expire();
    return this.locks.size;
  }

  private expire(): void {
    const now = this.now();
    for (const [token, lock] of this.locks) if (lock.expiresAt <= now) this.locks.delete(token);
  }

  byToken(token: string): ActiveLock | undefined {
    this.expire();
    return this.locks.get(token);
  }

  /** Locks whose scope includes `path`: on it, or depth-infinity on an ancestor (§7.5). */
  covering(path: string): ActiveLock[] {
    this.expire();
    const found: ActiveLock[] = [];
    for (const lock of this.locks.values()) {
      if (lock.root === path || (lock.depth === 'infinity' && isWithin(lock.root, path))) found.push(lock);
    }
    return found;
  }

  /** Locks rooted at `path` or anywhere below it. */
  below(path: string): ActiveLock[] {
    this.expire();
    return [...this.locks.values()].filter((lock) => isWithin(path, lock.root));
  }

  /** Locks that a new lock of this scope and depth on `path` would conflict with (§6.2). */
  conflicts(path: string, scope: LockScope, depth: LockDepth): ActiveLock[] {
    const candidates = new Set(this.covering(path));
    if (depth === 'infinity') for (const lock of this.below(path)) candidates.add(lock);
    return [...candidates].filter((lock) => scope === 'exclusive' || lock.scope === 'exclusive');
  }

  create(
    path: string,
    scope: LockScope,
    depth: LockDepth,
    ownerXml: string,
    timeoutSeconds: number,
    principal = '',
  ) {
    const lock: ActiveLock = {
      token: `urn:uuid:${randomUUID()}`,
      root: path,
      scope,
      depth,
      ownerXml,
      principal,
      timeoutSeconds,
      expiresAt: this.now() + timeoutSeconds * 1000,
    };
    this.locks.set(lock.token, lock);
    return lock;
  }

  refresh(lock: ActiveLock, timeoutSeconds: number): void {
    lock.timeoutSeconds = timeoutSeconds;
    lock.expiresAt = this.now() + timeoutSeconds * 1000;
  }

  remove(token: string): boolean {
    return this.locks.delete(token);
  }

  /** Drops the locks rooted at or below `path` (the resources are gone: DELETE, MOVE source, §9.9.4). */
  removeBelow(path: string): void {
    for (const lock of this.below(path)) this.locks.delete(lock.token);
  }

  /** Seconds left on a lock, for the `DAV:timeout` element. */
  secondsLeft(lock: ActiveLock): number {
    return Math.max(0, Math.ceil((lock.expiresAt - this.now()) / 1000));
  }
}
