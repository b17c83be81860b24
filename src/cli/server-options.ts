/**
 * Parsed command-line options → `createServer` options: a pure function, so what each flag turns into is
 * checked by a table (server-options.test.ts) without starting anything. What this process adds (the
 * observers, the TLS material, the listening targets, a worker's place in --workers) comes in `context`.
 * @module
 */
import type { MetricsSnapshot, ProxyServerOptions, ServerOptions, SharedFailures } from '../server.js';
import type { TlsOptions } from '../tls/server.js';
import type { ListenTarget, UnixSocketOptions } from '../wire/endpoints.js';
import type { WireObserver } from '../wire/observer.js';
import type { CliOptions } from './args.js';

export interface ProcessContext {
  /** The trace and access-log observers, when asked for. */
  observer?: WireObserver | undefined;
  /** The certificate and key read (or made) for this process. */
  tls?: TlsOptions | undefined;
  /** --listen targets (or systemd's sockets) resolved for this process; none means --host and --port. */
  listen?: { targets: readonly ListenTarget[]; unixSocket: UnixSocketOptions } | undefined;
  /** Set in a worker of --workers. */
  worker?:
    | {
        /** Fields that tell which worker answered (see cli/workers.ts). */
        headers: Record<string, string>;
        /** One scrape shows every worker's counters, summed by the primary. */
        aggregateMetrics: (local: MetricsSnapshot) => Promise<MetricsSnapshot>;
        /** Failed logins counted by every worker, relayed by the primary. */
        authFailures?: SharedFailures;
      }
    | undefined;
  /** Where the proxy logs, and the --trace of the upstream leg. */
  proxy?: Pick<ProxyServerOptions, 'log' | 'onUpstreamHead'> | undefined;
}

export function serverOptionsFromCli(options: CliOptions, context: ProcessContext = {}): ServerOptions {
  const { observer, tls, listen, worker } = context;
  return {
    root: options.root,
    port: options.port,
    host: options.host,
    ...(listen !== undefined && listen.targets.length > 0
      ? { listen: listen.targets, unixSocket: listen.unixSocket }
      : {}),
    listing: options.listing,
    dotfiles: options.dotfiles,
    followSymlinks: options.followSymlinks,
    compress: options.compress,
    ...(options.cacheControl !== undefined ? { cacheControl: options.cacheControl } : {}),
    cacheControlRules: options.cacheControlRules,
    headers: worker === undefined ? options.headers : { ...options.headers, ...worker.headers },
    cors: options.cors,
    spa: options.spa,
    ...(options.notFoundPage !== undefined ? { notFoundPage: options.notFoundPage } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.cgi !== undefined ? { cgi: options.cgi } : {}),
    ...(observer !== undefined ? { observer } : {}),
    ...(tls !== undefined ? { tls } : {}),
    watch: options.watch,
    http2: options.http2,
    healthPath: options.healthPath,
    archives: options.archives,
    ...(options.search ? {} : { search: false }),
    ...(options.readme ? {} : { readme: false }),
    ...(options.upload !== undefined ? { upload: options.upload } : {}),
    webdav: options.webdav,
    // Each worker would hold its own locks, enforced on a share of the requests only: no class 2 then.
    webdavLocks: worker === undefined,
    ...(options.auth.length > 0 ? { auth: options.auth } : {}),
    ...(options.authRate !== undefined ? { authRate: options.authRate } : {}),
    ...(worker?.authFailures !== undefined ? { authFailures: worker.authFailures } : {}),
    allowedHosts: options.allowedHosts,
    ...(options.proxy !== undefined
      ? {
          proxy: {
            routes: options.proxy.routes,
            timeoutMs: options.proxy.timeoutMs,
            insecure: options.proxy.insecure,
            keepHost: options.proxy.keepHost,
            rewriteHeaders: options.proxy.rewriteHeaders,
            ...context.proxy,
          },
        }
      : {}),
    ...(options.trustProxy.length > 0 ? { trustProxy: options.trustProxy } : {}),
    ...(options.metricsPath !== undefined
      ? {
          metrics: {
            path: options.metricsPath,
            ...(worker !== undefined ? { aggregate: worker.aggregateMetrics } : {}),
          },
        }
      : {}),
  };
}
