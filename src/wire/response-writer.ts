/**
 * Writing a `ResponseDescription` to an HTTP/1.1 socket: the head (status line, cached `Date`, `Server`,
 * the handler's checked fields, framing and connection management, RFC 9112 §6 and §9.6) and the body,
 * in one write when it is small, piped with backpressure (`body-pipe.ts`) when it is a stream or a file.
 * @module
 */
import type { Socket } from 'node:net';
import { pipeBody } from './body-pipe.js';
import { clockNow } from './clock.js';
import { type ErrorRenderer, INVALID_RESPONSE_MESSAGE, renderErrorSafely } from './error-response.js';
import type { Exchange } from './exchange.js';
import { FILE_OPEN_FAILED_MESSAGE, type FileBody, openFileBody } from './file-body.js';
import {
  isBodilessStatus,
  type ResponseBody,
  type ResponseDescription,
  responseBodyLength,
} from './message.js';
import type { ObservedConnection, WireObserver } from './observer.js';
import type { RequestHead } from './parser.js';
import {
  dateFieldLine,
  frozenFieldBlock,
  serializeFields,
  statusAndDateBytes,
  statusLine,
} from './serialize.js';

/** Bodies up to this size are copied into the same buffer as the head, so the response is one write. */
const SINGLE_WRITE_MAX_BYTES = 64 * 1024;
const CONTINUE_LINE = 'HTTP/1.1 100 Continue\r\n\r\n';
/** Complete keep-alive responses of frozen field blocks, valid for the second their Date names. */
const wholeResponses = new WeakMap<
  Buffer,
  { second: number; status: number; body: Buffer | null; bytes: Buffer }
>();
const CONNECTION_CLOSE = Buffer.from('Connection: close\r\n', 'latin1');
const CONNECTION_KEEP_ALIVE = Buffer.from('Connection: keep-alive\r\n', 'latin1');

export interface ResponseWriterOptions {
  /** `Server: …\r\n`, built once. */
  serverFieldLine: string;
  /** Where handler failures and stream errors are reported (never to the client). */
  logError(error: unknown, context: string): void;
  observer?: WireObserver | undefined;
  /** Makes the body of an error response; the default is one plain-text line. */
  renderError?: ErrorRenderer | undefined;
}

/** The connection a writer writes for: what it asks before writing, and what it reports when done. */
export interface ResponseHost extends ObservedConnection {
  /** Graceful shutdown asked for: every answer from now on closes the connection. */
  readonly closeAfterResponse: boolean;
  /** The connection is closing or closed: nothing more goes out. */
  readonly closed: boolean;
  /** `exchange` is the one in progress, not answered yet, on an open connection. */
  isAnswerable(exchange: Exchange): boolean;
  /** Answers `exchange` if it still may be (the entry point, which also switches protocols for a 101). */
  respond(exchange: Exchange, description: ResponseDescription): void;
  /** The response is written completely. */
  finishExchange(exchange: Exchange): void;
  destroy(): void;
  /** A write waits for the client to read: time it with the send deadline. */
  armSendDeadline(): void;
  /** The client read: the send deadline, if armed, is over. */
  clearSendDeadline(): void;
}

/** One per connection: writes the answers of its exchanges, one at a time, in request order. */
export class ResponseWriter {
  private readonly host: ResponseHost;
  private readonly socket: Socket;
  private readonly options: ResponseWriterOptions;

  constructor(host: ResponseHost, socket: Socket, options: ResponseWriterOptions) {
    this.host = host;
    this.socket = socket;
    this.options = options;
  }

  /** Writes the answer to `exchange`, which the host has checked may still be answered. */
  write(exchange: Exchange, description: ResponseDescription): void {
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
    this.options.observer?.onResponseHead?.(
      this.host,
      head,
      body,
      exchange.head,
      exchange.protocolError?.code,
    );
    const status = description.status;
    const sendsBody = !exchange.isHead && !isBodilessStatus(status);

    if (body === null || body.kind === 'bytes') {
      let data: Buffer | null = null;
      if (body !== null && sendsBody)
        data = typeof body.data === 'string' ? Buffer.from(body.data) : body.data;
      this.writeHeadAndBytes(head, data);
      exchange.bytesSent = data === null ? 0 : data.length;
      this.host.finishExchange(exchange);
      return;
    }
    // A stream body.
    if (!sendsBody) {
      body.stream.destroy();
      this.socket.write(head, 'latin1');
      this.host.finishExchange(exchange);
      return;
    }
    this.socket.write(head, 'latin1');
    pipeBody(
      this.host,
      this.socket,
      this.options,
      exchange,
      body.stream,
      body.length,
      body.length === undefined && exchange.version === '1.1',
    );
  }

  /** `100 Continue`: the client that asked may now send the content (RFC 9110 §10.1.1). */
  writeContinue(request: RequestHead | null): void {
    this.socket.write(CONTINUE_LINE, 'latin1');
    this.options.observer?.onResponseHead?.(this.host, CONTINUE_LINE, null, request);
  }

  /** Writes the `101` head of a protocol switch; throws, writing nothing, when a field is invalid. */
  writeSwitchingHead(exchange: Exchange, description: ResponseDescription): void {
    const head = `${statusLine(101, description.reason)}${dateFieldLine()}${this.options.serverFieldLine}${serializeFields(description.headers)}Connection: upgrade\r\n\r\n`;
    exchange.answered = true;
    exchange.status = 101;
    this.options.observer?.onResponseHead?.(this.host, head, null, exchange.head);
    this.socket.write(head, 'latin1');
  }

  errorResponse(status: number, message: string, head: RequestHead | null): ResponseDescription {
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
    if (!this.host.isAnswerable(exchange)) return;
    this.host.respond(exchange, this.errorResponse(500, INVALID_RESPONSE_MESSAGE, exchange.head));
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
    if (description.close === true || this.host.closeAfterResponse) exchange.close = true;
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
    const second = Math.floor(clockNow() / 1000);
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
        this.host.finishExchange(exchange);
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
      observer.onResponseHead(
        this.host,
        out.toString('latin1', 0, headLength),
        description.body,
        exchange.head,
        exchange.protocolError?.code,
      );
    }
    this.socket.write(out);
    exchange.bytesSent = bodyBytes === null ? 0 : bodyBytes.length;
    this.host.finishExchange(exchange);
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
      this.options.observer?.onResponseHead?.(this.host, head, body, exchange.head);
      this.socket.write(head, 'latin1');
      this.host.finishExchange(exchange);
      return;
    }
    openFileBody(body, (opened) => {
      if (!this.host.isAnswerable(exchange)) {
        if (opened.kind === 'open') opened.stream.destroy();
        return;
      }
      if (opened.kind === 'error') {
        this.options.logError(opened.error, `opening ${body.path}`);
        this.host.respond(
          exchange,
          this.errorResponse(opened.status, FILE_OPEN_FAILED_MESSAGE, exchange.head),
        );
        return;
      }
      this.host.respond(exchange, {
        ...description,
        body: { kind: 'stream', stream: opened.stream, length },
      });
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
    if (description.close === true || this.host.closeAfterResponse) exchange.close = true;
    const connection = exchange.close
      ? 'Connection: close\r\n'
      : exchange.version === '1.0'
        ? 'Connection: keep-alive\r\n'
        : '';
    exchange.status = status;
    const line = statusLine(status, description.reason);
    return `${line}${dateFieldLine(clockNow())}${this.options.serverFieldLine}${serializeFields(description.headers)}${framing}${connection}\r\n`;
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
}
