/**
 * `createServer`: the document-root handler on docroot's own HTTP/1.1 wire, ready to listen.
 * @module
 */
import { realpathSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { detectCaseInsensitive, realUrlSegments } from './files/real-path.js';
import { isServerOwnName } from './files/resolve.js';
import type { AuthGate } from './handlers/auth.js';
import type { AuthRate } from './handlers/auth-rate.js';
import { type AuthRule, checkAuthRules } from './handlers/auth-rules.js';
import type { CgiOptions } from './handlers/cgi.js';
import { errorResponse } from './handlers/errors.js';
import { FileCache } from './handlers/file-cache.js';
import { DEFAULT_HEALTH_PATH, withHealthCheck } from './handlers/health.js';
import { LiveReloadHub, withLiveReload } from './handlers/livereload.js';
import { isLoopbackHost, withOriginGuard } from './handlers/origin-guard.js';
import {
  createFileHandler,
  type FileHandlerOptions,
  type ScriptHandler,
  type WriteHandler,
} from './handlers/static.js';
import { forwardedClient, type ProxyTrust, parseProxyTrust } from './http/forwarded.js';
import type { Http2Serving } from './http2/serve.js';
import { type MetricsSnapshot, ServerMetrics } from './metrics/counters.js';
import { withMetricsEndpoint } from './metrics/endpoint.js';
import { processSnapshot, startProcessMetrics } from './metrics/process.js';
import { matchRoute, orderRoutes, type ProxyRoute, parseProxyRoute } from './proxy/routes.js';
import { ALPN_PROTOCOLS_WITH_H2, createTlsListener, type TlsOptions } from './tls/server.js';
import { VERSION } from './version.js';
import type { ListenTarget, UnixSocketOptions } from './wire/endpoints.js';
import { DEFAULT_LIMITS, type WireLimits } from './wire/limits.js';
import { DEFAULT_SHUTDOWN_GRACE_MS, WireServer } from './wire/listener.js';
import type { HttpRequest, RequestHandler, ResponseDescription } from './wire/message.js';
import type { WireObserver } from './wire/observer.js';
import { combineObservers } from './wire/observers.js';

export interface ServerOptions
  extends Omit<FileHandlerOptions, 'root' | 'scriptHandler' | 'writeHandler' | 'serverSoftware'> {
  /** The folder to serve. @default process.cwd() */
  root?: string;
  /** TCP port; 0 picks a free one. @default 8080 */
  port?: number;
  /** Interface to listen on. @default 'localhost' */
  host?: string;
  /**
   * Listen on these instead of `host`/`port`: TCP addresses, unix sockets, inherited descriptors (see
   * `takeSystemdListenFds` for socket activation).
   */
  listen?: readonly ListenTarget[];
  /** Mode and owner of the unix sockets in `listen`. */
  unixSocket?: UnixSocketOptions;
  /** Wire limits and timeouts (see WireLimits). */
  limits?: Partial<WireLimits>;
  /** Most simultaneous connections; more get a 503. @default unlimited */
  maxConnections?: number;
  /** HTTP/2 streams open at once over all connections; more are refused (REFUSED_STREAM). @default 1000 */
  maxStreams?: number;
  /** Observers of the wire (access log, trace). */
  observer?: WireObserver;
  /** A handler for script paths; set by `cgi`, or bring your own. */
  scriptHandler?: ScriptHandler;
  /** Run CGI scripts (RFC 3875). Off unless given: running scripts is a trust decision. */
  cgi?: CgiServerOptions;
  /**
   * Serve HTTPS: a PEM certificate and key, or `{ selfSigned: true }` for a development certificate for
   * localhost, 127.0.0.1 and ::1 made in memory at `listen()` (see `certificate`).
   */
  tls?: TlsOptions;
  /**
   * Live reload: watch the root and make open HTML pages reload when a file under it changes (a script
   * is added to HTML responses; events at `/.well-known/docroot/livereload`). For development. @default false
   */
  watch?: boolean;
  /**
   * With `tls`: offer HTTP/2 in ALPN and serve `h2` clients through the same handler (node:http2 does the
   * framing). @default true
   */
  http2?: boolean;
  /**
   * URL path of the health check (`{"status":"ok",…}` for load balancers), answered whatever the listing
   * and dotfile settings; false for none. @default '/.well-known/docroot/health'
   */
  healthPath?: string | false;
  /**
   * Write access: PUT, PATCH (resumable), DELETE, MKCOL and the listing's upload form (multipart POST).
   * Off unless given: letting anyone who can reach the server write files is a trust decision.
   */
  upload?: UploadServerOptions;
  /** Access rules (HTTP Basic, RFC 7617), checked for every request; see handlers/auth-rules.ts. */
  auth?: readonly AuthRule[];
  /**
   * Prometheus metrics at a URL path (text format 0.0.4, or OpenMetrics when asked). Off unless given;
   * under `auth` the path follows the rules like any other.
   */
  metrics?: MetricsServerOptions;
  /**
   * Reverse proxies (addresses, CIDR ranges, `loopback`, `private`) whose `Forwarded` /
   * `X-Forwarded-For` / `X-Forwarded-Proto` are believed: handlers (CGI's REMOTE_ADDR, the access
   * rules) then see the client's address and scheme. Never trusted unless given.
   */
  trustProxy?: readonly string[];
  /**
   * Failed logins allowed per client address before 429 (with `auth`), or false for no limit.
   * @default { failures: 10, windowMs: 60000 }
   */
  authRate?: AuthRate | false;
  /**
   * Whether the root's disk ignores case in names, so access rule prefixes compare case-insensitively.
   * @default detected at start (a name in the root looked up with its case swapped)
   */
  caseInsensitive?: boolean;
  /**
   * With `host` on loopback: the `Host` names served besides localhost names and IP addresses
   * (`.example.com` for a domain and its subdomains; true for any). Others get 421 (DNS rebinding guard).
   * @default []
   */
  allowedHosts?: readonly string[] | true;
  /**
   * WebDAV (RFC 4918), so the share mounts as a drive: read-only PROPFIND always, and with `upload`
   * PROPPATCH, COPY, MOVE, LOCK, UNLOCK and recursive DELETE too. @default true
   */
  webdav?: boolean;
  /**
   * With `webdav` and `upload`: offer LOCK and UNLOCK (class 2). Locks live in this process, so servers
   * that share a port between processes (`--workers`) turn them off and answer class 1 only. @default true
   */
  webdavLocks?: boolean;
  /** Send requests under path prefixes to other HTTP servers (a development proxy); see ProxyServerOptions. */
  proxy?: ProxyServerOptions;
}

export interface ProxyServerOptions {
  /**
   * `PREFIX=URL` routes, e.g. `/api=http://127.0.0.1:3000`. The longest prefix (whole path segments)
   * wins. A URL with a path replaces the prefix with it (`/api=http://127.0.0.1:3000/` sends `/api/x`
   * as `/x`); a URL without one keeps the path.
   */
  routes: readonly string[];
  /** Milliseconds to connect and to wait for the response head (504 after), and that a body may stall. @default 30000 */
  timeoutMs?: number;
  /** Accept any certificate from https:// upstreams (self-signed development backends). @default false */
  insecure?: boolean;
  /** Send the client's Host upstream instead of the upstream's own host. @default false */
  keepHost?: boolean;
  /** Rewrite Location and Set-Cookie Domain/Path from the upstream's view to the browser's. @default false */
  rewriteHeaders?: boolean;
  /** One line per proxy failure. @default console.error */
  log?: (line: string) => void;
  /** Sees each head sent to and received from an upstream (the CLI's --trace). */
  onUpstreamHead?: (origin: string, direction: 'request' | 'response', head: string) => void;
}

export interface MetricsServerOptions {
  /** URL path of the metrics, e.g. '/metrics'. */
  path: string;
  /**
   * Turns this process's numbers into the ones to show; `--workers` sums every worker's here.
   * @default the local snapshot as it is
   */
  aggregate?: (local: MetricsSnapshot) => Promise<MetricsSnapshot>;
}

export type { MetricsSnapshot } from './metrics/counters.js';
export type { ListenTarget, UnixSocketOptions } from './wire/endpoints.js';

export interface UploadServerOptions {
  /** Largest file and request body accepted; 413 beyond. @default 1 GiB */
  maxBytes?: number;
}

export type { AuthRate } from './handlers/auth-rate.js';
export type { AuthRule } from './handlers/auth-rules.js';

export interface CgiServerOptions {
  /** URL folder under the root whose executables run as scripts. @default 'cgi-bin' (null: none) */
  dir?: string | null;
  /** File extension → interpreter, for scripts anywhere in the root, e.g. { '.py': 'python3' }. */
  interpreters?: Record<string, string>;
  /** Milliseconds before a script's process group is killed (504). @default 30000 */
  timeoutMs?: number;
  /** Largest request body a script is given; 413 beyond (`--cgi-max-body`). @default 1 GiB */
  maxBodyBytes?: number;
}

export interface DocrootServer {
  /** The transport-free handler this server runs; usable with any transport. */
  readonly handler: RequestHandler;
  readonly root: string;
  readonly wire: WireServer;
  /** Starts listening; resolves with the first address (for a unix socket: its path, family 'unix', port 0). */
  listen(): Promise<AddressInfo>;
  address(): AddressInfo | null;
  /** Every listening socket: AddressInfo for TCP, the path for a unix socket. */
  addresses(): Array<AddressInfo | string>;
  /** Graceful: stop accepting, finish in-flight responses, close idle connections. */
  close(graceMs?: number): Promise<void>;
  /** True when the server speaks HTTPS. */
  readonly secure: boolean;
  /** The certificate in use when it was made by `tls: { selfSigned: true }` (set by `listen()`), else null. */
  readonly certificate: { cert: string; fingerprint256: string } | null;
  /** This process's counters now, when `metrics` is on; else null. */
  metricsSnapshot(): MetricsSnapshot | null;
}

export const SERVER_SOFTWARE = `docroot/${VERSION}`;

/** Methods CGI scripts take (RFC 3875 §4.1.12 leaves the set to the server); kept here so start-up need not load CGI. */
const CGI_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'];
/** Seconds a script may run before its process group is killed. */
const CGI_DEFAULT_TIMEOUT_MS = 30_000;
/** As cgi.ts's CGI_DEFAULT_MAX_BODY_BYTES; kept here so start-up need not load CGI. */
const CGI_DEFAULT_MAX_BODY_BYTES = 1024 * 1024 * 1024;

/** Methods `upload` turns on; kept here so start-up need not load the upload module. */
const UPLOAD_METHODS: readonly string[] = ['PUT', 'PATCH', 'DELETE', 'MKCOL', 'POST'];
/** Methods WebDAV adds with `upload`, and the one it answers without (handlers/webdav/handler.ts). */
const DAV_WRITE_METHODS: readonly string[] = ['PROPFIND', 'PROPPATCH', 'COPY', 'MOVE'];
const DAV_LOCK_METHODS: readonly string[] = ['LOCK', 'UNLOCK'];
const DAV_READ_METHODS: readonly string[] = ['PROPFIND'];
export const DEFAULT_MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;
/** Room for multipart boundaries and part headers around a file of the largest accepted size. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/** Thrown for a root that does not exist or is not a folder, with a message fit for a CLI user. */
export class RootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RootError';
  }
}

/** The access-rule checker, loaded with the first request that needs it (and stopped with the server). */
class LazyAuthGate {
  private gate: Promise<AuthGate> | null = null;

  constructor(private readonly create: () => Promise<AuthGate>) {}

  get(): Promise<AuthGate> {
    this.gate ??= this.create();
    return this.gate;
  }

  async close(): Promise<void> {
    if (this.gate !== null) await (await this.gate).close();
  }
}

/** Checks every request against the rules first; refused credentials count as failed logins in the metrics. */
function withAuth(inner: RequestHandler, gate: LazyAuthGate, metrics: ServerMetrics | null): RequestHandler {
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

/** Counts script runs and how they ended, around whatever runs the scripts. */
function countedScripts(inner: ScriptHandler, metrics: ServerMetrics): ScriptHandler {
  return {
    methods: inner.methods,
    async handle(request, segments) {
      let response: ResponseDescription | null;
      try {
        response = await inner.handle(request, segments);
      } catch (error) {
        metrics.cgiRuns++;
        metrics.cgiFailures++;
        throw error;
      }
      // null: the path is not a script after all.
      if (response === null) return null;
      metrics.cgiRuns++;
      if (response.status === 504) metrics.cgiTimeouts++;
      else if (response.status >= 500) metrics.cgiFailures++;
      return response;
    },
  };
}

/** Counts successful uploads (PUT, PATCH and the form's POST answered with 2xx). */
function countedWrites(inner: WriteHandler, metrics: ServerMetrics): WriteHandler {
  return {
    methods: inner.methods,
    async handle(request, decoded) {
      const response = await inner.handle(request, decoded);
      const method = request.method;
      if (
        response.status >= 200 &&
        response.status < 300 &&
        (method === 'PUT' || method === 'PATCH' || method === 'POST')
      ) {
        metrics.uploads++;
      }
      return response;
    },
  };
}

/** Whether the access rules let this request (its credentials) GET another URL path. */
function readAccessCheck(gate: LazyAuthGate): (request: HttpRequest, urlPath: string) => Promise<boolean> {
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

/** The real path when it exists, else the path as given (a folder that may be made later). */
function realOrSelf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/** The access rules for the paths a WebDAV request touches beyond its own URL (Destination, members). */
function davAccessCheck(
  rules: readonly AuthRule[],
  gate: () => LazyAuthGate,
): import('./handlers/webdav/handler.js').DavAccess {
  return {
    rulePrefixes: rules.map((rule) => rule.pathPrefix.split('/').filter((segment) => segment !== '')),
    async check(request, urlPath, write) {
      // The request itself was already checked: the paths it touches are not more login attempts.
      return (await gate().get()).check(
        { ...request, method: write ? 'PUT' : 'GET', path: urlPath, query: '', body: null },
        { countFailures: false },
      );
    },
  };
}

/** Proxied requests may be as large as the upstream accepts; the wire's own bound must not stop them first. */
const PROXY_MAX_BODY_BYTES = Number.MAX_SAFE_INTEGER;
/** How long an upstream may take to connect or to start answering (no RFC sets it; nginx waits 60 s). */
export const DEFAULT_PROXY_TIMEOUT_MS = 30_000;

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
  let proxy: import('./proxy/handler.js').ProxyHandler | null = null;
  const trace = options.onUpstreamHead;
  const forward = async (request: HttpRequest, route: ProxyRoute) => {
    proxy ??= (await import('./proxy/handler.js')).createProxyHandler({
      timeoutMs: options.timeoutMs ?? DEFAULT_PROXY_TIMEOUT_MS,
      insecure: options.insecure ?? false,
      keepHost: options.keepHost ?? false,
      rewriteHeaders: options.rewriteHeaders ?? false,
      viaName: 'docroot',
      log: options.log ?? ((line) => console.error(`docroot: proxy: ${line}`)),
      onUpstreamHead:
        trace === undefined ? undefined : (route, direction, head) => trace(route.origin, direction, head),
    });
    return proxy.handle(request, route);
  };
  return {
    handler: (request) => {
      const route = matchRoute(routes, request.path);
      return route === null ? inner(request) : forward(request, route);
    },
    close: () => proxy?.close(),
  };
}

/** The real absolute path of a document root, or a RootError saying what is wrong with it. */
export function resolveRoot(root: string): string {
  const absolute = path.resolve(root);
  let real: string;
  try {
    real = realpathSync(absolute);
  } catch {
    throw new RootError(`the folder ${absolute} does not exist`);
  }
  if (!statSync(real).isDirectory()) throw new RootError(`${absolute} is a file, not a folder`);
  return real;
}

/**
 * Creates a docroot server for a folder.
 * @example
 * const server = createServer({ root: './site', port: 0 });
 * const { port } = await server.listen();
 */
export function createServer(options: ServerOptions = {}): DocrootServer {
  const root = resolveRoot(options.root ?? process.cwd());
  const metrics = options.metrics === undefined ? null : new ServerMetrics();
  const logError =
    options.logError ??
    ((error: unknown, context: string) => {
      console.error(`docroot: ${context}:`, error);
    });
  let scriptHandler = options.scriptHandler;
  const cgiMaxBodyBytes = options.cgi?.maxBodyBytes ?? CGI_DEFAULT_MAX_BODY_BYTES;
  let cgiModule: Promise<typeof import('./handlers/cgi.js')> | null = null;
  if (scriptHandler === undefined && options.cgi !== undefined) {
    const cgiOptions: CgiOptions = {
      root,
      cgiDir: options.cgi.dir === undefined ? 'cgi-bin' : options.cgi.dir,
      interpreters: options.cgi.interpreters ?? {},
      timeoutMs: options.cgi.timeoutMs ?? CGI_DEFAULT_TIMEOUT_MS,
      maxBodyBytes: cgiMaxBodyBytes,
      serverSoftware: SERVER_SOFTWARE,
      dotfiles: options.dotfiles ?? false,
      logError,
      // A script's local redirect (RFC 3875 §6.2.2) is answered by the whole handler, as a new request.
      redispatch: async (request) => handler(request),
    };
    // Loaded on the first request, so servers without scripts never pay for child_process and friends.
    const load = () => {
      cgiModule ??= import('./handlers/cgi.js');
      return cgiModule;
    };
    let cgiHandler: ScriptHandler | null = null;
    scriptHandler = {
      methods: CGI_METHODS,
      async handle(request, segments) {
        cgiHandler ??= (await load()).createCgiScriptHandler(cgiOptions);
        return cgiHandler.handle(request, segments);
      },
    };
  }
  let writeHandler: WriteHandler | undefined;
  const maxUploadBytes = options.upload?.maxBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  let handleUpload: WriteHandler['handle'] | null = null;
  // Writes and WebDAV resolve paths by the same rules as reads.
  const pathRules = {
    root,
    dotfiles: options.dotfiles ?? false,
    followSymlinks: options.followSymlinks ?? false,
  };
  if (
    options.upload !== undefined &&
    options.cgi !== undefined &&
    Object.keys(options.cgi.interpreters ?? {}).length > 0
  ) {
    throw new TypeError(
      'upload with cgi.interpreters would let anyone who may write upload a script and run it; use cgi.dir (never writable by uploads) instead',
    );
  }
  const cgiDir =
    options.cgi === undefined ? null : options.cgi.dir === undefined ? 'cgi-bin' : options.cgi.dir;
  const uploadOptions =
    options.upload === undefined
      ? null
      : {
          ...pathRules,
          maxBytes: maxUploadBytes,
          logError,
          ...(cgiDir !== null ? { scriptDir: realOrSelf(path.join(root, cgiDir)) } : {}),
        };
  if (uploadOptions !== null) {
    let handleWrite: WriteHandler['handle'] | null = null;
    // Loaded on the first write, so servers that only read never pay for it.
    handleUpload = async (request, decoded) => {
      handleWrite ??= (await import('./handlers/upload.js')).createUploadHandler(uploadOptions);
      return handleWrite(request, decoded);
    };
    writeHandler = { methods: UPLOAD_METHODS, handle: handleUpload };
  }
  if (options.webdav !== false) {
    const locking = handleUpload !== null && options.webdavLocks !== false;
    const davOptions = {
      // The same write rules as the upload handler's (WebDAV writes through COPY and MOVE too).
      ...(uploadOptions ?? pathRules),
      upload: handleUpload,
      locking,
      ...(options.auth !== undefined && options.auth.length > 0
        ? { access: davAccessCheck(options.auth, () => authGate!) }
        : {}),
    };
    let handleDav: WriteHandler['handle'] | null = null;
    // WebDAV wraps the upload handler (its lock checks come first) and is loaded on the first DAV request.
    writeHandler = {
      methods:
        handleUpload === null
          ? DAV_READ_METHODS
          : [...UPLOAD_METHODS, ...DAV_WRITE_METHODS, ...(locking ? DAV_LOCK_METHODS : [])],
      // RFC 4918 §10.1: class 2 only when locks are real; MS-Author-Via makes Windows' redirector use DAV.
      optionsHeaders: { DAV: locking ? '1, 2' : '1', 'MS-Author-Via': 'DAV' },
      async handle(request, decoded) {
        handleDav ??= (await import('./handlers/webdav/handler.js')).createDavHandler(davOptions);
        return handleDav(request, decoded);
      },
    };
  }
  if (options.auth !== undefined) checkAuthRules(options.auth);
  const authRules = options.auth !== undefined && options.auth.length > 0 ? options.auth : null;
  // Detected once at start: rule prefixes must compare the way this disk compares names.
  const caseInsensitive = authRules !== null && (options.caseInsensitive ?? detectCaseInsensitive(root));
  const authGate =
    authRules === null
      ? null
      : new LazyAuthGate(async () => {
          const { createAuthGate } = await import('./handlers/auth.js');
          return createAuthGate({
            rules: authRules,
            ...(options.authRate !== undefined ? { rate: options.authRate } : {}),
            caseInsensitive,
            realSegments: (segments) => realUrlSegments(root, segments),
          });
        });
  if (metrics !== null) {
    if (scriptHandler !== undefined) scriptHandler = countedScripts(scriptHandler, metrics);
    if (writeHandler !== undefined) writeHandler = countedWrites(writeHandler, metrics);
  }
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
    serverSoftware: SERVER_SOFTWARE,
    ...(scriptHandler ? { scriptHandler } : {}),
    ...(writeHandler ? { writeHandler } : {}),
    // Archives and search walk below the requested folder, so they ask the access rules about each entry.
    ...(authGate !== null ? { mayRead: readAccessCheck(authGate) } : {}),
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
  const port = options.port ?? 8080;
  const host = options.host ?? 'localhost';
  // Before the access rules: a forged or rebound request gets no login prompt and counts no failure.
  // The metrics path sits inside the access rules: it follows them like any other path.
  const pageHandler = withOriginGuard(
    authGate === null ? unguarded : withAuth(unguarded, authGate, metrics),
    {
      allowedHosts: isLoopbackHost(host) ? (options.allowedHosts ?? []) : null,
      crossOriginWrites: options.cors === true,
    },
  );
  let startedAt = Date.now();
  let http2Serving: Http2Serving | null = null;
  const healthPath = options.healthPath ?? DEFAULT_HEALTH_PATH;
  // Outside the access rules: a load balancer's probe carries no credentials.
  const handler: RequestHandler =
    healthPath === false
      ? pageHandler
      : withHealthCheck(pageHandler, {
          path: healthPath,
          version: VERSION,
          connections: () => wire.connectionCount + (http2Serving?.sessionCount ?? 0),
          startedAt: () => startedAt,
        });
  const http2Enabled = options.tls !== undefined && options.http2 !== false;
  let handlerForWire = handler;
  if (options.trustProxy !== undefined && options.trustProxy.length > 0) {
    const trust = parseProxyTrust(options.trustProxy);
    if (typeof trust === 'string') throw new RangeError(trust);
    handlerForWire = withTrustedProxy(handler, trust);
  }
  // The wire's body limit must let the largest accepted upload or script body through; the upload and CGI
  // code check their exact sizes. Bodies are streamed or spooled to disk, never held, so this costs no memory.
  const bodyBound = Math.max(
    options.upload === undefined ? 0 : maxUploadBytes + MULTIPART_OVERHEAD_BYTES,
    options.cgi !== undefined && options.scriptHandler === undefined ? cgiMaxBodyBytes : 0,
  );
  const uploadLimits =
    bodyBound === 0
      ? options.limits
      : {
          ...options.limits,
          maxBodyBytes: Math.max(options.limits?.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes, bodyBound),
        };
  const limits = proxy === null ? uploadLimits : { ...uploadLimits, maxBodyBytes: PROXY_MAX_BODY_BYTES };
  let stopWatching: (() => void) | null = null;
  const observer = metrics === null ? options.observer : combineObservers(options.observer, metrics.observer);
  const tlsOptions = options.tls;
  const tlsServers: import('node:tls').Server[] = [];
  /** The self-signed pair once made, for listeners created after it (several `listen` targets). */
  let selfSignedPair: { cert: string; key: string } | null = null;
  let certificate: DocrootServer['certificate'] = null;
  const wire = new WireServer({
    handler: handlerForWire,
    serverSoftware: SERVER_SOFTWARE,
    ...(limits ? { limits } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    logError,
    ...(observer ? { observer } : {}),
    renderError: errorResponse,
    ...(tlsOptions !== undefined
      ? {
          secure: true,
          createServer: (onConnection) => {
            const tlsServer = createTlsListener(
              {
                tls: tlsOptions,
                handshakeTimeoutMs: options.limits?.headersTimeoutMs ?? DEFAULT_LIMITS.headersTimeoutMs,
                ...(http2Enabled ? { alpnProtocols: ALPN_PROTOCOLS_WITH_H2 } : {}),
                logError,
              },
              (socket) => {
                // ALPN chose the protocol during the handshake (RFC 7301 §3.2): h2 or our own wire.
                if (http2Serving !== null && (socket as import('node:tls').TLSSocket).alpnProtocol === 'h2') {
                  // --max-connections counts HTTP/2 connections too; there is no 503 to send before SETTINGS.
                  const open = wire.connectionCount + http2Serving.sessionCount;
                  if (open >= (options.maxConnections ?? Number.POSITIVE_INFINITY)) {
                    wire.refusedConnections++;
                    socket.destroy();
                  } else http2Serving.accept(socket);
                } else onConnection(socket);
              },
            );
            tlsServers.push(tlsServer);
            if (selfSignedPair !== null) tlsServer.setSecureContext(selfSignedPair);
            return tlsServer;
          },
        }
      : {}),
  });
  if (metrics !== null) {
    startProcessMetrics();
    metrics.setSources({
      connectionsOpen: () => wire.connectionCount + (http2Serving?.sessionCount ?? 0),
      connectionsRefused: () => wire.refusedConnections,
      cache: fileCache,
    });
  }
  return {
    handler,
    root,
    wire,
    secure: tlsOptions !== undefined,
    get certificate() {
      return certificate;
    },
    metricsSnapshot: () => (metrics === null ? null : metrics.snapshot(processSnapshot())),
    listen: async () => {
      if (tlsOptions !== undefined && 'selfSigned' in tlsOptions && certificate === null) {
        const { generateSelfSignedCertificate } = await import('./tls/self-signed.js');
        const generated = generateSelfSignedCertificate();
        selfSignedPair = { cert: generated.cert, key: generated.key };
        for (const tlsServer of tlsServers) tlsServer.setSecureContext(selfSignedPair);
        certificate = { cert: generated.cert, fingerprint256: generated.fingerprint256 };
      }
      if (liveReload !== null && stopWatching === null) {
        const { watchTree } = await import('./files/watch.js');
        const showDotfiles = options.dotfiles ?? false;
        const watcher = watchTree(root, {
          // Hidden names are not served (unless --dotfiles), and .git churns on every commit.
          // The server's own files (upload temporaries, WebDAV property sidecars) are never pages.
          ignore: (relative) =>
            relative
              .split('/')
              .some((name) => isServerOwnName(name) || (!showDotfiles && name.startsWith('.'))),
          onChange: (paths) => liveReload.broadcast(paths.map((relative) => `/${relative}`)),
          onError: (error) => logError(error, 'watching the root'),
        });
        stopWatching = () => watcher.close();
      }
      if (http2Enabled && http2Serving === null) {
        const { createHttp2Serving } = await import('./http2/serve.js');
        http2Serving = createHttp2Serving({
          handler: handlerForWire,
          serverSoftware: SERVER_SOFTWARE,
          renderError: errorResponse,
          limits: wire.limits,
          logError,
          ...(observer ? { observer } : {}),
          ...(options.maxStreams !== undefined ? { maxOpenStreams: options.maxStreams } : {}),
        });
      }
      let address: AddressInfo;
      if (options.listen === undefined || options.listen.length === 0)
        address = await wire.listen(port, host);
      else {
        for (const target of options.listen) await wire.listenOn(target, options.unixSocket);
        const first = wire.addresses()[0];
        address =
          typeof first === 'string' || first === undefined
            ? { address: first ?? '', family: 'unix', port: 0 }
            : first;
      }
      startedAt = Date.now();
      return address;
    },
    address: () => wire.address(),
    addresses: () => wire.addresses(),
    close: async (graceMs?: number) => {
      // Open event streams would hold graceful shutdown for the whole grace period.
      stopWatching?.();
      liveReload?.closeAll();
      // HTTP/2 sockets belong to the TLS listener too, so its close waits for them: GOAWAY them alongside.
      await Promise.all([wire.close(graceMs), http2Serving?.close(graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS)]);
      proxy?.close();
      // Scripts run in their own process groups and would outlive the server.
      if (cgiModule !== null) (await cgiModule).stopAllCgiScripts();
      await authGate?.close();
    },
  };
}
