/**
 * `createServer`: the document-root handler on docroot's own HTTP/1.1 wire, ready to listen.
 * @module
 */
import { realpathSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  DEFAULT_CGI_MAX_BODY_BYTES,
  DEFAULT_HOST,
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_PORT,
  DEFAULT_SHUTDOWN_GRACE_MS,
} from './defaults.js';
import { isServerOwnName } from './files/resolve.js';
import { buildHandlerChain } from './handler-chain.js';
import type { AuthRate, SharedFailures } from './handlers/auth-rate.js';
import type { AuthRule } from './handlers/auth-rules.js';
import { errorResponse } from './handlers/errors.js';
import type { ScriptHandler } from './handlers/hooks.js';
import type { FileHandlerOptions } from './handlers/static.js';
import type { Http2Serving } from './http2/serve.js';
import type { MetricsSnapshot } from './metrics/counters.js';
import { processSnapshot, startProcessMetrics } from './metrics/process.js';
import { ALPN_PROTOCOLS_WITH_H2, createTlsListener, type TlsOptions } from './tls/server.js';
import { VERSION } from './version.js';
import type { ListenTarget, UnixSocketOptions } from './wire/endpoints.js';
import { DEFAULT_LIMITS, type WireLimits } from './wire/limits.js';
import { WireServer } from './wire/listener.js';
import type { RequestHandler } from './wire/message.js';
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
   * Failed logins counted together with the other processes serving the same port, so `authRate` holds
   * for all of them at once (`--workers` passes the primary's relay; see cli/workers.ts).
   */
  authFailures?: SharedFailures;
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

export type { AuthRate, SharedFailures } from './handlers/auth-rate.js';
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

/** Room for multipart boundaries and part headers around a file of the largest accepted size. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
/** Proxied requests may be as large as the upstream accepts; the wire's own bound must not stop them first. */
const PROXY_MAX_BODY_BYTES = Number.MAX_SAFE_INTEGER;

/** Thrown for a root that does not exist or is not a folder, with a message fit for a CLI user. */
export class RootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RootError';
  }
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
  const logError =
    options.logError ??
    ((error: unknown, context: string) => {
      console.error(`docroot: ${context}:`, error);
    });
  let startedAt = Date.now();
  let http2Serving: Http2Serving | null = null;
  const connections = () => wire.connectionCount + (http2Serving?.sessionCount ?? 0);
  const chain = buildHandlerChain(options, {
    root,
    serverSoftware: SERVER_SOFTWARE,
    logError,
    connections,
    startedAt: () => startedAt,
  });
  const { handler, handlerForWire, liveReload, metrics } = chain;
  const port = options.port ?? DEFAULT_PORT;
  const host = options.host ?? DEFAULT_HOST;
  const http2Enabled = options.tls !== undefined && options.http2 !== false;
  // The wire's body limit must let the largest accepted upload or script body through; the upload and CGI
  // code check their exact sizes. Bodies are streamed or spooled to disk, never held, so this costs no memory.
  const bodyBound = Math.max(
    options.upload === undefined
      ? 0
      : (options.upload.maxBytes ?? DEFAULT_MAX_UPLOAD_BYTES) + MULTIPART_OVERHEAD_BYTES,
    options.cgi !== undefined && options.scriptHandler === undefined
      ? (options.cgi.maxBodyBytes ?? DEFAULT_CGI_MAX_BODY_BYTES)
      : 0,
  );
  const uploadLimits =
    bodyBound === 0
      ? options.limits
      : {
          ...options.limits,
          maxBodyBytes: Math.max(options.limits?.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes, bodyBound),
        };
  const limits = !chain.proxying ? uploadLimits : { ...uploadLimits, maxBodyBytes: PROXY_MAX_BODY_BYTES };
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
      connectionsOpen: connections,
      connectionsRefused: () => wire.refusedConnections,
      cache: chain.fileCache,
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
      // Upstream connections, scripts (in their own process groups, they would outlive the server), the
      // password worker.
      await chain.close();
    },
  };
}
