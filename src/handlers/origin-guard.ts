/**
 * Who may ask at all, before the access rules: a `Host` that names this server when it listens on
 * loopback only (DNS rebinding: a page on evil.example whose name is made to resolve to 127.0.0.1 would
 * otherwise read, and with uploads write, the whole folder), and unsafe methods only from this server's
 * own pages (cross-site request forgery: a form on another site posting to a local server), as Go's
 * `CrossOriginProtection` and Vite's `allowedHosts` do. Transport-free; wrapped around the whole handler in
 * server.ts.
 * @module
 */
import { isIP } from 'node:net';
import { isSafeMethod } from '../http/method.js';
import type { HttpRequest, RequestHandler, ResponseDescription } from '../wire/message.js';
import { errorResponse } from './errors.js';

/** Kept here too: the guard decides with it whether to check `Host` at all. */
export { isLoopbackHost } from '../wire/endpoints.js';

export interface OriginGuardOptions {
  /**
   * Check `Host`: the names allowed besides localhost names and IP addresses (`.example.com` allows the
   * domain and its subdomains), or true to allow any. null skips the check (the server is not on loopback).
   */
  allowedHosts: readonly string[] | true | null;
  /** Let other origins send unsafe methods (`--cors`). */
  crossOriginWrites: boolean;
}

/** The host part of an authority (`name:port`, `[v6]:port`), lower-cased, without a trailing dot. */
export function hostOfAuthority(authority: string): string {
  let host = authority;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    host = end === -1 ? host : host.slice(0, end + 1);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
  }
  return host.toLowerCase().replace(/\.$/, '');
}

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  // An address names the machine itself, never a name an attacker can point somewhere else.
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) return true;
  for (const entry of allowed) {
    const name = entry.toLowerCase();
    if (host === name) return true;
    if (name.startsWith('.') && (host.endsWith(name) || host === name.slice(1))) return true;
  }
  return false;
}

/** The default port of an origin's scheme, which `Host` may leave out. */
const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

/** Why this unsafe request comes from another origin, or null when it does not (or cannot tell). */
function crossOriginReason(request: HttpRequest): string | null {
  const site = request.headers['sec-fetch-site']?.trim().toLowerCase();
  if (site !== undefined) {
    // Fetch Metadata: "none" is the user's own doing (typed URL, bookmark); same-origin is our own page.
    if (site === 'same-origin' || site === 'none') return null;
    return `the browser marked it Sec-Fetch-Site: ${site}`;
  }
  const origin = request.headers.origin;
  // Tools (curl, rclone) send no Origin; only browsers do, and they always do for unsafe methods.
  if (origin === undefined) return null;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `its Origin "${origin}" is not a URL`;
  }
  if (origin === 'null' || url.host === '') return 'its Origin is "null" (a sandboxed or local page)';
  const port = DEFAULT_PORTS[url.protocol];
  const authority = request.authority.toLowerCase();
  const own =
    port !== undefined && authority.endsWith(`:${port}`) ? authority.slice(0, -port.length - 1) : authority;
  return url.host === own ? null : `its Origin ${origin} is not this server (${request.authority})`;
}

/** Authorities already found allowed, so the hot path pays one set lookup (bounded: cleared when full). */
const KNOWN_GOOD_AUTHORITIES = 64;

/**
 * The authorities one guard has found allowed: the last one is compared first (a client sends the same
 * Host on every request, and comparing a fresh string costs less than hashing it), then the set.
 */
export class AllowedAuthorities {
  private last = '';
  private readonly all = new Set<string>();

  has(authority: string): boolean {
    if (authority === this.last) return true;
    if (!this.all.has(authority)) return false;
    this.last = authority;
    return true;
  }

  add(authority: string): void {
    if (this.all.size >= KNOWN_GOOD_AUTHORITIES) this.all.clear();
    this.all.add(authority);
    this.last = authority;
  }
}

/** The refusal for a request that fails either check, or null. */
export function checkOrigin(
  request: HttpRequest,
  options: OriginGuardOptions,
  allowedAuthorities?: AllowedAuthorities,
): ResponseDescription | null {
  const authority = request.authority;
  if (
    options.allowedHosts !== null &&
    options.allowedHosts !== true &&
    authority !== '' &&
    allowedAuthorities?.has(authority) !== true
  ) {
    const host = hostOfAuthority(authority);
    if (hostAllowed(host, options.allowedHosts)) {
      allowedAuthorities?.add(authority);
    } else {
      // RFC 9110 §15.5.20: 421, this server is not the one for that authority.
      return refuse(
        request,
        421,
        `the Host "${host}" does not name this server, which listens on loopback only (DNS rebinding guard); start it with --allowed-host ${host} to serve that name`,
      );
    }
  }
  if (!options.crossOriginWrites && !isSafeMethod(request.method)) {
    const reason = crossOriginReason(request);
    if (reason !== null) {
      return refuse(
        request,
        403,
        `a cross-origin ${request.method} is refused: ${reason}; writes must come from this server's own pages (--cors allows other origins)`,
      );
    }
  }
  return null;
}

function refuse(request: HttpRequest, status: number, message: string): ResponseDescription {
  const response = errorResponse(status, message, request.headers.accept);
  // The body is not read (no 100 Continue is sent for it); the connection closes after the answer.
  if (request.body !== null) response.close = true;
  return response;
}

export function withOriginGuard(inner: RequestHandler, options: OriginGuardOptions): RequestHandler {
  const allowedAuthorities = new AllowedAuthorities();
  return (request) => checkOrigin(request, options, allowedAuthorities) ?? inner(request);
}
