/**
 * The header fields a proxy changes (RFC 9110 §7.6): hop-by-hop fields dropped in both directions,
 * `Via`, `Forwarded` (RFC 7239) and the `X-Forwarded-*` trio added to requests, `Host` kept or set to
 * the upstream's, and — when asked — `Location` and `Set-Cookie` rewritten to the prefix the browser sees.
 * Pure functions with table-driven tests.
 * @module
 */
import { isHttpToken } from '../wire/chars.js';
import type { HttpRequest, ResponseHeaders } from '../wire/message.js';
import type { ResponseHead } from '../wire/response-parser.js';
import { type ProxyRoute, prefixMatches } from './routes.js';

/** How the forwarded request and its answer are rewritten. */
export interface FieldPolicy {
  /** Send the client's Host upstream instead of the upstream's own authority. */
  keepHost: boolean;
  /** Rewrite Location and Set-Cookie Domain/Path from the upstream's view to the browser's. */
  rewriteHeaders: boolean;
  /** `received-by` pseudonym in Via (RFC 9110 §7.6.3). */
  viaName: string;
}

/**
 * Fields that describe one connection, not the message (RFC 9110 §7.6.1), plus the proxy-scoped
 * Proxy-Authorization/Proxy-Authenticate (§11.7) and the framing fields the wire sets itself.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'content-length',
]);
/** Request fields docroot writes itself when forwarding. */
const REPLACED_REQUEST_FIELDS = new Set(['host', 'expect', 'x-forwarded-proto', 'x-forwarded-host']);
/** Response fields the wire writes itself (its own Date and Server, like nginx). */
const REPLACED_RESPONSE_FIELDS = new Set(['date', 'server']);

/** Lower-cased field names listed in a Connection field value. */
export function connectionOptions(value: string | undefined): Set<string> {
  const names = new Set<string>();
  if (value === undefined) return names;
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') names.add(name);
  }
  return names;
}

/** Whether this request asks to switch protocols (RFC 9110 §7.8) in a way that can be passed on. */
export function isUpgradeRequest(request: HttpRequest): boolean {
  return (
    request.version === '1.1' &&
    request.headers.upgrade !== undefined &&
    connectionOptions(request.headers.connection).has('upgrade')
  );
}

/** `::ffff:127.0.0.1` → `127.0.0.1`; other addresses unchanged. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** A Forwarded parameter value: a token as it is, anything else quoted (RFC 7239 §4). */
function forwardedValue(value: string): string {
  return isHttpToken(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** The field lines (each ending in CRLF) to send upstream, without framing fields. */
export function forwardRequestFields(
  request: HttpRequest,
  route: ProxyRoute,
  policy: FieldPolicy,
  upgrade: boolean,
): string {
  const dropped = connectionOptions(request.headers.connection);
  // RFC 7239 §6.2: "unknown" when there is no address to give (a Unix socket).
  const client = request.remoteAddress === '' ? 'unknown' : plainAddress(request.remoteAddress);
  const proto = request.secure ? 'https' : 'http';
  const host = request.headers.host ?? request.authority;
  let lines = `Host: ${policy.keepHost && host !== '' ? host : route.upstream.authority}\r\n`;
  let via: string | undefined;
  let forwardedFor: string | undefined;
  let forwarded: string | undefined;
  for (const [name, value] of request.rawHeaders) {
    const key = name.toLowerCase();
    if (HOP_BY_HOP.has(key) || REPLACED_REQUEST_FIELDS.has(key) || dropped.has(key)) continue;
    if (key === 'via') via = via === undefined ? value : `${via}, ${value}`;
    else if (key === 'x-forwarded-for')
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
    else if (key === 'forwarded') forwarded = forwarded === undefined ? value : `${forwarded}, ${value}`;
    else lines += `${name}: ${value}\r\n`;
  }
  if (upgrade) lines += `Upgrade: ${request.headers.upgrade}\r\n`;
  const hop = `${request.version} ${policy.viaName}`;
  lines += `Via: ${via === undefined ? hop : `${via}, ${hop}`}\r\n`;
  lines += `X-Forwarded-For: ${forwardedFor === undefined ? client : `${forwardedFor}, ${client}`}\r\n`;
  if (host !== '') lines += `X-Forwarded-Host: ${host}\r\n`;
  lines += `X-Forwarded-Proto: ${proto}\r\n`;
  const node = client.includes(':') ? `[${client}]` : client;
  let element = `for=${forwardedValue(node)}`;
  if (host !== '') element += `;host=${forwardedValue(host)}`;
  element += `;proto=${proto}`;
  lines += `Forwarded: ${forwarded === undefined ? element : `${forwarded}, ${element}`}\r\n`;
  return lines;
}

/** The upstream's response fields as the client gets them. */
export function forwardResponseHeaders(
  head: ResponseHead,
  route: ProxyRoute,
  policy: FieldPolicy,
  upgrade: boolean,
): ResponseHeaders {
  const dropped = connectionOptions(head.headers.connection);
  const headers: Record<string, string | string[]> = {};
  /** First spelling of each name, so repeats of one field stay one list. */
  const spelling = new Map<string, string>();
  let via: string | undefined;
  for (const [name, rawValue] of head.rawHeaders) {
    const key = name.toLowerCase();
    if (key === 'upgrade' && upgrade) {
      headers[name] = rawValue;
      continue;
    }
    if (HOP_BY_HOP.has(key) || REPLACED_RESPONSE_FIELDS.has(key) || dropped.has(key)) continue;
    if (key === 'via') {
      via = via === undefined ? rawValue : `${via}, ${rawValue}`;
      continue;
    }
    let value = rawValue;
    if (policy.rewriteHeaders) {
      if (key === 'location') value = rewriteLocation(value, route);
      else if (key === 'set-cookie') value = rewriteSetCookie(value, route);
    }
    const existing = spelling.get(key);
    if (existing === undefined) {
      spelling.set(key, name);
      headers[name] = value;
    } else {
      const previous = headers[existing]!;
      headers[existing] = Array.isArray(previous) ? [...previous, value] : [previous, value];
    }
  }
  const hop = `${head.version} ${policy.viaName}`;
  headers.Via = via === undefined ? hop : `${via}, ${hop}`;
  return headers;
}

/** Maps an upstream path under the route's base path back to the prefix the browser used. */
function toPublicPath(path: string, route: ProxyRoute): string | null {
  if (route.basePath === null) return null;
  if (!prefixMatches(route.basePath, path)) return null;
  const rest = path.slice(route.basePath.length);
  const mapped = `${route.prefix}${rest}`;
  return mapped === '' ? '/' : mapped;
}

/**
 * `Location` pointing at the upstream (absolute, or a path under its base path) → the same resource as
 * the browser addresses it through docroot (a path-absolute reference, RFC 9110 §10.2.2).
 */
export function rewriteLocation(location: string, route: ProxyRoute): string {
  let path = location;
  const origin = route.origin.toLowerCase();
  if (location.toLowerCase().startsWith(origin)) {
    const after = location.slice(origin.length);
    if (after !== '' && !'/?#'.includes(after[0]!)) return location;
    path = after === '' ? '/' : after.startsWith('/') ? after : `/${after}`;
  } else if (!location.startsWith('/') || location.startsWith('//')) {
    return location;
  }
  const end = path.search(/[?#]/);
  const pathOnly = end === -1 ? path : path.slice(0, end);
  const suffix = end === -1 ? '' : path.slice(end);
  const mapped = toPublicPath(pathOnly, route);
  return mapped === null ? `${pathOnly}${suffix}` : `${mapped}${suffix}`;
}

/**
 * `Set-Cookie`: the Domain attribute is dropped (the cookie then belongs to the host the browser
 * talks to, RFC 6265 §5.3 step 6) and a Path under the upstream's base path is mapped to the prefix.
 */
export function rewriteSetCookie(value: string, route: ProxyRoute): string {
  const parts = value.split(';');
  const kept: string[] = [parts[0]!];
  for (const part of parts.slice(1)) {
    const trimmed = part.trim();
    const lower = trimmed.toLowerCase();
    if (lower.startsWith('domain=') || lower === 'domain') continue;
    if (lower.startsWith('path=')) {
      const mapped = toPublicPath(trimmed.slice(5).trim(), route);
      // The upstream's root is the prefix itself: `Path=/api` also covers `/api` (RFC 6265 §5.1.4).
      const path =
        mapped !== null && mapped.length > 1 && mapped.endsWith('/') ? mapped.slice(0, -1) : mapped;
      kept.push(path === null ? trimmed : `Path=${path}`);
      continue;
    }
    kept.push(trimmed);
  }
  return kept.join('; ');
}
