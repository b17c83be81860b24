/**
 * One HTTP/1.1 connection: bytes in, requests out to the handler, responses back in request order.
 *
 * The connection reads one request at a time (RFC 9112 §9.3.2 lets a server process pipelined requests
 * sequentially): it parses a head, hands the request to the handler, streams the request body to it (or
 * discards it), has the response written, and only then parses the next head from what is already
 * buffered. That loop is `ReadLoop` (`read-loop.ts`), which this class extends; the content is read by
 * `request-body.ts`, the answer written by `response-writer.ts`. This class is what the listener holds:
 * the socket's events, shutdown, deadlines that expire, protocol errors and failed handlers answered, the
 * listener's refusal, and the 101 handover.
 * Deadlines are plain numbers checked by the listener's sweep, so a request costs no timer allocation.
 * @module
 */
import type { Socket } from 'node:net';
import { HANDLER_FAILED_MESSAGE } from './error-response.js';
import { ProtocolError } from './errors.js';
import { type Exchange, newExchange } from './exchange.js';
import type { ResponseDescription } from './message.js';
import { type ConnectionOptions, ReadLoop } from './read-loop.js';

export type { ConnectionOptions, DeadlineKind, ReadState } from './read-loop.js';

/** At shutdown, how long a connection that has not sent any request yet may take to start one. */
export const SHUTDOWN_FIRST_REQUEST_GRACE_MS = 1000;

export interface ConnectionRegistry {
  remove(connection: Connection): void;
}

export class Connection extends ReadLoop {
  private readonly registry: ConnectionRegistry;

  constructor(socket: Socket, options: ConnectionOptions, registry: ConnectionRegistry) {
    super(socket, options);
    this.registry = registry;
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

  protected sendProtocolError(error: ProtocolError): void {
    const exchange = newExchange(null, true);
    this.exchange = exchange;
    this.state = 'answering';
    this.input = null;
    this.answerWithError(exchange, error);
  }

  protected answerWithError(exchange: Exchange, error: ProtocolError): void {
    exchange.protocolError = error;
    if (error.closeConnection) exchange.close = true;
    this.respond(exchange, this.writer.errorResponse(error.status, error.message, exchange.head));
  }

  protected handlerFailed(exchange: Exchange, error: unknown): void {
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
