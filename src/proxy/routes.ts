/**
 * Proxy routes (`--proxy PREFIX=URL`): parsing, longest-prefix matching on whole path segments, and the
 * upstream request-target. Pure functions; the CLI and `server.ts` load only this module until a request
 * actually matches a route.
 *
 * The path rule is nginx's `proxy_pass`: a URL without a path keeps the request path as it is
 * (`/api=http://127.0.0.1:3000`: `/api/users` → `/api/users`); a URL with a path, even just `/`, replaces
 * the matched prefix with it (`/api=http://127.0.0.1:3000/`: `/api/users` → `/users`).
 * @module
 */
import type { Upstream } from './upstream.js';

export interface ProxyRoute {
  /** Path prefix without a trailing slash; '' for `/` (everything). */
  prefix: string;
  upstream: Upstream;
  /** The path that replaces the prefix (without a trailing slash), or null to keep the path as it is. */
  basePath: string | null;
  /** `http://host:port` as the route wrote it, for logs and the trace. */
  origin: string;
}

const DEFAULT_PORTS = { 'http:': 80, 'https:': 443 } as const;
/** A path prefix: "/" and then path characters (RFC 3986 pchar and "/"), no query, fragment or space. */
const PREFIX_PATTERN = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

/** `PREFIX=URL` → a route, or a one-line error. */
export function parseProxyRoute(text: string): ProxyRoute | string {
  const equals = text.indexOf('=');
  if (equals <= 0) return `--proxy needs PREFIX=URL, e.g. /api=http://127.0.0.1:3000, got "${text}"`;
  const rawPrefix = text.slice(0, equals);
  const rawUrl = text.slice(equals + 1);
  if (!PREFIX_PATTERN.test(rawPrefix)) {
    return `--proxy prefix must be a URL path starting with "/", got "${rawPrefix}"`;
  }
  const match = /^(https?):\/\/([^/?#]+)(\/[^?#]*)?$/i.exec(rawUrl);
  if (match === null) {
    return `--proxy URL must be http://host[:port][/path] or https://…, without query or fragment, got "${rawUrl}"`;
  }
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return `--proxy URL "${rawUrl}" is not a valid URL`;
  }
  if (url.username !== '' || url.password !== '') {
    return `--proxy URL must not contain credentials, got "${rawUrl}"`;
  }
  const protocol = url.protocol as keyof typeof DEFAULT_PORTS;
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (hostname === '') return `--proxy URL has no host, got "${rawUrl}"`;
  const path = match[3];
  return {
    prefix: withoutTrailingSlash(rawPrefix),
    upstream: {
      secure: protocol === 'https:',
      hostname,
      port: url.port === '' ? DEFAULT_PORTS[protocol] : Number(url.port),
      authority: url.host,
    },
    basePath: path === undefined ? null : withoutTrailingSlash(url.pathname),
    origin: `${url.protocol}//${url.host}`,
  };
}

function withoutTrailingSlash(path: string): string {
  return path.endsWith('/') ? path.slice(0, -1) : path;
}

/** Whether `prefix` matches `path` on whole segments (`/api` matches `/api` and `/api/x`, not `/apix`). */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '') return path.startsWith('/');
  return (
    path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f)
  );
}

/** Routes ordered so that the first match is the longest prefix. */
export function orderRoutes(routes: readonly ProxyRoute[]): ProxyRoute[] {
  return [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
}

/** The route for a (still percent-encoded) request path, from routes ordered by `orderRoutes`. */
export function matchRoute(ordered: readonly ProxyRoute[], path: string): ProxyRoute | null {
  for (const route of ordered) if (prefixMatches(route.prefix, path)) return route;
  return null;
}

/** The request-target sent upstream. */
export function upstreamTarget(route: ProxyRoute, path: string, query: string): string {
  let upstreamPath = path;
  if (route.basePath !== null) {
    const rest = path.slice(route.prefix.length);
    upstreamPath = `${route.basePath}${rest}`;
    if (upstreamPath === '') upstreamPath = '/';
    else if (!upstreamPath.startsWith('/')) upstreamPath = `/${upstreamPath}`;
  }
  return query === '' ? upstreamPath : `${upstreamPath}?${query}`;
}

/**
 * Whether a path has a `.` or `..` segment, plain or percent-encoded. The upstream would resolve it
 * (RFC 3986 §5.2.4) and could land outside the route's prefix, so such paths are refused.
 */
export function hasDotSegment(path: string): boolean {
  for (const segment of path.split('/')) {
    if (segment.length === 0 || segment.length > 6) continue;
    const decoded = segment.replace(/%2e/gi, '.');
    if (decoded === '.' || decoded === '..') return true;
  }
  return false;
}
