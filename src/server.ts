/**
 * `createServer`: the document-root handler on docroot's own HTTP/1.1 wire, ready to listen.
 * @module
 */
import { realpathSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type AuthRule, checkAuthRules } from './handlers/auth-rules.js';
import type { CgiOptions } from './handlers/cgi.js';
import { errorResponse } from './handlers/errors.js';
import { FileCache } from './handlers/file-cache.js';
import { DEFAULT_HEALTH_PATH, withHealthCheck } from './handlers/health.js';
import { LiveReloadHub, withLiveReload } from './handlers/livereload.js';
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
import { ALPN_PROTOCOLS_WITH_H2, createTlsListener, type TlsOptions } from './tls/server.js';
import { VERSION } from './version.js';
import type { WireObserver } from './wire/connection.js';
import type { ListenTarget, UnixSocketOptions } from './wire/endpoints.js';
import { DEFAULT_LIMITS, type WireLimits } from './wire/limits.js';
import { DEFAULT_SHUTDOWN_GRACE_MS, WireServer } from './wire/listener.js';
import type { HttpRequest, RequestHandler, ResponseDescription } from './wire/message.js';
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

export type { AuthRule } from './handlers/auth-rules.js';

export interface CgiServerOptions {
  /** URL folder under the root whose executables run as scripts. @default 'cgi-bin' (null: none) */
  dir?: string | null;
  /** File extension → interpreter, for scripts anywhere in the root, e.g. { '.py': 'python3' }. */
  interpreters?: Record<string, string>;
  /** Milliseconds before a script's process group is killed (504). @default 30000 */
  timeoutMs?: number;
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

/** Methods `upload` turns on; kept here so start-up need not load the upload module. */
const UPLOAD_METHODS: readonly string[] = ['PUT', 'PATCH', 'DELETE', 'MKCOL', 'POST'];
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

/** Checks every request against the rules first; the checking code is loaded with the first request. */
function withAuth(
  inner: RequestHandler,
  rules: readonly AuthRule[],
  metrics: ServerMetrics | null,
): RequestHandler {
  let gate: ReturnType<typeof import('./handlers/auth.js').createAuthGate> | null = null;
  return async (request) => {
    gate ??= (await import('./handlers/auth.js')).createAuthGate(rules);
    const refusal = await gate(request);
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
function readAccessCheck(
  rules: readonly AuthRule[],
): (request: HttpRequest, urlPath: string) => Promise<boolean> {
  let gate: ReturnType<typeof import('./handlers/auth.js').createAuthGate> | null = null;
  return async (request, urlPath) => {
    gate ??= (await import('./handlers/auth.js')).createAuthGate(rules);
    return (await gate({ ...request, method: 'GET', path: urlPath, body: null })) === null;
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
  let cgiModule: Promise<typeof import('./handlers/cgi.js')> | null = null;
  if (scriptHandler === undefined && options.cgi !== undefined) {
    const cgiOptions: CgiOptions = {
      root,
      cgiDir: options.cgi.dir === undefined ? 'cgi-bin' : options.cgi.dir,
      interpreters: options.cgi.interpreters ?? {},
      timeoutMs: options.cgi.timeoutMs ?? CGI_DEFAULT_TIMEOUT_MS,
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
  if (options.upload !== undefined) {
    const uploadOptions = {
      root,
      dotfiles: options.dotfiles ?? false,
      followSymlinks: options.followSymlinks ?? false,
      maxBytes: maxUploadBytes,
    };
    let handleWrite: WriteHandler['handle'] | null = null;
    // Loaded on the first write, so servers that only read never pay for it.
    writeHandler = {
      methods: UPLOAD_METHODS,
      async handle(request, decoded) {
        handleWrite ??= (await import('./handlers/upload.js')).createUploadHandler(uploadOptions);
        return handleWrite(request, decoded);
      },
    };
  }
  if (options.auth !== undefined) checkAuthRules(options.auth);
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
    ...(options.auth !== undefined && options.auth.length > 0
      ? { mayRead: readAccessCheck(options.auth) }
      : {}),
  });
  const liveReload = options.watch === true ? new LiveReloadHub() : null;
  const reloading = liveReload === null ? fileHandler : withLiveReload(fileHandler, liveReload);
  const metricsOptions = options.metrics;
  const unguarded =
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
  // The metrics path sits inside the access rules: it follows them like any other path.
  const pageHandler =
    options.auth === undefined || options.auth.length === 0
      ? unguarded
      : withAuth(unguarded, options.auth, metrics);
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
  const limits =
    options.upload === undefined
      ? options.limits
      : {
          ...options.limits,
          // The wire's body limit must let the largest accepted upload through; the upload code checks the exact size.
          maxBodyBytes: Math.max(
            options.limits?.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes,
            maxUploadBytes + MULTIPART_OVERHEAD_BYTES,
          ),
        };
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
    renderError: (status, message, head) => errorResponse(status, message, head?.headers.accept),
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
  const port = options.port ?? 8080;
  const host = options.host ?? 'localhost';
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
          ignore: (relative) => !showDotfiles && relative.split('/').some((name) => name.startsWith('.')),
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
          limits: wire.limits,
          logError,
          ...(observer ? { observer } : {}),
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
      // Scripts run in their own process groups and would outlive the server.
      if (cgiModule !== null) (await cgiModule).stopAllCgiScripts();
    },
  };
}
