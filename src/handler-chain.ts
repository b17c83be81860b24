/**
 * The handler chain, composed in one place. From the outside in, a request meets:
 *
 *   trusted proxy (wire and HTTP/2 only) → health check → origin guard → access rules → proxy routes →
 *   metrics endpoint → live reload → file handler → its hooks (CGI scripts; uploads and WebDAV)
 *
 * Each layer is a `RequestHandler` wrapping the next, so the whole chain is a function from a parsed
 * `HttpRequest` to a `ResponseDescription`: `handler-chain.test.ts` calls it without a socket.
 * `createServer` (server.ts) puts it on the wire and HTTP/2.
 * @module
 */

import { DEFAULT_HEALTH_PATH, DEFAULT_PROXY_TIMEOUT_MS } from './defaults.js';
import { detectCaseInsensitive, realUrlSegments } from './files/real-path.js';
import { createHandlerHooks } from './handler-hooks.js';
import type { AuthGate } from './handlers/auth.js';
import { checkAuthRules } from './handlers/auth-rules.js';
import { FileCache } from './handlers/file-cache.js';
import { withHealthCheck } from './handlers/health.js';
import { LiveReloadHub, withLiveReload } from './handlers/livereload.js';
import { isLoopbackHost, withOriginGuard } from './handlers/origin-guard.js';
import { createFileHandler } from './handlers/static.js';
import { forwardedClient, type ProxyTrust, parseProxyTrust } from './http/forwarded.js';
import { type Lazy, lazy } from './lazy.js';
import { ServerMetrics } from './metrics/counters.js';
import { withMetricsEndpoint } from './metrics/endpoint.js';
import { processSnapshot } from './metrics/process.js';
import { matchRoute, orderRoutes, type ProxyRoute, parseProxyRoute } from './proxy/routes.js';
import type { ProxyServerOptions, ServerOptions } from './server.js';
import { VERSION } from './version.js';
import type { HttpRequest, RequestHandler } from './wire/message.js';

export interface ChainContext {
  /** The real root (see resolveRoot). */
  root: string;
  serverSoftware: string;
  logError(error: unknown, context: string): void;
  /** Open connections, for the health check. */
  connections(): number;
  /** When the server started listening, for the health check's uptime. */
  startedAt(): number;
}

export interface HandlerChain {
  /** The chain from the health check in: what `DocrootServer.handler` is, for any transport. */
  handler: RequestHandler;
  /** `handler` behind the trusted-proxy rewrite of the client address and scheme: what the wire runs. */
  handlerForWire: RequestHandler;
  /** Whether a path goes to an upstream (the proxy lifts the wire's body bound). */
  proxying: boolean;
  fileCache: FileCache | null;
  liveReload: LiveReloadHub | null;
  metrics: ServerMetrics | null;
  /** Stops what the chain started: upstream connections, running scripts, the password worker. */
  close(): Promise<void>;
}

export function buildHandlerChain(options: ServerOptions, context: ChainContext): HandlerChain {
  const { root, logError } = context;
  const metrics = options.metrics === undefined ? null : new ServerMetrics();
  if (options.auth !== undefined) checkAuthRules(options.auth);
  const authRules = options.auth !== undefined && options.auth.length > 0 ? options.auth : null;
  // Detected once at start: rule prefixes must compare the way this disk compares names.
  const caseInsensitive = authRules !== null && (options.caseInsensitive ?? detectCaseInsensitive(root));
  // One gate, loaded with the first request, serves the requests and the archive, search and DAV checks.
  const authGate =
    authRules === null
      ? null
      : lazy(async () => {
          const { createAuthGate } = await import('./handlers/auth.js');
          return createAuthGate({
            rules: authRules,
            ...(options.authRate !== undefined ? { rate: options.authRate } : {}),
            ...(options.authFailures !== undefined ? { sharedFailures: options.authFailures } : {}),
            caseInsensitive,
            realSegments: (segments) => realUrlSegments(root, segments),
          });
        });
  const hooks = createHandlerHooks(options, {
    root,
    serverSoftware: context.serverSoftware,
    logError,
    redispatch: async (request) => handler(request),
    authGate,
    metrics,
  });

  // A page reloaded because its file just changed must not get the copy cached a moment ago.
  const cacheOption =
    options.watch === true && options.cache !== false && !(options.cache instanceof FileCache)
      ? { ...options.cache, revalidateMs: 0 }
      : options.cache;
  const fileCache =
    cacheOption === false
      ? null
      : cacheOption instanceof FileCache
        ? cacheOption
        : new FileCache(cacheOption);
  const fileHandler: RequestHandler = createFileHandler({
    ...options,
    ...(options.watch === true ? { listingCacheMs: 0 } : {}),
    cache: fileCache ?? false,
    ...(metrics !== null ? { countCompressed: (coding: string) => metrics.countCompressed(coding) } : {}),
    root,
    logError,
    serverSoftware: context.serverSoftware,
    ...(hooks.scriptHandler ? { scriptHandler: hooks.scriptHandler } : {}),
    ...(hooks.writeHandler ? { writeHandler: hooks.writeHandler } : {}),
    // Archives and search walk below the requested folder, so they ask the access rules about each entry.
    ...(authGate !== null ? { mayRead: readAccessCheck(authGate) } : {}),
    // The listing shows upload and manage controls only where this request could write.
    ...(authGate !== null ? { mayWrite: writeControlsCheck(authGate) } : {}),
  });

  const liveReload = options.watch === true ? new LiveReloadHub() : null;
  const reloading = liveReload === null ? fileHandler : withLiveReload(fileHandler, liveReload);
  const metricsOptions = options.metrics;
  const pages =
    metrics === null || metricsOptions === undefined
      ? reloading
      : withMetricsEndpoint(reloading, {
          path: metricsOptions.path,
          collect: () => {
            const local = metrics.snapshot(processSnapshot());
            return metricsOptions.aggregate === undefined
              ? Promise.resolve(local)
              : metricsOptions.aggregate(local);
          },
        });
  // Inside the access rules, outside live reload and CORS: an upstream's answers are its own.
  const proxy = options.proxy === undefined ? null : withProxy(pages, options.proxy);
  const unguarded = proxy === null ? pages : proxy.handler;
  // Before the access rules: a forged or rebound request gets no login prompt and counts no failure.
  // The metrics path sits inside the access rules: it follows them like any other path.
  const pageHandler = withOriginGuard(
    authGate === null ? unguarded : withAuth(unguarded, authGate, metrics),
    {
      allowedHosts: isLoopbackHost(options.host ?? 'localhost') ? (options.allowedHosts ?? []) : null,
      crossOriginWrites: options.cors === true,
    },
  );
  const healthPath = options.healthPath ?? DEFAULT_HEALTH_PATH;
  // Outside the access rules: a load balancer's probe carries no credentials.
  const handler: RequestHandler =
    healthPath === false
      ? pageHandler
      : withHealthCheck(pageHandler, {
          path: healthPath,
          version: VERSION,
          connections: context.connections,
          startedAt: context.startedAt,
        });
  let handlerForWire = handler;
  if (options.trustProxy !== undefined && options.trustProxy.length > 0) {
    const trust = parseProxyTrust(options.trustProxy);
    if (typeof trust === 'string') throw new RangeError(trust);
    handlerForWire = withTrustedProxy(handler, trust);
  }
  return {
    handler,
    handlerForWire,
    proxying: proxy !== null,
    fileCache,
    liveReload,
    metrics,
    close: async () => {
      proxy?.close();
      await hooks.close();
      const gate = authGate?.ifStarted();
      if (gate != null) await (await gate).close();
    },
  };
}

/** Checks every request against the rules first; refused credentials count as failed logins in the metrics. */
function withAuth(
  inner: RequestHandler,
  gate: Lazy<AuthGate>,
  metrics: ServerMetrics | null,
): RequestHandler {
  return async (request) => {
    const refusal = await (await gate.get()).check(request);
    if (refusal === null) return inner(request);
    if (metrics !== null && refusal.status === 401 && request.headers.authorization !== undefined) {
      metrics.authFailures++;
    }
    return refusal;
  };
}

/** Requests from a trusted proxy carry the client's address and scheme from its forwarding headers. */
function withTrustedProxy(inner: RequestHandler, trust: ProxyTrust): RequestHandler {
  return (request) => {
    const client = forwardedClient(request.remoteAddress, request.headers, trust);
    if (client !== null) {
      request.remoteAddress = client.address;
      if (client.secure !== undefined) request.secure = client.secure;
    }
    return inner(request);
  };
}

/** Whether the access rules let this request (its credentials) GET another URL path. */
function readAccessCheck(gate: Lazy<AuthGate>): (request: HttpRequest, urlPath: string) => Promise<boolean> {
  return async (request, urlPath) => {
    const check = (await gate.get()).check;
    // The request itself was already checked; its entries must not count as more failed logins, and the
    // query belongs to the request, not to the entries it walks.
    const refusal = await check(
      { ...request, method: 'GET', path: urlPath, query: '', body: null },
      { countFailures: false },
    );
    return refusal === null;
  };
}

/**
 * Whether a listing should offer its write controls to this request: the rules let it write in that
 * folder, or would with a password (401), which the browser then asks for on the first write. Asked about
 * a name inside the folder, since a rule's own folder may not be replaced; a `.docroot-` name, because no
 * rule can be more specific about one.
 */
function writeControlsCheck(
  gate: Lazy<AuthGate>,
): (request: HttpRequest, urlPath: string) => Promise<boolean> {
  return async (request, urlPath) => {
    const check = (await gate.get()).check;
    const refusal = await check(
      { ...request, method: 'PUT', path: `${urlPath}.docroot-write-probe`, query: '', body: null },
      { countFailures: false },
    );
    return refusal === null || refusal.status === 401;
  };
}

/**
 * Requests under a proxy route go to the proxy handler (loaded with the first of them); the rest to
 * `inner`. Bad routes throw a RangeError with the route parser's one-line message.
 */
function withProxy(
  inner: RequestHandler,
  options: ProxyServerOptions,
): { handler: RequestHandler; close(): void } {
  const parsed: ProxyRoute[] = [];
  for (const text of options.routes) {
    const route = parseProxyRoute(text);
    if (typeof route === 'string') throw new RangeError(route);
    parsed.push(route);
  }
  const routes = orderRoutes(parsed);
  const trace = options.onUpstreamHead;
  let proxy: import('./proxy/handler.js').ProxyHandler | null = null;
  const upstream = lazy(async () => {
    proxy = (await import('./proxy/handler.js')).createProxyHandler({
      timeoutMs: options.timeoutMs ?? DEFAULT_PROXY_TIMEOUT_MS,
      insecure: options.insecure ?? false,
      keepHost: options.keepHost ?? false,
      rewriteHeaders: options.rewriteHeaders ?? false,
      viaName: 'docroot',
      log: options.log ?? ((line) => console.error(`docroot: proxy: ${line}`)),
      onUpstreamHead:
        trace === undefined ? undefined : (route, direction, head) => trace(route.origin, direction, head),
    });
    return proxy;
  });
  return {
    handler: (request) => {
      const route = matchRoute(routes, request.path);
      return route === null
        ? inner(request)
        : upstream.get().then((handler) => handler.handle(request, route));
    },
    close: () => proxy?.close(),
  };
}
