/**
 * The listening socket: accepts connections, keeps the set of live ones, checks their deadlines from one
 * shared sweep, and shuts down gracefully.
 * @module
 */

import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { DEFAULT_SHUTDOWN_GRACE_MS } from '../defaults.js';
import { Connection, type ConnectionOptions, type ConnectionRegistry } from './connection.js';
import {
  applyUnixSocketOptions,
  type ListenTarget,
  removeStaleSocket,
  type UnixSocketOptions,
} from './endpoints.js';
import type { ErrorRenderer } from './error-response.js';
import { DEFAULT_LIMITS, type WireLimits } from './limits.js';
import type { RequestHandler } from './message.js';
import type { WireObserver } from './observer.js';

export interface WireServerOptions {
  handler: RequestHandler;
  limits?: Partial<WireLimits>;
  /** Product token for the `Server` field. @default 'docroot' */
  serverSoftware?: string;
  /** Most simultaneous connections; further ones get a 503 and are closed. @default Infinity */
  maxConnections?: number;
  logError?: (error: unknown, context: string) => void;
  observer?: WireObserver;
  /** Makes error responses the wire sends itself (server.ts passes the handlers' renderer). */
  renderError?: ErrorRenderer;
  /** Wrap accepted sockets (TLS). */
  createServer?: (onConnection: (socket: net.Socket) => void) => net.Server;
  secure?: boolean;
}

/** The sweep never runs less often than this, so second-scale deadlines are checked promptly. */
const MAX_SWEEP_INTERVAL_MS = 1000;
const MIN_SWEEP_INTERVAL_MS = 20;
/** The longest a refused connection may take to take its 503 (it is small: usually no wait at all). */
const OVER_LIMIT_FLUSH_MS = 1000;

export { DEFAULT_SHUTDOWN_GRACE_MS };

export class WireServer implements ConnectionRegistry {
  readonly server: net.Server;
  readonly limits: WireLimits;
  private readonly connections = new Set<Connection>();
  /** Connections over the limit being answered with a 503; not counted, but swept for their close deadline. */
  private readonly refused = new Set<Connection>();
  private readonly connectionOptions: ConnectionOptions;
  private readonly maxConnections: number;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly sweepIntervalMs: number;
  private closing: Promise<void> | null = null;
  /** Listening sockets beyond `server` (several --listen targets), all feeding the same connections. */
  private readonly extraServers: net.Server[] = [];
  private readonly makeServer: () => net.Server;
  /** Connections turned away because `maxConnections` were open (for metrics). */
  refusedConnections = 0;
  private drained: (() => void) | null = null;

  constructor(options: WireServerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    validateLimits(this.limits);
    this.maxConnections = options.maxConnections ?? Number.POSITIVE_INFINITY;
    const logError =
      options.logError ??
      ((error: unknown, context: string) => {
        console.error(`docroot: ${context}:`, error);
      });
    this.connectionOptions = {
      limits: this.limits,
      handler: options.handler,
      serverFieldLine: `Server: ${options.serverSoftware ?? 'docroot'}\r\n`,
      secure: options.secure ?? false,
      logError,
      observer: options.observer,
      renderError: options.renderError,
    };
    const smallest = Math.min(
      this.limits.headersTimeoutMs,
      this.limits.keepAliveTimeoutMs,
      this.limits.bodyTimeoutMs,
    );
    this.sweepIntervalMs = Math.max(
      MIN_SWEEP_INTERVAL_MS,
      Math.min(MAX_SWEEP_INTERVAL_MS, Math.floor(smallest / 4)),
    );
    const onConnection = (socket: net.Socket) => this.accept(socket);
    // allowHalfOpen: a client that shuts down its sending side after the request (`nc -N`, HTTP/1.0 tools)
    // still gets its answers; the connection ends the socket itself when they are written.
    this.makeServer = () => {
      const server = options.createServer
        ? options.createServer(onConnection)
        : net.createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
      server.on('error', () => {});
      return server;
    };
    this.server = this.makeServer();
  }

  /**
   * Listens on one more target (the first call uses `server`): TCP, a unix socket (a stale socket file
   * is removed first, see endpoints.ts) or an inherited descriptor.
   */
  async listenOn(target: ListenTarget, unix: UnixSocketOptions = {}): Promise<void> {
    const server = this.server.listening || this.extraServers.length > 0 ? this.makeServer() : this.server;
    if (server !== this.server) this.extraServers.push(server);
    if (target.kind === 'unix' && unix.removeStale !== false) await removeStaleSocket(target.path);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.once('error', onError);
      const done = () => {
        server.off('error', onError);
        resolve();
      };
      if (target.kind === 'tcp') server.listen({ port: target.port, host: target.host, backlog: 4096 }, done);
      else if (target.kind === 'unix') {
        // The socket file is created by bind(2), inside listen(): with the umask narrowed around it, it
        // never exists with looser permissions than asked for (the chmod after is for cluster workers,
        // whose primary binds).
        const previousUmask = unix.mode === undefined ? null : process.umask(~unix.mode & 0o777);
        try {
          server.listen({ path: target.path, backlog: 4096 }, done);
        } finally {
          if (previousUmask !== null) process.umask(previousUmask);
        }
      } else server.listen({ fd: target.fd, backlog: 4096 }, done);
    });
    if (target.kind === 'unix') applyUnixSocketOptions(target.path, unix);
    this.startSweep();
  }

  /** Every listening socket's address: AddressInfo for TCP, the path for a unix socket. */
  addresses(): Array<AddressInfo | string> {
    const all = [this.server, ...this.extraServers].map((server) => server.address());
    return all.filter((address): address is AddressInfo | string => address !== null);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  listen(port: number, host?: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen({ port, host, backlog: 4096 }, () => {
        this.server.off('error', onError);
        this.startSweep();
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  address(): AddressInfo | null {
    const address = this.server.address();
    return address !== null && typeof address === 'object' ? address : null;
  }

  /**
   * Stops accepting, closes idle connections, lets in-flight responses finish, and destroys whatever is
   * still open after `graceMs`.
   */
  close(graceMs = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      const finish = () => {
        this.stopSweep();
        clearTimeout(forceTimer);
        resolve();
      };
      const forceTimer = setTimeout(() => {
        for (const connection of this.connections) connection.destroy();
      }, graceMs);
      forceTimer.unref();
      let listenersOpen = 0;
      const maybeDone = () => {
        if (listenersOpen === 0 && this.connections.size === 0) finish();
      };
      this.drained = maybeDone;
      for (const server of [this.server, ...this.extraServers]) {
        if (!server.listening) continue;
        listenersOpen++;
        server.close(() => {
          listenersOpen--;
          maybeDone();
        });
      }
      for (const connection of this.connections) connection.closeWhenIdle();
      for (const connection of this.refused) connection.destroy();
      maybeDone();
    });
    return this.closing;
  }

  remove(connection: Connection): void {
    this.refused.delete(connection);
    this.connections.delete(connection);
    if (this.drained !== null) this.drained();
  }

  private accept(socket: net.Socket): void {
    if (this.closing !== null) {
      // Handed over after shutdown began (a cluster primary's last connection to a retiring worker): its
      // request is answered, then the connection closes. Dropping it would lose a request mid-restart.
      const connection = new Connection(socket, this.connectionOptions, this);
      this.connections.add(connection);
      connection.closeWhenIdle();
      return;
    }
    if (this.connections.size >= this.maxConnections) {
      this.refusedConnections++;
      // Answered like any other response (renderer, observers, trace), and closed as soon as the 503 is
      // written, so a flood of connectors keeps the descriptors in use bounded by the limit.
      const refused = new Connection(socket, this.connectionOptions, this);
      this.refused.add(refused);
      refused.refuse(
        503,
        `the server is at its limit of ${this.maxConnections} connections`,
        { 'Retry-After': '1' },
        OVER_LIMIT_FLUSH_MS,
      );
      return;
    }
    const connection = new Connection(socket, this.connectionOptions, this);
    this.connections.add(connection);
  }

  private startSweep(): void {
    if (this.sweepTimer !== null) return;
    this.sweepTimer = setInterval(() => this.sweep(), this.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  private stopSweep(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  private sweep(): void {
    const now = Date.now();
    for (const connection of this.connections) {
      if (connection.deadline !== 0 && connection.deadline <= now) connection.onDeadline();
    }
    for (const connection of this.refused) {
      if (connection.deadline !== 0 && connection.deadline <= now) connection.onDeadline();
    }
  }
}

function validateLimits(limits: WireLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !(value > 0)) {
      throw new RangeError(`limit ${name} must be a positive number, got ${String(value)}`);
    }
  }
}
