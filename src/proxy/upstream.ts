/**
 * docroot's HTTP/1.1 client for proxied requests, over `node:net` and `node:tls`: one request at a time
 * per connection, a keep-alive pool per upstream, both bodies streamed with backpressure, and every
 * response head read by the strict parser in `wire/response-parser.ts`. Whatever the upstream sends that
 * is not a well-framed answer to the request in flight (a malformed head, ambiguous framing, bytes on an
 * idle connection, bytes after the response) ends that connection; it is never passed on.
 * @module
 */
import net from 'node:net';
import { type Duplex, Readable } from 'node:stream';
import type tls from 'node:tls';
import { type BodyDecoder, ChunkedDecoder, ContentLengthDecoder } from '../wire/body.js';
import { DEFAULT_LIMITS, type WireLimits } from '../wire/limits.js';
import { parseResponseHead, type ResponseHead } from '../wire/response-parser.js';

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

/** Why no response can be forwarded: `status` is 502 (bad or no answer) or 504 (no answer in time). */
export class UpstreamError extends Error {
  readonly status: 502 | 504;
  constructor(status: 502 | 504, message: string) {
    super(message);
    this.name = 'UpstreamError';
    this.status = status;
  }
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
/**
 * An idle pooled connection is closed after this long, below the 5 s keep-alive timeout of Node's
 * `http.Server` (the commonest development backend), so we do not race its close with a new request.
 */
const POOL_IDLE_MS = 4000;
/**
 * How long to hold a body back waiting for `100 Continue` before sending it anyway (RFC 9110 §10.1.1:
 * a client should not wait indefinitely; curl waits one second).
 */
const CONTINUE_WAIT_MS = 1000;
/** Upstream heads may be larger than requests (many Set-Cookie fields); bodies are not ours to bound. */
const UPSTREAM_LIMITS: WireLimits = {
  ...DEFAULT_LIMITS,
  maxHeaderBytes: 64 * 1024,
  maxHeaderCount: 256,
  maxBodyBytes: Number.MAX_SAFE_INTEGER,
};
const EMPTY = Buffer.alloc(0);

function upstreamKey(upstream: Upstream): string {
  return `${upstream.secure ? 's' : 'p'}|${upstream.hostname}|${upstream.port}`;
}

export class UpstreamClient {
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

/** Raised by a reused connection that closed before any byte of an answer: the request may be retried. */
class StaleConnectionError extends Error {
  readonly original: UpstreamError;
  constructor(original: UpstreamError) {
    super(original.message);
    this.original = original;
  }
}

function unwrap(error: unknown): unknown {
  return error instanceof StaleConnectionError ? error.original : error;
}

type ConnectionState = 'connecting' | 'idle' | 'head' | 'body' | 'closed';

/** The response content as a Readable that pulls from the upstream socket. */
class UpstreamBody extends Readable {
  private readonly connection: UpstreamConnection;
  complete = false;

  constructor(connection: UpstreamConnection) {
    super({ highWaterMark: 64 * 1024 });
    this.connection = connection;
    // The consumer attaches its listeners when the handler's answer reaches the wire.
    this.on('error', () => {});
  }

  override _read(): void {
    this.connection.resumeReading();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A consumer that stops mid-body (the client left) leaves the upstream connection unusable.
    if (!this.complete) this.connection.destroy();
    callback(error);
  }
}

class UpstreamConnection {
  readonly key: string;
  private readonly socket: net.Socket;
  private readonly client: UpstreamClient;
  private readonly origin: string;
  private state: ConnectionState = 'connecting';
  private reused = false;
  private input: Buffer | null = null;
  private scanned = 0;
  private request: UpstreamRequest | null = null;
  private settle: { resolve: (r: UpstreamResponse) => void; reject: (e: unknown) => void } | null = null;
  private bytesReceived = 0;
  private requestSent = false;
  private responseDone = false;
  private keepAlive = false;
  private decoder: BodyDecoder | null = null;
  private body: UpstreamBody | null = null;
  private pausedForReader = false;
  private continueTimer: NodeJS.Timeout | null = null;
  private bodyStarted = false;

  constructor(socket: net.Socket, key: string, client: UpstreamClient, origin: string) {
    this.socket = socket;
    this.key = key;
    this.client = client;
    this.origin = origin;
    socket.setNoDelay(true);
    socket.setTimeout(client.options.timeoutMs);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
    socket.on('timeout', this.onTimeout);
  }

  send(request: UpstreamRequest): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      if (this.state === 'closed') {
        reject(new StaleConnectionError(new UpstreamError(502, 'the upstream closed the connection')));
        return;
      }
      this.reused = this.state === 'idle';
      this.state = 'head';
      this.request = request;
      this.settle = { resolve, reject };
      this.bytesReceived = 0;
      this.requestSent = request.body === null;
      this.responseDone = false;
      this.bodyStarted = false;
      this.scanned = 0;
      this.socket.setTimeout(this.client.options.timeoutMs);
      let framing = '';
      if (request.body !== null) {
        framing =
          request.bodyLength !== null
            ? `Content-Length: ${request.bodyLength}\r\n`
            : 'Transfer-Encoding: chunked\r\n';
        if (request.expectContinue) framing += 'Expect: 100-continue\r\n';
      } else if (request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH') {
        // RFC 9110 §8.6: a request that could have content but has none says so.
        framing = 'Content-Length: 0\r\n';
      }
      const head = `${request.method} ${request.target} HTTP/1.1\r\n${request.fields}${framing}${request.upgrade ? 'Connection: upgrade\r\n' : ''}\r\n`;
      request.onHead?.('request', head);
      this.socket.write(head, 'latin1');
      if (request.body !== null) {
        if (request.expectContinue) {
          this.continueTimer = setTimeout(() => this.startBody(), CONTINUE_WAIT_MS);
          this.continueTimer.unref();
        } else this.startBody();
      }
    });
  }

  resumeReading(): void {
    if (this.pausedForReader) {
      this.pausedForReader = false;
      this.socket.resume();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Streams the client's body to the upstream, re-framed, with backpressure from the upstream socket. */
  private startBody(): void {
    if (this.continueTimer !== null) clearTimeout(this.continueTimer);
    this.continueTimer = null;
    const request = this.request;
    if (request === null || request.body === null || this.bodyStarted || this.state === 'closed') return;
    this.bodyStarted = true;
    const body = request.body;
    const socket = this.socket;
    const chunked = request.bodyLength === null;
    body.on('data', (chunk: Buffer) => {
      if (this.state === 'closed' || chunk.length === 0) return;
      let writable: boolean;
      if (chunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        writable = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else writable = socket.write(chunk);
      if (!writable) {
        body.pause();
        socket.once('drain', () => body.resume());
      }
    });
    body.once('end', () => {
      if (this.state === 'closed') return;
      if (chunked) socket.write('0\r\n\r\n', 'latin1');
      this.requestSent = true;
      this.maybeRelease();
    });
    body.once('error', () => {
      // The client went away or its body broke: the upstream must not take a partial body as complete.
      this.fail(new UpstreamError(502, 'the client request body ended early'));
      this.destroy();
    });
  }

  private readonly onData = (chunk: Buffer): void => {
    this.bytesReceived += chunk.length;
    if (this.state === 'idle') {
      this.client.log(
        `${this.origin} sent ${chunk.length} bytes on an idle connection (a response to no request); connection closed`,
      );
      this.destroy();
      return;
    }
    if (this.state === 'closed' || this.state === 'connecting') return;
    this.input = this.input === null ? chunk : Buffer.concat([this.input, chunk]);
    if (this.state === 'head') this.readHead();
    if (this.state === 'body') this.readBody();
  };

  private readHead(): void {
    const request = this.request!;
    while (this.input !== null && this.state === 'head') {
      const result = parseResponseHead(this.input, UPSTREAM_LIMITS, request.method, this.scanned);
      if (result.kind === 'partial') {
        this.scanned = result.scanned;
        return;
      }
      this.scanned = 0;
      if (result.kind === 'error') {
        this.fail(new UpstreamError(502, `the upstream sent a malformed response: ${result.reason}`));
        this.destroy();
        return;
      }
      const head = result.head;
      const rest = result.consumed === this.input.length ? null : this.input.subarray(result.consumed);
      request.onHead?.('response', this.input.toString('latin1', 0, result.consumed));
      this.input = rest;
      if (head.status === 101) {
        this.switchProtocols(head, rest);
        return;
      }
      if (head.status < 200) {
        // Interim answers end at their head (RFC 9110 §15.2); 100 lets the body go.
        if (head.status === 100) this.startBody();
        continue;
      }
      this.onFinalHead(head);
    }
  }

  private switchProtocols(head: ResponseHead, rest: Buffer | null): void {
    if (!this.request!.upgrade) {
      this.fail(new UpstreamError(502, 'the upstream switched protocols without being asked to'));
      this.destroy();
      return;
    }
    const settle = this.settle!;
    this.settle = null;
    this.state = 'closed';
    this.input = null;
    this.detach();
    settle.resolve({ head, body: null, tunnel: { socket: this.socket, rest: rest ?? EMPTY } });
  }

  /** The socket becomes a tunnel: this connection stops reading and timing it. */
  private detach(): void {
    const socket = this.socket;
    socket.setTimeout(0);
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onClose);
    socket.off('error', this.onError);
    socket.off('timeout', this.onTimeout);
    socket.on('error', () => {});
  }

  private onFinalHead(head: ResponseHead): void {
    if (this.continueTimer !== null) {
      // The upstream answered without asking for the body (RFC 9110 §10.1.1): it is not sent, and the
      // connection cannot be reused (the upstream may still be waiting for it).
      clearTimeout(this.continueTimer);
      this.continueTimer = null;
      this.bodyStarted = true;
      head.keepAlive = false;
    }
    this.keepAlive = head.keepAlive;
    this.state = 'body';
    let body: UpstreamBody | null = null;
    switch (head.framing.kind) {
      case 'none':
        this.decoder = null;
        break;
      case 'length': {
        const input = this.input;
        const length = head.framing.length;
        if (input !== null && input.length >= length) {
          // The whole body came with the head: hand it over as bytes.
          this.input = input.length === length ? null : input.subarray(length);
          const settle = this.settle!;
          this.settle = null;
          settle.resolve({ head, body: null, bytes: input.subarray(0, length) });
          this.finishResponse();
          return;
        }
        this.decoder = new ContentLengthDecoder(length);
        body = new UpstreamBody(this);
        break;
      }
      case 'chunked':
        this.decoder = new ChunkedDecoder(UPSTREAM_LIMITS);
        body = new UpstreamBody(this);
        break;
      case 'close':
        this.decoder = null;
        body = new UpstreamBody(this);
        break;
    }
    this.body = body;
    const settle = this.settle!;
    this.settle = null;
    settle.resolve({ head, body });
    if (head.framing.kind === 'none') this.finishResponse();
  }

  private readBody(): void {
    const input = this.input;
    if (input === null || this.responseDone) {
      if (input !== null && this.responseDone) this.onExtraBytes(input.length);
      return;
    }
    const body = this.body!;
    if (this.decoder === null) {
      // Close-delimited: everything until the upstream closes is content.
      this.input = null;
      this.push(body, input);
      return;
    }
    const result = this.decoder.decode(input, (data) => this.push(body, data));
    this.input = result.consumed === input.length ? null : input.subarray(result.consumed);
    if (result.error !== undefined) {
      this.client.log(`${this.origin} sent a malformed response body: ${result.error.message}`);
      this.abortBody(new Error(`malformed response body from ${this.origin}`));
      return;
    }
    if (result.done) {
      body.complete = true;
      body.push(null);
      this.finishResponse();
    }
  }

  private push(body: UpstreamBody, data: Buffer): void {
    if (!body.push(data) && !this.pausedForReader) {
      this.pausedForReader = true;
      this.socket.pause();
    }
  }

  private finishResponse(): void {
    this.responseDone = true;
    this.body = null;
    this.decoder = null;
    if (this.input !== null) {
      this.onExtraBytes(this.input.length);
      return;
    }
    this.maybeRelease();
  }

  private onExtraBytes(count: number): void {
    // We send one request at a time, so anything after the response answers no request of ours.
    this.client.log(
      `${this.origin} sent ${count} bytes after the end of its response (a response to no request); connection closed`,
    );
    this.input = null;
    this.destroy();
  }

  /** When both directions of the exchange are complete, the connection goes back to the pool. */
  private maybeRelease(): void {
    if (!this.responseDone || this.state !== 'body') return;
    if (!this.requestSent) {
      // The upstream answered before taking the whole body; the rest cannot be skipped on this connection.
      this.destroy();
      return;
    }
    if (!this.keepAlive) {
      this.destroy();
      return;
    }
    this.state = 'idle';
    this.request = null;
    this.resumeReading();
    this.socket.setTimeout(POOL_IDLE_MS);
    this.client.release(this);
  }

  private fail(error: UpstreamError): void {
    const settle = this.settle;
    if (settle === null) return;
    this.settle = null;
    if (this.continueTimer !== null) clearTimeout(this.continueTimer);
    this.continueTimer = null;
    settle.reject(this.reused && this.bytesReceived === 0 ? new StaleConnectionError(error) : error);
  }

  private abortBody(error: Error): void {
    const body = this.body;
    this.body = null;
    if (body !== null && !body.destroyed) body.destroy(error);
    this.destroy();
  }

  private readonly onEnd = (): void => {
    if (this.state === 'body' && !this.responseDone && this.body !== null && this.decoder === null) {
      // A close-delimited body ends here (RFC 9112 §6.3 rule 8).
      const body = this.body;
      body.complete = true;
      body.push(null);
      this.keepAlive = false;
      this.finishResponse();
      return;
    }
    this.onGone('closed the connection');
  };

  private readonly onClose = (): void => {
    this.onGone('closed the connection');
  };

  private readonly onError = (error: NodeJS.ErrnoException): void => {
    const code = error.code ?? '';
    if (this.state === 'connecting' || (this.state === 'head' && this.bytesReceived === 0 && !this.reused)) {
      if (code === 'ECONNREFUSED') {
        this.fail(new UpstreamError(502, 'the upstream refused the connection (is the backend running?)'));
      } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
        this.fail(new UpstreamError(502, "the upstream's host name could not be resolved"));
      } else {
        this.fail(new UpstreamError(502, `the upstream cannot be reached (${code || error.message})`));
      }
    }
    this.onGone(code === 'ECONNRESET' ? 'reset the connection' : `failed (${error.message})`);
  };

  private readonly onTimeout = (): void => {
    const ms = this.client.options.timeoutMs;
    // Quiet because the client is not reading: the wire's send deadline judges the client, not us.
    if (this.state === 'body' && this.pausedForReader) return;
    if (this.state === 'connecting' || this.state === 'head') {
      this.fail(new UpstreamError(504, `the upstream did not answer within ${ms} ms`));
    } else if (this.state === 'body' && this.body !== null) {
      this.client.log(
        `${this.origin} stalled for ${ms} ms in the middle of a response body; connection closed`,
      );
    }
    this.onGone('timed out');
    this.destroy();
  };

  /** The upstream connection is over, in whatever state it was. */
  private onGone(how: string): void {
    if (this.state === 'closed') return;
    const state = this.state;
    this.state = 'closed';
    if (this.continueTimer !== null) clearTimeout(this.continueTimer);
    this.continueTimer = null;
    if (state === 'idle') this.client.forget(this);
    if (state === 'connecting' || state === 'head') {
      this.fail(new UpstreamError(502, `the upstream ${how} without answering`));
    } else if (state === 'body' && this.body !== null) {
      this.client.log(
        `${this.origin} ${how} in the middle of a response body; the client connection is closed too`,
      );
      this.abortBody(new Error(`${this.origin} ${how} in the middle of the response body`));
    }
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
