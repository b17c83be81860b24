/**
 * docroot's HTTP/1.1 client for proxied requests, over `node:net` and `node:tls`: one request at a time
 * per connection, a keep-alive pool per upstream, both bodies streamed with backpressure, and every
 * response head read by the strict parser in `wire/response-parser.ts`. Whatever the upstream sends that
 * is not a well-framed answer to the request in flight (a malformed head, ambiguous framing, bytes on an
 * idle connection, bytes after the response) ends that connection; it is never passed on.
 * @module
 */
import net from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type tls from 'node:tls';
import type { ResponseHead } from '../wire/response-parser.js';
import { type ConnectionPool, UpstreamConnection } from './upstream-connection.js';
import { StaleConnectionError, unwrap } from './upstream-error.js';

export { UpstreamError } from './upstream-error.js';

/** Where a route sends its requests. */
export interface Upstream {
  secure: boolean;
  /** Host name or IP address (IPv6 without brackets), resolved again for each new connection. */
  hostname: string;
  port: number;
  /** `host[:port]` as written in the route, for the Host field. */
  authority: string;
}

/** A request as docroot forwards it: the field lines are already filtered and extended by the caller. */
export interface UpstreamRequest {
  method: string;
  target: string;
  /** Field lines, each ending in CRLF, without framing fields (Content-Length, Transfer-Encoding). */
  fields: string;
  body: Readable | null;
  /** Declared length of `body`; null with a body means it is sent chunked. */
  bodyLength: number | null;
  /** Send `Expect: 100-continue` and hold the body back until the upstream says 100 (or a moment passes). */
  expectContinue: boolean;
  /** The request asks to switch protocols: a 101 hands over the upstream socket. */
  upgrade: boolean;
  /** Sees this exchange's heads as they cross the upstream connection (`--trace`). */
  onHead?: ((direction: 'request' | 'response', head: string) => void) | undefined;
}

export interface UpstreamResponse {
  head: ResponseHead;
  /** The content, decoded from its framing; null when the response has none or `bytes` holds it. */
  body: Readable | null;
  /** The whole content, when it arrived with the head (small answers skip the stream machinery). */
  bytes?: Buffer;
  /** Set for a 101 answer to an upgrade request: the upstream socket and the bytes after the head. */
  tunnel?: { socket: Duplex; rest: Buffer };
}

export interface UpstreamClientOptions {
  /** Milliseconds to connect, to wait for a response head, and that a body may stall. */
  timeoutMs: number;
  /** Accept any certificate from https:// upstreams (self-signed development backends). */
  insecure: boolean;
  /** One line for each upstream that misbehaved in a way no request is answered for. */
  log: (line: string) => void;
}

/** Idle upstream connections kept per upstream (nginx's `keepalive` directive); more are closed when their response ends. */
const MAX_IDLE_PER_UPSTREAM = 128;
function upstreamKey(upstream: Upstream): string {
  return `${upstream.secure ? 's' : 'p'}|${upstream.hostname}|${upstream.port}`;
}

export class UpstreamClient implements ConnectionPool {
  private readonly idle = new Map<string, UpstreamConnection[]>();
  readonly options: UpstreamClientOptions;
  private tlsModule: typeof tls | null = null;

  constructor(options: UpstreamClientOptions) {
    this.options = options;
  }

  /** Sends one request; resolves with the response head (the body streams on), rejects with an UpstreamError. */
  async request(upstream: Upstream, request: UpstreamRequest): Promise<UpstreamResponse> {
    const key = upstreamKey(upstream);
    const pooled = this.takeIdle(key);
    if (pooled !== null) {
      try {
        return await pooled.send(request);
      } catch (error) {
        // A pooled connection the upstream closed just as we reused it: try once more on a fresh one,
        // unless part of a body was already consumed (it cannot be sent again).
        if (!(error instanceof StaleConnectionError) || request.body !== null) throw unwrap(error);
      }
    }
    const connection = await this.open(upstream, key);
    return connection.send(request).catch((error: unknown) => {
      throw unwrap(error);
    });
  }

  /** Closes every idle connection (server shutdown). */
  close(): void {
    for (const list of this.idle.values()) for (const connection of list) connection.destroy();
    this.idle.clear();
  }

  /** Puts a connection whose exchange ended cleanly back in the pool, or closes it. */
  release(connection: UpstreamConnection): void {
    let list = this.idle.get(connection.key);
    if (list === undefined) {
      list = [];
      this.idle.set(connection.key, list);
    }
    if (list.length >= MAX_IDLE_PER_UPSTREAM) {
      connection.destroy();
      return;
    }
    list.push(connection);
  }

  log(line: string): void {
    this.options.log(line);
  }

  forget(connection: UpstreamConnection): void {
    const list = this.idle.get(connection.key);
    if (list === undefined) return;
    const at = list.indexOf(connection);
    if (at !== -1) list.splice(at, 1);
    if (list.length === 0) this.idle.delete(connection.key);
  }

  private takeIdle(key: string): UpstreamConnection | null {
    const list = this.idle.get(key);
    if (list === undefined) return null;
    const connection = list.pop() ?? null;
    if (list.length === 0) this.idle.delete(key);
    return connection;
  }

  private async open(upstream: Upstream, key: string): Promise<UpstreamConnection> {
    let socket: net.Socket;
    if (upstream.secure) {
      this.tlsModule ??= (await import('node:tls')).default;
      socket = this.tlsModule.connect({
        host: upstream.hostname,
        port: upstream.port,
        // SNI is for names only (RFC 6066 §3).
        ...(net.isIP(upstream.hostname) === 0 ? { servername: upstream.hostname } : {}),
        rejectUnauthorized: !this.options.insecure,
        ALPNProtocols: ['http/1.1'],
      });
    } else {
      socket = net.connect({ host: upstream.hostname, port: upstream.port });
    }
    return new UpstreamConnection(
      socket,
      key,
      this,
      `${upstream.secure ? 'https' : 'http'}://${upstream.authority}`,
    );
  }
}
