/**
 * A request's content on an HTTP/1.1 connection: the decoder for its framing (RFC 9112 §6), and either
 * the `Readable` the handler reads it from, with backpressure both ways (a full stream pauses the socket,
 * the handler's next read resumes it), or, for content nobody wants, a bounded read-and-drop.
 * @module
 */
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { type BodyDecodeResult, type BodyDecoder, ChunkedDecoder, ContentLengthDecoder } from './body.js';
import type { WireLimits } from './limits.js';
import type { RequestHead } from './parser.js';

/** How much request content the handler's stream buffers before the socket is paused. */
const REQUEST_BODY_HIGH_WATER_BYTES = 64 * 1024;

/** What the connection does about events of the body it is reading. */
export interface RequestBodyHost {
  /** The handler asked for content: the moment to send `100 Continue` if the client waits for it. */
  onBodyWanted(): void;
  /** More unwanted content arrived than `maxDiscardBytes` (reading it costs more than a new connection). */
  onDiscardLimit(): void;
}

/** The request content as a Readable that pulls from the socket (backpressure both ways). */
export class RequestBodyStream extends Readable {
  private readonly host: RequestBodyHost;

  constructor(host: RequestBodyHost) {
    super({ highWaterMark: REQUEST_BODY_HIGH_WATER_BYTES });
    this.host = host;
    // A handler may attach its listeners only after an await (a stat, a lookup); a client that leaves
    // mid-upload before then must not become an uncaught 'error' that takes the whole server down.
    // Listeners attached later still see the error via `errored`/`finished()`.
    this.on('error', () => {});
  }

  override _read(): void {
    this.host.onBodyWanted();
  }
}

/** Reads the content of one request at a time off a connection's input; one per connection. */
export class RequestBodyReader {
  /** The stream the handler reads, or null when the content is read and dropped. */
  stream: RequestBodyStream | null = null;
  /** The client sent `Expect: 100-continue` and has not been told to go on yet. */
  continuePending = false;
  private decoder: BodyDecoder | null = null;
  private discarded = 0;
  /** The socket is paused because the handler's stream is full. */
  private pausedSocket = false;
  private readonly socket: Socket;
  private readonly limits: WireLimits;
  private readonly host: RequestBodyHost;

  constructor(socket: Socket, limits: WireLimits, host: RequestBodyHost) {
    this.socket = socket;
    this.limits = limits;
    this.host = host;
  }

  /**
   * Starts reading the content `head` announces. Content on GET and HEAD has no defined semantics
   * (RFC 9110 §9.3.1): it is read and dropped, and the handler gets no stream (null).
   */
  start(head: RequestHead): RequestBodyStream | null {
    const framing = head.framing;
    this.decoder =
      framing.kind === 'length' ? new ContentLengthDecoder(framing.length) : new ChunkedDecoder(this.limits);
    this.discarded = 0;
    if (head.method === 'GET' || head.method === 'HEAD') return null;
    this.stream = new RequestBodyStream(this.host);
    this.continuePending = head.expectContinue;
    return this.stream;
  }

  /** Decodes what `input` holds of the content, handing it to the stream or dropping it. */
  decode(input: Buffer): BodyDecodeResult {
    return this.decoder!.decode(input, this.onData);
  }

  /** The content is complete: the handler's stream ends. */
  complete(): void {
    this.decoder = null;
    this.continuePending = false;
    if (this.stream !== null) {
      this.stream.push(null);
      this.stream = null;
    }
    // The last piece may have filled the stream and paused the socket; an ended stream never asks for
    // more, so nothing else would resume it, and the next request on the connection would never be read.
    this.resumeSocket();
  }

  /** The content can never complete: the handler's stream fails with `error`. */
  fail(error: Error): void {
    this.decoder = null;
    this.failStream(error);
  }

  /** Fails only the handler's stream (the rest of the content is still read, or the socket is gone). */
  failStream(error?: Error): void {
    if (this.stream !== null) {
      this.stream.destroy(error);
      this.stream = null;
    }
  }

  /** The handler answered without reading all of the content: the rest is dropped as it arrives. */
  abandon(): void {
    this.failStream();
    // The rest of the body is now discarded, so a socket paused for the handler's stream must read again.
    this.resumeSocket();
  }

  /** Lets the client send more, if the handler's full stream had paused it. */
  resumeSocket(): void {
    if (this.pausedSocket) {
      this.pausedSocket = false;
      this.socket.resume();
    }
  }

  private readonly onData = (data: Buffer): void => {
    if (this.stream !== null) {
      if (!this.stream.push(data) && !this.pausedSocket) {
        this.pausedSocket = true;
        this.socket.pause();
      }
      return;
    }
    this.discarded += data.length;
    if (this.discarded > this.limits.maxDiscardBytes) this.host.onDiscardLimit();
  };
}
