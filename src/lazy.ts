/**
 * `lazy()`: a value made on first use, once, however many callers ask at the same time. Optional parts
 * (CGI, uploads, WebDAV, the access rules, the proxy) load their modules this way, so a server that
 * never needs them never pays for them. A load that fails is forgotten, so the next use tries again.
 * @module
 */

export interface Lazy<T> {
  /** The value, loading it on the first call. */
  get(): Promise<T>;
  /** The value if it was ever asked for (to close it on shutdown), else null: nothing is loaded to close. */
  ifStarted(): Promise<T> | null;
}

export function lazy<T>(load: () => Promise<T>): Lazy<T> {
  let pending: Promise<T> | null = null;
  return {
    get() {
      pending ??= load().catch((error: unknown) => {
        pending = null;
        throw error;
      });
      return pending;
    },
    ifStarted: () => pending,
  };
}
