/**
 * One HTTP/1.1 connection: bytes in, requests out to the handler, responses back in request order.
 *
 * The connection reads one request at a time (RFC 9112 §9.3.2 lets a server process pipelined requests
 * sequentially): it parses a head, hands the request to the handler, streams the request body to it (or
 * discards it), writes the response, and only then parses the next head from what is already buffered.
 * Deadlines are plain numbers checked by the listener's sweep, so a request costs no timer allocation.
 * @module
 */
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { type BodyDecoder, ChunkedDecoder, ContentLengthDecoder } from './body.js';
import {
  type ErrorRenderer,
  HANDLER_FAILED_MESSAGE,
  INVALID_RESPONSE_MESSAGE,
  renderErrorSafely,
} from './error-response.js';
import { ProtocolError, type ProtocolErrorCode } from './errors.js';
import { FILE_OPEN_FAILED_MESSAGE, type FileBody, openFileBody } from './file-body.js';
import type { WireLimits } from './limits.js';
import {
  type HttpRequest,
  isBodilessStatus,
  type RequestHandler,
  type ResponseBody,
  type ResponseDescription,
  responseBodyLength,
} from './message.js';
import { parseRequestHead, type RequestHead } from './parser.js';
import {
  dateFieldLine,
  frozenFieldBlock,
  serializeFields,
  statusAndDateBytes,
  statusLine,
} from './serialize.js';

/** Bodies up to this size are copied into the same buffer as the head, so the response is one write. */
const SINGLE_WRITE_MAX_BYTES = 64 * 1024;
/** How long a closed connection may take to flush its last response and linger before it is destroyed. */
const CLOSE_FLUSH_MS = 5_000;
const CONTINUE_LINE = 'HTTP/1.1 100 Continue\r\n\r\n';
/** Complete keep-alive responses of frozen field blocks, valid for the second their Date names. */
const wholeResponses = new WeakMap<
  Buffer,
  { second: number; status: number; body: Buffer | null; bytes: Buffer }
>();
const CONNECTION_CLOSE = Buffer.from('Connection: close\r\n', 'latin1');
const CONNECTION_KEEP_ALIVE = Buffer.from('Connection: keep-alive\r\n', 'latin1');

export type DeadlineKind = 'none' | 'headers' | 'keep-alive' | 'body' | 'send' | 'closing';

/** What the connection reports about each finished exchange (access logs, tracing). */
/** At shutdown, how long a connection that has not sent any request yet may take to start one. */
export const SHUTDOWN_FIRST_REQUEST_GRACE_MS = 1000;

export interface ExchangeRecord {
  request: RequestHead | null;
  status: number;
  /** Body bytes written (not counting the head). */
  bytesSent: number;
  /** This exchange's place on its HTTP/1.x connection (1 for the first); above 1 is keep-alive reuse. */
  sequence?: number;
  startedAt: number;
  finishedAt: number;
  remoteAddress: string;
  /** The protocol error the wire answered this exchange with, if it was one (tests and traces read it). */
  errorCode?: ProtocolErrorCode;
  /** Set for exchanges on an HTTP/2 stream (the `request` head then has `version: '2'`). */
  protocol?: 'HTTP/2';
}

/**
 * What an observer sees of a connection, whichever transport carries it: docroot's HTTP/1.1 `Connection`,
 * or an HTTP/2 session (`protocol: 'HTTP/2'`), whose streams are its exchanges.
 */
export interface ObservedConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Exchanges completed on this connection so far. */
  readonly requestsServed: number;
  readonly protocol?: 'HTTP/2';
}

/**
 * Optional observers of every transport; all calls are skipped when unset.
 *
 * On HTTP/1.1 `raw` is the head's bytes and `head` the response head as sent. On HTTP/2 there are no
 * such bytes (HPACK): `raw` and `head` are the decoded field lines, pseudo-header fields (`:method`,
 * `:status`, RFC 9113 §8.3) first, each line ending in LF, and the request head carries `streamId`.
 */
export interface WireObserver {
  onConnectionOpen?(connection: ObservedConnection): void;
  onConnectionClose?(connection: ObservedConnection): void;
  onRequestHead?(connection: ObservedConnection, head: RequestHead, raw: Buffer): void;
  /** `request` is the head this answers, or null for an answer to bytes that were never a request. */
  onResponseHead?(
    connection: ObservedConnection,
    head: string,
    body: ResponseBody | null | undefined,
    request: RequestHead | null,
  ): void;
  onExchange?(record: ExchangeRecord): void;
}

export interface ConnectionOptions {
  limits: WireLimits;
  handler: RequestHandler;
  /** `Server: …\r\n`, built once. */
  serverFieldLine: string;
  secure: boolean;
  /** Where handler failures and stream errors are reported (never to the client). */
  logError(error: unknown, context: string): void;
  observer?: WireObserver | undefined;
  /** Makes the body of an error response; the default is one plain-text line. */
  renderError?: ErrorRenderer | undefined;
}

export interface ConnectionRegistry {
  remove(connection: Connection): void;
}

interface Exchange {
  head: RequestHead | null;
  isHead: boolean;
  version: '1.0' | '1.1';
  close: boolean;
  answered: boolean;
  startedAt: number;
  status: number;
  bytesSent: number;
  activeStream: Readable | null;
  /** The protocol error the wire answered with (the client's fault). */
  protocolError: ProtocolError | null;
  /**
   * What the request body failed with because of the client (a broken framing rule, a stall, a client
   * that left). The wire has dealt with it, so a handler failing with it is no server error to log.
   */
  bodyFailure: Error | null;
}

/** A new exchange for a parsed head, or for an error answered before any head could be parsed. */
function newExchange(head: RequestHead | null, close: boolean): Exchange {
  return {
    head,
    isHead: head !== null && head.method === 'HEAD',
    version: head === null || head.version !== '1.0' ? '1.1' : '1.0',
    close,
    answered: false,
    startedAt: Date.now(),
    status: 0,
    bytesSent: 0,
    activeStream: null,
    protocolError: null,
    bodyFailure: null,
  };
}

/** The request content as a Readable that pulls from the socket (backpressure both ways). */
class RequestBodyStream extends Readable {
  private readonly connection: Connection;

  constructor(connection: Connection) {
    super({ highWaterMark: 64 * 1024 });
    this.connection = connection;
    // A handler may attach its listeners only after an await (a stat, a lookup); a client that leaves
    // mid-upload before then must not become an uncaught 'error' that takes the whole server down.
    // Listeners attached later still see the error via `errored`/`finished()`.
    this.on('error', () => {});
  }

  override _read(): void {
    this.connection.onBodyWanted();
  }
}

export class Connection {
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
  private closed = false;
  private input: Buffer | null = null;
  private scanned = 0;
  private readingBody = false;
  private decoder: BodyDecoder | null = null;
  private bodyStream: RequestBodyStream | null = null;
  private continuePending = false;
  private discarded = 0;
  private exchange: Exchange | null = null;
  private pumping = false;
  private waitingDrain = false;
  private pausedForBody = false;
  private pausedForInput = false;
  /** Set by graceful shutdown: finish the current exchange, then close. */
  private closeAfterResponse = false;
  /** The client half-closed: everything it sent is in, so no partial head or body can ever complete. */
  private peerEnded = false;
  private removedFromRegistry = false;
  private corked = false;
  /** Destroy as soon as the last answer is written instead of lingering (a refused connection). */
  private closeOnceWritten = false;
  private closeFlushMs = CLOSE_FLUSH_MS;
  /** The socket was handed over after a 101; it stays registered (counted, closed on shutdown) until it closes. */
  private upgraded = false;

  constructor(socket: Socket, options: ConnectionOptions, registry: ConnectionRegistry) {
    this.socket = socket;
    this.options = options;
    this.limits = options.limits;
    this.registry = registry;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
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
    return this.exchange === null && this.input === null && !this.readingBody;
  }

  /** Finish what is in progress, then close (graceful shutdown). */
  closeWhenIdle(): void {
    this.closeAfterResponse = true;
    if (this.upgraded) {
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
      this.exchange.bodyFailure = new Error('request body timed out');
      this.bodyStream?.destroy(this.exchange.bodyFailure);
      this.bodyStream = null;
      this.answerWithError(
        this.exchange,
        new ProtocolError('HEADERS_TIMEOUT', `the request body stalled for ${this.limits.bodyTimeoutMs} ms`),
      );
      return;
    }
    this.destroy();
  }

  /** The handler wants more body bytes: let the client send them. */
  onBodyWanted(): void {
    if (this.continuePending && this.exchange !== null && !this.exchange.answered) {
      this.continuePending = false;
      this.socket.write(CONTINUE_LINE, 'latin1');
      this.options.observer?.onResponseHead?.(this, CONTINUE_LINE, null, this.exchange.head);
    }
    if (this.pausedForBody) {
      this.pausedForBody = false;
      this.socket.resume();
    }
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
    if (this.readingBody) {
      this.bodyCannotComplete();
      return;
    }
    if (this.exchange === null && !this.waitingDrain) this.runPump();
  }

  /** Runs the read loop until it has to wait for bytes, a response, or the socket to drain. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed) {
        if (this.readingBody) {
          if (!this.consumeBody()) break;
          continue;
        }
        if (this.exchange !== null || this.waitingDrain) {
          this.limitBufferedInput();
          break;
        }
        if (this.input === null) {
          if (this.closeAfterResponse || this.peerEnded) this.endSocket();
          else if (this.requestsServed > 0) this.setDeadline('keep-alive', this.limits.keepAliveTimeoutMs);
          break;
        }
        if (!this.readNextHead()) break;
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
    const exchange = newExchange(head, !head.keepAlive || this.closeAfterResponse);
    this.exchange = exchange;

    let body: RequestBodyStream | null = null;
    if (head.framing.kind !== 'none') {
      this.decoder =
        head.framing.kind === 'length'
          ? new ContentLengthDecoder(head.framing.length)
          : new ChunkedDecoder(this.limits);
      this.readingBody = true;
      this.discarded = 0;
      // Content on GET and HEAD has no defined semantics (RFC 9110 §9.3.1): read it and drop it.
      if (head.method !== 'GET' && head.method !== 'HEAD') {
        body = new RequestBodyStream(this);
        this.bodyStream = body;
        this.continuePending = head.expectContinue;
      }
    }

    const request: HttpRequest = {
      method: head.method,
      target: head.target,
      path: head.path,
      query: head.query,
      version: head.version,
      headers: head.headers,
      rawHeaders: head.rawHeaders,
      body,
      contentLength: head.framing.kind === 'length' ? head.framing.length : null,
      authority: head.authority,
      remoteAddress: this.remoteAddress,
      remotePort: this.remotePort,
      localAddress: this.localAddress,
      localPort: this.localPort,
      secure: this.options.secure,
    };

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
    const result = this.decoder!.decode(input, this.onBodyData);
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
    this.readingBody = false;
    this.decoder = null;
    this.continuePending = false;
    if (this.bodyStream !== null) {
      this.bodyStream.push(null);
      this.bodyStream = null;
    }
    this.clearDeadline();
    return true;
  }

  private readonly onBodyData = (data: Buffer): void => {
    if (this.bodyStream !== null) {
      if (!this.bodyStream.push(data) && !this.pausedForBody) {
        this.pausedForBody = true;
        this.socket.pause();
      }
      return;
    }
    this.discarded += data.length;
    if (this.discarded > this.limits.maxDiscardBytes) {
      // Reading a large unwanted body costs more than a new connection does.
      if (this.exchange === null) this.destroy();
      else if (this.exchange !== null) this.exchange.close = true;
    }
  };

  /** The client half-closed inside a body: it can never complete. */
  private bodyCannotComplete(): void {
    const exchange = this.exchange;
    if (exchange === null) {
      // Already answered; only the discarded rest is missing.
      this.readingBody = false;
      this.endSocket();
    } else if (exchange.answered) {
      exchange.close = true;
    } else {
      this.destroy();
    }
  }

  private onBodyError(error: ProtocolError): void {
    this.readingBody = false;
    this.decoder = null;
    this.input = null;
    if (this.bodyStream !== null) {
      this.bodyStream.destroy(error);
      this.bodyStream = null;
    }
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
    const rendered = this.errorResponse(status, message, null);
    this.respond(exchange, { ...rendered, headers: { ...rendered.headers, ...headers } });
  }

  private sendProtocolError(error: ProtocolError): void {
    const exchange = newExchange(null, true);
    this.exchange = exchange;
    this.input = null;
    this.answerWithError(exchange, error);
  }

  private answerWithError(exchange: Exchange, error: ProtocolError): void {
    exchange.protocolError = error;
    if (error.closeConnection) exchange.close = true;
    this.respond(exchange, this.errorResponse(error.status, error.message, exchange.head));
  }

  private errorResponse(status: number, message: string, head: RequestHead | null): ResponseDescription {
    return renderErrorSafely(
      this.options.renderError,
      status,
      message,
      head?.headers.accept,
      this.options.logError,
    );
  }

  /** A handler's answer that cannot be serialised (a field with CR/LF): a 500 of our own instead. */
  private responseInvalid(exchange: Exchange, error: unknown): void {
    this.options.logError(
      error,
      `response for ${exchange.head?.method ?? '?'} ${exchange.head?.target ?? '?'}`,
    );
    if (exchange !== this.exchange || this.closed || exchange.answered) return;
    this.respond(exchange, this.errorResponse(500, INVALID_RESPONSE_MESSAGE, exchange.head));
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
    this.respond(exchange, this.errorResponse(500, HANDLER_FAILED_MESSAGE, exchange.head));
  }

  private respond(exchange: Exchange, description: ResponseDescription): void {
    if (exchange !== this.exchange || exchange.answered || this.closed) {
      const body = description.body;
      if (body?.kind === 'stream') body.stream.destroy();
      return;
    }
    if (description.upgrade !== undefined && description.status === 101) {
      this.switchProtocols(exchange, description, description.upgrade);
      return;
    }
    const body = description.body ?? null;
    const headers = description.headers;
    if (
      headers !== undefined &&
      (body === null || body.kind === 'bytes') &&
      description.reason === undefined &&
      Object.isFrozen(headers)
    ) {
      this.respondFrozen(exchange, description, headers, body);
      return;
    }
    if (body !== null && body.kind === 'file') {
      this.respondWithFile(exchange, description, body);
      return;
    }
    let head: string;
    try {
      head = this.buildHead(exchange, description, responseBodyLength(body));
    } catch (error) {
      if (body?.kind === 'stream') body.stream.destroy();
      this.responseInvalid(exchange, error);
      return;
    }
    exchange.answered = true;
    this.options.observer?.onResponseHead?.(this, head, body, exchange.head);
    const status = description.status;
    const sendsBody = !exchange.isHead && !isBodilessStatus(status);

    if (body === null || body.kind === 'bytes') {
      let data: Buffer | null = null;
      if (body !== null && sendsBody)
        data = typeof body.data === 'string' ? Buffer.from(body.data) : body.data;
      this.writeHeadAndBytes(head, data);
      exchange.bytesSent = data === null ? 0 : data.length;
      this.finishExchange(exchange);
      return;
    }
    // A stream body.
    if (!sendsBody) {
      body.stream.destroy();
      this.socket.write(head, 'latin1');
      this.finishExchange(exchange);
      return;
    }
    this.socket.write(head, 'latin1');
    this.pipeBody(
      exchange,
      body.stream,
      body.length,
      body.length === undefined && exchange.version === '1.1',
    );
  }

  /**
   * The hot path for cached files: a handler that returns the same frozen fields object for the same
   * answer gets its fields serialised once (`frozenFieldBlock`); the status line and Date (prebuilt once
   * a second), that block and the body are copied into one buffer and written once.
   */
  private respondFrozen(
    exchange: Exchange,
    description: ResponseDescription,
    headers: ResponseDescription['headers'] & object,
    body: Extract<ResponseBody, { kind: 'bytes' }> | null,
  ): void {
    const status = description.status;
    const data = body === null ? null : body.data;
    let block: Buffer;
    try {
      const length = isBodilessStatus(status)
        ? null
        : data === null
          ? 0
          : typeof data === 'string'
            ? Buffer.byteLength(data)
            : data.length;
      block = frozenFieldBlock(headers, this.options.serverFieldLine, length);
    } catch (error) {
      this.responseInvalid(exchange, error);
      return;
    }
    exchange.answered = true;
    exchange.status = status;
    if (description.close === true || this.closeAfterResponse) exchange.close = true;
    const connection = exchange.close
      ? CONNECTION_CLOSE
      : exchange.version === '1.0'
        ? CONNECTION_KEEP_ALIVE
        : null;
    const bodyBytes =
      exchange.isHead || isBodilessStatus(status) || data === null || data.length === 0
        ? null
        : typeof data === 'string'
          ? Buffer.from(data)
          : data;
    const observer = this.options.observer;
    // The commonest answers of all (a keep-alive GET of a hot file, a browser's 304 for it) are the same
    // bytes for a whole second.
    const second = Math.floor(Date.now() / 1000);
    if (connection === null && observer?.onResponseHead === undefined) {
      const whole = wholeResponses.get(block);
      if (
        whole !== undefined &&
        whole.second === second &&
        whole.status === status &&
        whole.body === bodyBytes
      ) {
        this.socket.write(whole.bytes);
        exchange.bytesSent = bodyBytes === null ? 0 : bodyBytes.length;
        this.finishExchange(exchange);
        return;
      }
    }
    const prefix = statusAndDateBytes(status, second * 1000);
    const headLength = prefix.length + block.length + (connection === null ? 0 : connection.length) + 2;
    const out = Buffer.allocUnsafe(headLength + (bodyBytes === null ? 0 : bodyBytes.length));
    let offset = prefix.copy(out, 0);
    offset += block.copy(out, offset);
    if (connection !== null) offset += connection.copy(out, offset);
    out[offset++] = 0x0d;
    out[offset++] = 0x0a;
    if (bodyBytes !== null) bodyBytes.copy(out, offset);
    if (connection === null) wholeResponses.set(block, { second, status, body: bodyBytes, bytes: out });
    if (observer?.onResponseHead !== undefined) {
      observer.onResponseHead(this, out.toString('latin1', 0, headLength), description.body, exchange.head);
    }
    this.socket.write(out);
    exchange.bytesSent = bodyBytes === null ? 0 : bodyBytes.length;
    this.finishExchange(exchange);
  }

  private respondWithFile(exchange: Exchange, description: ResponseDescription, body: FileBody): void {
    const length = body.end - body.start + 1;
    const sendsBody = !exchange.isHead && !isBodilessStatus(description.status) && length > 0;
    if (!sendsBody) {
      // HEAD still advertises the length a GET would get (RFC 9110 §9.3.2), without opening the file.
      let head: string;
      try {
        head = this.buildHead(exchange, description, length);
      } catch (error) {
        this.responseInvalid(exchange, error);
        return;
      }
      exchange.answered = true;
      this.options.observer?.onResponseHead?.(this, head, body, exchange.head);
      this.socket.write(head, 'latin1');
      this.finishExchange(exchange);
      return;
    }
    openFileBody(body, (opened) => {
      if (exchange !== this.exchange || this.closed || exchange.answered) {
        if (opened.kind === 'open') opened.stream.destroy();
        return;
      }
      if (opened.kind === 'error') {
        this.options.logError(opened.error, `opening ${body.path}`);
        this.respond(exchange, this.errorResponse(opened.status, FILE_OPEN_FAILED_MESSAGE, exchange.head));
        return;
      }
      this.respond(exchange, { ...description, body: { kind: 'stream', stream: opened.stream, length } });
    });
  }

  private buildHead(exchange: Exchange, description: ResponseDescription, length: number | null): string {
    const status = description.status;
    let framing = '';
    if (!isBodilessStatus(status)) {
      if (length !== null) framing = `Content-Length: ${length}\r\n`;
      else if (exchange.version === '1.1' && !exchange.isHead) framing = 'Transfer-Encoding: chunked\r\n';
      // A close-delimited body is the only way to send unknown length to HTTP/1.0 (RFC 9112 §6.3 rule 8).
      else if (!exchange.isHead) exchange.close = true;
    }
    if (description.close === true || this.closeAfterResponse) exchange.close = true;
    const connection = exchange.close
      ? 'Connection: close\r\n'
      : exchange.version === '1.0'
        ? 'Connection: keep-alive\r\n'
        : '';
    exchange.status = status;
    const line = statusLine(status, description.reason);
    return `${line}${dateFieldLine()}${this.options.serverFieldLine}${serializeFields(description.headers)}${framing}${connection}\r\n`;
  }

  private writeHeadAndBytes(head: string, data: Buffer | null): void {
    if (data === null || data.length === 0) {
      this.socket.write(head, 'latin1');
      return;
    }
    if (data.length <= SINGLE_WRITE_MAX_BYTES) {
      const headLength = head.length;
      const out = Buffer.allocUnsafe(headLength + data.length);
      out.write(head, 0, headLength, 'latin1');
      data.copy(out, headLength);
      this.socket.write(out);
      return;
    }
    this.socket.cork();
    this.socket.write(head, 'latin1');
    this.socket.write(data);
    this.socket.uncork();
  }

  /** Streams a body with backpressure; a body that ends short of its declared length closes the connection. */
  private pipeBody(
    exchange: Exchange,
    stream: Readable,
    expected: number | undefined,
    chunked: boolean,
  ): void {
    const socket = this.socket;
    exchange.activeStream = stream;
    let sent = 0;
    const onDrain = () => {
      if (this.deadlineKind === 'send') this.clearDeadline();
      stream.resume();
    };
    stream.on('data', (chunk: Buffer | string) => {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (data.length === 0 || this.closed) return;
      if (expected !== undefined && sent + data.length > expected) {
        this.options.logError(
          new Error(`body is longer than its declared ${expected} bytes`),
          'response body',
        );
        stream.destroy();
        this.destroy();
        return;
      }
      sent += data.length;
      exchange.bytesSent = sent;
      let writable: boolean;
      if (chunked) {
        socket.cork();
        socket.write(`${data.length.toString(16)}\r\n`, 'latin1');
        socket.write(data);
        writable = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else {
        writable = socket.write(data);
      }
      if (!writable) {
        stream.pause();
        this.setDeadline('send', this.limits.bodyTimeoutMs);
        socket.once('drain', onDrain);
      }
    });
    stream.once('end', () => {
      exchange.activeStream = null;
      if (this.closed) return;
      if (expected !== undefined && sent !== expected) {
        // The source shrank under us (a file truncated while being sent): the framing is broken.
        this.options.logError(new Error(`body ended after ${sent} of ${expected} bytes`), 'response body');
        this.destroy();
        return;
      }
      if (chunked) socket.write('0\r\n\r\n', 'latin1');
      this.finishExchange(exchange);
    });
    stream.on('error', (error) => {
      exchange.activeStream = null;
      this.options.logError(error, 'response body stream');
      this.destroy();
    });
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
    if (this.readingBody) {
      this.handlerFailed(exchange, new Error('a request with content cannot switch protocols'));
      return;
    }
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
    let head: string;
    try {
      head = `${statusLine(101, description.reason)}${dateFieldLine()}${this.options.serverFieldLine}${serializeFields(description.headers)}Connection: upgrade\r\n\r\n`;
    } catch (error) {
      this.handlerFailed(exchange, error);
      return;
    }
    exchange.answered = true;
    exchange.status = 101;
    this.options.observer?.onResponseHead?.(this, head, null, exchange.head);
    this.socket.write(head, 'latin1');
    const rest = this.input ?? Buffer.alloc(0);
    this.input = null;
    this.upgraded = true;
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

  private finishExchange(exchange: Exchange): void {
    if (this.exchange !== exchange) return;
    this.exchange = null;
    this.requestsServed++;
    this.options.observer?.onExchange?.({
      request: exchange.head,
      status: exchange.status,
      bytesSent: exchange.bytesSent,
      sequence: this.requestsServed,
      startedAt: exchange.startedAt,
      finishedAt: Date.now(),
      remoteAddress: this.remoteAddress,
      ...(exchange.protocolError === null ? {} : { errorCode: exchange.protocolError.code }),
    });
    if (this.readingBody) {
      // The handler answered without reading all of the body.
      if (this.bodyStream !== null) {
        this.bodyStream.destroy();
        this.bodyStream = null;
      }
      // The rest of the body is now discarded, so a socket paused for the handler's stream must read again.
      if (this.pausedForBody) {
        this.pausedForBody = false;
        this.socket.resume();
      }
      // A client still waiting for 100 Continue will never send the body we would have to skip.
      if (this.continuePending) exchange.close = true;
    }
    if (this.upgraded) return;
    if (exchange.close || this.closeAfterResponse) {
      this.endSocket();
      return;
    }
    if (this.pausedForInput) {
      this.pausedForInput = false;
      this.socket.resume();
    }
    if (this.socket.writableNeedDrain) {
      // Do not answer further pipelined requests for a client that is not reading the answers.
      this.waitingDrain = true;
      this.setDeadline('send', this.limits.bodyTimeoutMs);
      this.socket.once('drain', () => {
        this.waitingDrain = false;
        if (this.deadlineKind === 'send') this.clearDeadline();
        // runPump, not pump: the next pipelined head corks the socket again, and only runPump uncorks.
        this.runPump();
      });
      return;
    }
    if (!this.pumping) this.runPump();
  }

  private endSocket(): void {
    if (this.closed) return;
    this.closed = true;
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
    this.closed = true;
    this.clearDeadline();
    const exchange = this.exchange;
    this.exchange = null;
    if (exchange?.activeStream) exchange.activeStream.destroy();
    if (this.bodyStream !== null) {
      const failure = new Error('client closed the connection');
      if (exchange !== null) exchange.bodyFailure = failure;
      this.bodyStream.destroy(failure);
      this.bodyStream = null;
    }
    this.input = null;
    if (this.removedFromRegistry) return;
    this.removedFromRegistry = true;
    this.registry.remove(this);
    this.options.observer?.onConnectionClose?.(this);
  }
}
