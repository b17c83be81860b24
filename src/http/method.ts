/**
 * Request methods the server recognises. Methods are case-sensitive tokens, RFC 9110 §9.1.
 * @module
 */

/**
 * RFC 9110 §9.3 methods, PATCH (RFC 5789), and the WebDAV methods of RFC 4918 §9, so that a request with
 * one of these gets 405 (known, not allowed here) rather than 501 (not implemented), §15.5.6 / §15.6.2.
 */
export const KNOWN_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
] as const;

export type KnownMethod = (typeof KNOWN_METHODS)[number];

/** Safe methods, RFC 9110 §9.2.1 (GET, HEAD, OPTIONS, TRACE), plus PROPFIND, safe per RFC 4918 §9.1. */
export const SAFE_METHODS: readonly KnownMethod[] = ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND'];

/** Idempotent methods, RFC 9110 §9.2.2: the safe ones plus PUT and DELETE (and the idempotent WebDAV ones). */
export const IDEMPOTENT_METHODS: readonly KnownMethod[] = [
  ...SAFE_METHODS,
  'PUT',
  'DELETE',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'UNLOCK',
];

const knownMethods: ReadonlySet<string> = new Set(KNOWN_METHODS);
const safeMethods: ReadonlySet<string> = new Set(SAFE_METHODS);
const idempotentMethods: ReadonlySet<string> = new Set(IDEMPOTENT_METHODS);

/** Whether `method` is one of {@link KNOWN_METHODS} (exact, case-sensitive match). */
export function isKnownMethod(method: string): method is KnownMethod {
  // Nearly every request is a GET or HEAD: two string compares cost less than hashing a fresh string.
  return method === 'GET' || method === 'HEAD' || knownMethods.has(method);
}

/** Whether `method` is safe, RFC 9110 §9.2.1. */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || safeMethods.has(method);
}

/** Whether `method` is idempotent, RFC 9110 §9.2.2. */
export function isIdempotentMethod(method: string): boolean {
  return idempotentMethods.has(method);
}
