/**
 * The read loop of one HTTP/1.1 connection, the part every request goes through: bytes in, a head parsed,
 * the request dispatched to the handler, its content read or dropped, the answer finished, and on to the
 * next pipelined head, or the keep-alive wait, or the staged close. It keeps the connection's one
 * `ReadState`. What a connection does when something goes wrong (protocol errors, a failed handler,
 * deadlines expiring), the 101 handover and shutdown are `Connection`'s (`connection.ts`), which
 * extends this class.
 * @module
 */
import type { Socket } from 'node:net';
import { clockNow, holdClockReading, releaseClockReading } from './clock.js';
import type { ProtocolError } from './errors.js';
import { type Exchange, newExchange, recordOf, requestOf } from './exchange.js';
import type { WireLimits } from './limits.js';
import type { HttpRequest, RequestHandler, ResponseDescription } from './message.js';
import { parseRequestHead, type RequestHead } from './parser.js';
import { type RequestBodyHost, RequestBodyReader } from './request-body.js';
import { type ResponseHost, ResponseWriter, type ResponseWriterOptions } from './response-writer.js';

/** How long a closed connection may take to flush its last response and linger before it is destroyed. */
const CLOSE_FLUSH_MS = 5_000;

export type DeadlineKind = 'none' | 'headers' | 'keep-alive' | 'body' | 'send' | 'closing';

/**
 * Where the read loop is; exactly one at a time.
 * - `head`: waiting for or parsing a request head (before the first request, or between two).
 * - `body`: reading a request's content, for the handler's stream or to drop what it did not read (an
 *   exchange answered early leaves the loop here until the rest of the content has passed).
 * - `answering`: the request is read; its answer is being made or written.
 * - `draining`: the answer is written but the client is not reading; the next request waits for `drain`.
 * - `upgraded`: the socket was handed over after a 101; it stays registered until it closes.
 * - `closing`: our FIN is sent; lingering, reading and dropping, until the client closes (RFC 9112 §9.6).
 * - `closed`: the socket is gone.
 */
export type ReadState = 'head' | 'body' | 'answering' | 'draining' | 'upgraded' | 'closing' | 'closed';

export interface ConnectionOptions extends ResponseWriterOptions {
  limits: WireLimits;
  handler: RequestHandler;
  secure: boolean;
}

export abstract class ReadLoop implements ResponseHost, RequestBodyHost {
  readonly socket: Socket;
  /** Absolute time (ms) when `deadlineKind` expires; 0 when there is none. */
  deadline = 0;
  deadlineKind: DeadlineKind = 'none';
  /** Requests whose responses have been completed on this connection. */
  requestsServed = 0;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;

  protected readonly options: ConnectionOptions;
  protected readonly limits: WireLimits;
  protected readonly body: RequestBodyReader;
  protected readonly writer: ResponseWriter;
  protected state: ReadState = 'head';
  protected input: Buffer | null = null;
  protected scanned = 0;
  protected exchange: Exchange | null = null;
  protected pumping = false;
  protected pausedForInput = false;
  /** Set by graceful shutdown: finish the current exchange, then close. */
  protected shutdownAsked = false;
  /** The client half-closed: everything it sent is in, so no partial head or body can ever complete. */
  protected peerEnded = false;
  protected corked = false;
  /** Destroy as soon as the last answer is written instead of lingering (a refused connection). */
  protected closeOnceWritten = false;
  protected closeFlushMs = CLOSE_FLUSH_MS;

  constructor(socket: Socket, options: ConnectionOptions) {
    this.socket = socket;
    this.options = options;
    this.limits = options.limits;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    this.body = new RequestBodyReader(socket, options.limits, this);
    this.writer = new ResponseWriter(this, socket, options);
  }

  /** Answers `exchange` if it still may be (switching protocols for a 101). */
  abstract respond(exchange: Exchange, description: ResponseDescription): void;
  abstract destroy(): void;
  /** The handler threw or its promise failed: a 500, or a closed connection once the head is out. */
  protected abstract handlerFailed(exchange: Exchange, error: unknown): void;
  /** Answers a protocol error found before a request could be dispatched, then closes. */
  protected abstract sendProtocolError(error: ProtocolError): void;
  /** Answers `exchange` with a protocol error (a body that broke a framing rule or stalled). */
  protected abstract answerWithError(exchange: Exchange, error: ProtocolError): void;

  /** Graceful shutdown asked for: every answer from now on closes the connection. */
  get closeAfterResponse(): boolean {
    return this.shutdownAsked;
  }

  /** The connection is closing or closed: nothing more is read or written. */
  get closed(): boolean {
    return this.state === 'closing' || this.state === 'closed';
  }

  /** Where the read loop is (the listener's sweep does not need it; tests that wait for a state do). */
  get readState(): ReadState {
    return this.state;
  }

  /** The handler wants more body bytes: let the client send them. */
  onBodyWanted(): void {
    if (this.body.continuePending && this.exchange !== null && !this.exchange.answered) {
      this.body.continuePending = false;
      this.writer.writeContinue(this.exchange.head);
    }
    this.body.resumeSocket();
  }

  /** Reading a large unwanted body costs more than a new connection does. */
  onDiscardLimit(): void {
    if (this.exchange === null) this.destroy();
    else this.exchange.close = true;
  }

  isAnswerable(exchange: Exchange): boolean {
    return exchange === this.exchange && !exchange.answered && !this.closed;
  }

  armSendDeadline(): void {
    this.setDeadline('send', this.limits.bodyTimeoutMs);
  }

  clearSendDeadline(): void {
    if (this.deadlineKind === 'send') this.clearDeadline();
  }

  protected setDeadline(kind: DeadlineKind, ms: number): void {
    this.deadlineKind = kind;
    this.deadline = clockNow() + ms;
  }

  protected clearDeadline(): void {
    this.deadlineKind = 'none';
    this.deadline = 0;
  }

  protected onData(chunk: Buffer): void {
    if (this.closed) return;
    this.input = this.input === null ? chunk : Buffer.concat([this.input, chunk]);
    const held = holdClockReading();
    try {
      this.runPump();
    } finally {
      if (held) releaseClockReading();
    }
  }

  /** Runs the read loop, then flushes the responses of a pipelined batch in one write. */
  protected runPump(): void {
    this.pump();
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
  }

  protected onPeerEnd(): void {
    // The client half-closed (the server allows half-open sockets, so our side stays writable). Whatever
    // it sent is in: answer every complete request it pipelined, in order, then close.
    this.peerEnded = true;
    if (this.closed) {
      // Lingering after our own close: the client has closed too.
      if (this.socket.writableFinished) this.socket.destroy();
      return;
    }
    if (this.state === 'body') this.bodyCannotComplete();
    else if (this.state === 'head') this.runPump();
  }

  /** Runs the read loop until it has to wait for bytes, a response, or the socket to drain. */
  protected pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const state = this.state;
        if (state === 'head') {
          if (this.input === null) {
            if (this.shutdownAsked || this.peerEnded) this.endSocket();
            else if (this.requestsServed > 0) this.setDeadline('keep-alive', this.limits.keepAliveTimeoutMs);
            return;
          }
          if (!this.readNextHead()) return;
        } else if (state === 'body') {
          if (!this.consumeBody()) return;
        } else {
          if (state === 'answering' || state === 'draining') this.limitBufferedInput();
          return;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Stops reading from a client that keeps sending while its previous request is answered. */
  protected limitBufferedInput(): void {
    const bound = this.limits.maxRequestLineBytes + this.limits.maxHeaderBytes;
    if (this.input !== null && this.input.length > bound && !this.pausedForInput) {
      this.pausedForInput = true;
      this.socket.pause();
    }
  }

  protected readNextHead(): boolean {
    const input = this.input!;
    const result = parseRequestHead(input, this.limits, this.scanned);
    if (result.kind === 'partial') {
      if (this.peerEnded) {
        // The rest of this head will never arrive.
        this.endSocket();
        return false;
      }
      this.scanned = result.scanned;
      if (this.deadlineKind !== 'headers') this.setDeadline('headers', this.limits.headersTimeoutMs);
      return false;
    }
    this.scanned = 0;
    if (result.kind === 'error') {
      this.sendProtocolError(result.error);
      return false;
    }
    this.clearDeadline();
    const rest = result.consumed === input.length ? null : input.subarray(result.consumed);
    this.options.observer?.onRequestHead?.(this, result.head, input.subarray(0, result.consumed));
    this.input = rest;
    // More requests are already here (pipelining): gather their responses into one write.
    if (rest !== null && !this.corked) {
      this.corked = true;
      this.socket.cork();
    }
    this.dispatch(result.head);
    return true;
  }

  protected dispatch(head: RequestHead): void {
    const exchange = newExchange(head, !head.keepAlive || this.shutdownAsked);
    this.exchange = exchange;

    let body: HttpRequest['body'] = null;
    if (head.framing.kind === 'none') {
      this.state = 'answering';
    } else {
      this.state = 'body';
      body = this.body.start(head);
    }

    const request = requestOf(head, body, this, this.options.secure);

    let result: ResponseDescription | Promise<ResponseDescription>;
    try {
      result = this.options.handler(request);
    } catch (error) {
      this.handlerFailed(exchange, error);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (description) => this.respond(exchange, description),
        (error: unknown) => this.handlerFailed(exchange, error),
      );
    } else {
      this.respond(exchange, result);
    }
  }

  /** Feeds buffered bytes to the body decoder; true when the body is complete. */
  protected consumeBody(): boolean {
    const input = this.input;
    if (input === null) {
      if (this.peerEnded) this.bodyCannotComplete();
      else if (this.deadlineKind !== 'body') this.setDeadline('body', this.limits.bodyTimeoutMs);
      return false;
    }
    const result = this.body.decode(input);
    this.input = result.consumed === input.length ? null : input.subarray(result.consumed);
    if (result.error !== undefined) {
      this.onBodyError(result.error);
      return false;
    }
    if (!result.done) {
      if (this.peerEnded) this.bodyCannotComplete();
      else this.setDeadline('body', this.limits.bodyTimeoutMs);
      return false;
    }
    this.body.complete();
    this.clearDeadline();
    if (this.exchange !== null) this.state = 'answering';
    else this.readyForNextRequest();
    return true;
  }

  /** The client half-closed inside a body: it can never complete. */
  protected bodyCannotComplete(): void {
    const exchange = this.exchange;
    if (exchange === null) {
      // Already answered; only the discarded rest is missing.
      this.endSocket();
    } else if (exchange.answered) {
      exchange.close = true;
    } else {
      this.destroy();
    }
  }

  protected onBodyError(error: ProtocolError): void {
    this.state = 'answering';
    this.input = null;
    this.body.fail(error);
    const exchange = this.exchange;
    if (exchange !== null) exchange.bodyFailure = error;
    if (exchange !== null && !exchange.answered) this.answerWithError(exchange, error);
    else if (exchange === null) this.destroy();
    else exchange.close = true;
  }

  finishExchange(exchange: Exchange): void {
    if (this.exchange !== exchange) return;
    this.exchange = null;
    this.requestsServed++;
    this.options.observer?.onExchange?.(recordOf(exchange, this.requestsServed, this.remoteAddress));
    if (this.state === 'body') {
      // The handler answered without reading all of the body.
      this.body.abandon();
      // A client still waiting for 100 Continue will never send the body we would have to skip.
      if (this.body.continuePending) exchange.close = true;
    }
    if (this.state === 'upgraded') return;
    if (exchange.close || this.shutdownAsked) {
      this.endSocket();
      return;
    }
    if (this.pausedForInput) {
      this.pausedForInput = false;
      this.socket.resume();
    }
    // With content still to drop, the loop stays in `body` and moves on once it has passed.
    if (this.state === 'answering') this.readyForNextRequest();
    if (!this.pumping) this.runPump();
  }

  /** The exchange is over and its content read: on to the next head, once the client reads its answers. */
  protected readyForNextRequest(): void {
    if (!this.socket.writableNeedDrain) {
      this.state = 'head';
      return;
    }
    // Do not answer further pipelined requests for a client that is not reading the answers.
    this.state = 'draining';
    this.armSendDeadline();
    this.socket.once('drain', () => {
      if (this.state !== 'draining') return;
      this.state = 'head';
      this.clearSendDeadline();
      // runPump, not pump: the next pipelined head corks the socket again, and only runPump uncorks.
      this.runPump();
    });
  }

  protected endSocket(): void {
    if (this.closed) return;
    this.state = 'closing';
    this.input = null;
    this.setDeadline('closing', this.closeFlushMs);
    this.socket.end();
    // RFC 9112 §9.6: close in stages. After our FIN, keep reading (and dropping: `onData` ignores a closed
    // connection) whatever the client is still sending until it closes too, or the closing deadline
    // passes. Closing with unread bytes makes the kernel send a reset, which can destroy our last
    // response (a 400 or 413 for a request whose body is still coming) before the client reads it.
    this.socket.once('finish', () => {
      if (this.closeOnceWritten || this.peerEnded || this.socket.readableEnded) this.socket.destroy();
      else this.socket.resume();
    });
  }
}
