/**
 * One connection to an upstream: sends a request (its head and its body, re-framed, through
 * `upstream-request.ts`), reads the answer with the strict response parser, streams the body with
 * backpressure from the reader, and goes back to its pool only when both directions ended cleanly.
 * Anything else — a malformed head, ambiguous framing, bytes on an idle connection or after the
 * response, a stall — ends the connection.
 * @module
 */
import type net from 'node:net';
import { type BodyDecoder, ChunkedDecoder, ContentLengthDecoder } from '../wire/body.js';
import { DEFAULT_LIMITS, type WireLimits } from '../wire/limits.js';
import { parseResponseHead, type ResponseHead } from '../wire/response-parser.js';
import type { UpstreamClientOptions, UpstreamRequest, UpstreamResponse } from './upstream.js';
import { UpstreamBody } from './upstream-body.js';
import { StaleConnectionError, UpstreamError, unreachable } from './upstream-error.js';
import { pipeRequestBody, requestHead } from './upstream-request.js';

/** What a connection needs of its pool. */
export interface ConnectionPool {
  readonly options: UpstreamClientOptions;
  /** Takes back a connection whose exchange ended cleanly (or closes it). */
  release(connection: UpstreamConnection): void;
  /** Drops an idle connection that closed. */
  forget(connection: UpstreamConnection): void;
  log(line: string): void;
}

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

type ConnectionState = 'connecting' | 'idle' | 'head' | 'body' | 'closed';

export class UpstreamConnection {
  readonly key: string;
  private readonly socket: net.Socket;
  private readonly client: ConnectionPool;
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

  constructor(socket: net.Socket, key: string, client: ConnectionPool, origin: string) {
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
      const head = requestHead(request);
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

  /** Sends the client's body (once: on 100 Continue, when the wait for it is over, or at once). */
  private startBody(): void {
    if (this.continueTimer !== null) clearTimeout(this.continueTimer);
    this.continueTimer = null;
    const request = this.request;
    if (request === null || request.body === null || this.bodyStarted || this.state === 'closed') return;
    this.bodyStarted = true;
    pipeRequestBody(request.body, this.socket, request.bodyLength === null, {
      closed: () => this.state === 'closed',
      sent: () => {
        this.requestSent = true;
        this.maybeRelease();
      },
      failed: () => {
        // The client went away or its body broke: the upstream must not take a partial body as complete.
        this.fail(new UpstreamError(502, 'the client request body ended early'));
        this.destroy();
      },
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
      this.fail(unreachable(error));
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
