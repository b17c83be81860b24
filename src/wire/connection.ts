/**
 * One HTTP/1.1 connection: bytes in, requests out to the handler, responses back in request order.
 *
 * The connection reads one request at a time (RFC 9112 §9.3.2 lets a server process pipelined requests
 * sequentially): it parses a head, hands the request to the handler, streams the request body to it (or
 * discards it), has the response written, and only then parses the next head from what is already
 * buffered. The content is read by `request-body.ts`, the answer written by `response-writer.ts`.
 * Deadlines are plain numbers checked by the listener's sweep, so a request costs no timer allocation.
 * @module
 */
import type { Socket } from 'node:net';
import { HANDLER_FAILED_MESSAGE } from './error-response.js';
import { ProtocolError } from './errors.js';
import { type Exchange, newExchange, recordOf, requestOf } from './exchange.js';
import type { WireLimits } from './limits.js';
import type { HttpRequest, RequestHandler, ResponseDescription } from './message.js';
import { parseRequestHead, type RequestHead } from './parser.js';
import { RequestBodyReader } from './request-body.js';
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

/** At shutdown, how long a connection that has not sent any request yet may take to start one. */
export const SHUTDOWN_FIRST_REQUEST_GRACE_MS = 1000;

export interface ConnectionOptions extends ResponseWriterOptions {
  limits: WireLimits;
  handler: RequestHandler;
  secure: boolean;
}

export interface ConnectionRegistry {
  remove(connection: Connection): void;
}

export class Connection implements ResponseHost {
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

  private readonly options: ConnectionOptions;
  private readonly limits: WireLimits;
  private readonly registry: ConnectionRegistry;
  private readonly body: RequestBodyReader;
  private readonly writer: ResponseWriter;
  private state: ReadState = 'head';
  private input: Buffer | null = null;
  private scanned = 0;
  private exchange: Exchange | null = null;
  private pumping = false;
  private pausedForInput = false;
  /** Set by graceful shutdown: finish the current exchange, then close. */
  private shutdownAsked = false;
  /** The client half-closed: everything it sent is in, so no partial head or body can ever complete. */
  private peerEnded = false;
  private corked = false;
  /** Destroy as soon as the last answer is written instead of lingering (a refused connection). */
  private closeOnceWritten = false;
  private closeFlushMs = CLOSE_FLUSH_MS;

  constructor(socket: Socket, options: ConnectionOptions, registry: ConnectionRegistry) {
    this.socket = socket;
    this.options = options;
    this.limits = options.limits;
    this.registry = registry;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    this.body = new RequestBodyReader(socket, options.limits, this);
    this.writer = new ResponseWriter(this, socket, options);
    socket.setNoDelay(true);
    socket.on('data', this.onSocketData);
    socket.on('error', this.onSocketError);
    socket.on('close', () => this.onSocketClose());
    socket.on('end', this.onSocketEnd);
    this.setDeadline('headers', options.limits.headersTimeoutMs);
    options.observer?.onConnectionOpen?.(this);
  }

  private readonly onSocketData = (chunk: Buffer): void => this.onData(chunk);
  private readonly onSocketError = (): void => this.destroy();
  private readonly onSocketEnd = (): void => this.onPeerEnd();

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

  /** True when nothing is in progress, so shutdown may close the connection at once. */
  get isIdle(): boolean {
    return this.exchange === null && this.input === null && this.state !== 'body';
  }

  /** Finish what is in progress, then close (graceful shutdown). */
  closeWhenIdle(): void {
    this.shutdownAsked = true;
    if (this.state === 'upgraded') {
      this.socket.end();
      return;
    }
    if (!this.isIdle) return;
    if (this.requestsServed > 0) {
      this.endSocket();
      return;
    }
    // Not yet asked is not idle between requests: a client that has just connected is about to ask, so
    // its request is answered (with Connection: close) if it starts within a short grace. A connection
    // opened only in case (a browser's preconnect) does not hold the shutdown any longer than that.
    const remaining = this.deadline - Date.now();
    if (remaining > SHUTDOWN_FIRST_REQUEST_GRACE_MS)
      this.setDeadline('keep-alive', SHUTDOWN_FIRST_REQUEST_GRACE_MS);
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
    this.onSocketClose();
  }

  /** Called by the listener's sweep when `deadline` has passed. */
  onDeadline(): void {
    const kind = this.deadlineKind;
    this.deadline = 0;
    this.deadlineKind = 'none';
    if (kind === 'headers' && this.input !== null && this.exchange === null) {
      this.sendProtocolError(
        new ProtocolError(
          'HEADERS_TIMEOUT',
          `the request head did not arrive within ${this.limits.headersTimeoutMs} ms`,
        ),
      );
      return;
    }
    if (kind === 'body' && this.exchange !== null && !this.exchange.answered) {
      const stalled = new ProtocolError(
        'BODY_TIMEOUT',
        `the request body stalled for ${this.limits.bodyTimeoutMs} ms`,
      );
      this.exchange.bodyFailure = stalled;
      this.body.failStream(stalled);
      this.answerWithError(this.exchange, stalled);
      return;
    }
    this.destroy();
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

  private setDeadline(kind: DeadlineKind, ms: number): void {
    this.deadlineKind = kind;
    this.deadline = Date.now() + ms;
  }

  private clearDeadline(): void {
    this.deadlineKind = 'none';
    this.deadline = 0;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.input = this.input === null ? chunk : Buffer.concat([this.input, chunk]);
    this.runPump();
  }

  /** Runs the read loop, then flushes the responses of a pipelined batch in one write. */
  private runPump(): void {
    this.pump();
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
  }

  private onPeerEnd(): void {
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
  private pump(): void {
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
  private limitBufferedInput(): void {
    const bound = this.limits.maxRequestLineBytes + this.limits.maxHeaderBytes;
    if (this.input !== null && this.input.length > bound && !this.pausedForInput) {
      this.pausedForInput = true;
      this.socket.pause();
    }
  }

  private readNextHead(): boolean {
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

  private dispatch(head: RequestHead): void {
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
  private consumeBody(): boolean {
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
  private bodyCannotComplete(): void {
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

  private onBodyError(error: ProtocolError): void {
    this.state = 'answering';
    this.input = null;
    this.body.fail(error);
    const exchange = this.exchange;
    if (exchange !== null) exchange.bodyFailure = error;
    if (exchange !== null && !exchange.answered) this.answerWithError(exchange, error);
    else if (exchange === null) this.destroy();
    else exchange.close = true;
  }

  /**
   * Answers at once with an error, without reading a request (the listener's 503 for a connection over
   * the limit): the same rendering and observers as any other answer, but no lingering close — the socket
   * is destroyed once the answer is written, or after `flushMs`, so refused connections hold no descriptor.
   */
  refuse(status: number, message: string, headers: Readonly<Record<string, string>>, flushMs: number): void {
    this.closeOnceWritten = true;
    this.closeFlushMs = flushMs;
    const exchange = newExchange(null, true);
    this.exchange = exchange;
    this.state = 'answering';
    const rendered = this.writer.errorResponse(status, message, null);
    this.respond(exchange, { ...rendered, headers: { ...rendered.headers, ...headers } });
  }

  private sendProtocolError(error: ProtocolError): void {
    const exchange = newExchange(null, true);
    this.exchange = exchange;
    this.state = 'answering';
    this.input = null;
    this.answerWithError(exchange, error);
  }

  private answerWithError(exchange: Exchange, error: ProtocolError): void {
    exchange.protocolError = error;
    if (error.closeConnection) exchange.close = true;
    this.respond(exchange, this.writer.errorResponse(error.status, error.message, exchange.head));
  }

  private handlerFailed(exchange: Exchange, error: unknown): void {
    // A handler that fails because the body it was reading broke a framing rule has nothing to report:
    // the wire has answered that error to the client already.
    if (error !== exchange.bodyFailure) {
      this.options.logError(
        error,
        `handler for ${exchange.head?.method ?? '?'} ${exchange.head?.target ?? '?'}`,
      );
    }
    if (exchange !== this.exchange || this.closed) return;
    if (exchange.answered) {
      this.destroy();
      return;
    }
    this.respond(exchange, this.writer.errorResponse(500, HANDLER_FAILED_MESSAGE, exchange.head));
  }

  respond(exchange: Exchange, description: ResponseDescription): void {
    if (exchange !== this.exchange || exchange.answered || this.closed) {
      const body = description.body;
      if (body?.kind === 'stream') body.stream.destroy();
      return;
    }
    if (description.upgrade !== undefined && description.status === 101) {
      this.switchProtocols(exchange, description, description.upgrade);
      return;
    }
    this.writer.write(exchange, description);
  }

  /**
   * Writes the 101 and hands the socket over (RFC 9110 §7.8): the wire stops reading and timing it, and
   * passes on whatever the client sent after the request head. Only a request without content can switch.
   */
  private switchProtocols(
    exchange: Exchange,
    description: ResponseDescription,
    takeOver: NonNullable<ResponseDescription['upgrade']>,
  ): void {
    if (this.state === 'body') {
      this.handlerFailed(exchange, new Error('a request with content cannot switch protocols'));
      return;
    }
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
    try {
      this.writer.writeSwitchingHead(exchange, description);
    } catch (error) {
      this.handlerFailed(exchange, error);
      return;
    }
    const rest = this.input ?? Buffer.alloc(0);
    this.input = null;
    this.state = 'upgraded';
    this.clearDeadline();
    this.socket.off('data', this.onSocketData);
    this.socket.off('end', this.onSocketEnd);
    this.socket.off('error', this.onSocketError);
    // The new owner adds its own error path; until it does, an error must not be uncaught.
    this.socket.on('error', () => {});
    this.finishExchange(exchange);
    if (this.pausedForInput) {
      this.pausedForInput = false;
      this.socket.resume();
    }
    try {
      takeOver(this.socket, rest);
    } catch (error) {
      this.options.logError(error, 'protocol switch');
      this.destroy();
    }
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
  private readyForNextRequest(): void {
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

  private endSocket(): void {
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

  private onSocketClose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearDeadline();
    const exchange = this.exchange;
    this.exchange = null;
    if (exchange?.activeStream) exchange.activeStream.destroy();
    if (this.body.stream !== null) {
      const failure = new Error('client closed the connection');
      if (exchange !== null) exchange.bodyFailure = failure;
      this.body.failStream(failure);
    }
    this.input = null;
    this.registry.remove(this);
    this.options.observer?.onConnectionClose?.(this);
  }
}
