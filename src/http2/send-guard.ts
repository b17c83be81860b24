/**
 * Bounded sending on HTTP/2 streams. A client controls how much it receives through flow control (RFC 9113
 * §5.2): one that never opens its window (SETTINGS_INITIAL_WINDOW_SIZE = 0) would hold every stream, its
 * open file and its buffered bytes forever. Here a stream whose bytes have not moved for the send timeout
 * is reset (RST_STREAM CANCEL) and its source (the file) destroyed, as HTTP/1.1 cuts a client that does
 * not read and nginx's `send_timeout` does for both; a session none of whose streams has moved for as
 * long is closed.
 * @module
 */
import http2 from 'node:http2';
import type { Readable } from 'node:stream';

export interface SendGuardOptions {
  /** Milliseconds a stream's pending bytes may stay unsent. */
  sendTimeoutMs: number;
  logError(error: unknown, context: string): void;
  /** Counts bytes handed to the stream (access log). */
  onBytes?: (bytes: number) => void;
}

/** When each session last got response bytes out (any stream). */
const lastProgress = new WeakMap<http2.Http2Session, number>();

/** Marks a session as alive now (a new session has not stalled yet). */
export function noteSessionProgress(session: http2.Http2Session): void {
  lastProgress.set(session, Date.now());
}

/**
 * A watchdog that runs while a write is pending and fires if none completes within the timeout. Writes on
 * an Http2Stream complete only once nghttp2 has sent them, so a flow-control window that never opens
 * keeps them pending.
 */
class SendWatchdog {
  private pending = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly stream: http2.ServerHttp2Stream;
  private readonly options: SendGuardOptions;
  private readonly onStall: () => void;

  constructor(stream: http2.ServerHttp2Stream, options: SendGuardOptions, onStall: () => void) {
    this.stream = stream;
    this.options = options;
    this.onStall = onStall;
    stream.once('close', () => this.stop());
  }

  /** Call before each write; call the returned function from its callback. */
  begin(): (error?: Error | null) => void {
    this.pending++;
    if (this.timer === null) this.arm();
    return (error) => {
      this.pending--;
      if (error) return;
      const session = this.stream.session;
      if (session !== undefined) lastProgress.set(session, Date.now());
      this.stop();
      if (this.pending > 0) this.arm();
    };
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    this.stop();
    this.timer = setTimeout(() => this.fire(), this.options.sendTimeoutMs);
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    const stream = this.stream;
    const session = stream.session;
    this.onStall();
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    if (session === undefined || session.destroyed) return;
    const idleFor = Date.now() - (lastProgress.get(session) ?? 0);
    if (idleFor >= this.options.sendTimeoutMs) {
      // Nothing on this connection has moved for the whole timeout: its other streams are stalled too.
      session.goaway(http2.constants.NGHTTP2_NO_ERROR);
      session.destroy();
    }
  }
}

/**
 * Sends a stream body with backpressure and the send timeout; a failing source resets the stream
 * (RST_STREAM INTERNAL_ERROR, the HTTP/2 way to say "cut"), a closed stream destroys the source.
 */
export function sendGuarded(
  source: Readable,
  stream: http2.ServerHttp2Stream,
  options: SendGuardOptions,
): void {
  const watchdog = new SendWatchdog(stream, options, () => source.destroy());
  const resume = () => source.resume();
  source.on('data', (chunk: Buffer | string) => {
    if (stream.destroyed) return;
    options.onBytes?.(typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length);
    if (!stream.write(chunk, watchdog.begin())) {
      source.pause();
      stream.once('drain', resume);
    }
  });
  source.once('end', () => {
    if (!stream.destroyed) stream.end(watchdog.begin());
  });
  source.on('error', (error) => {
    watchdog.stop();
    if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
      options.logError(error, 'HTTP/2 response body');
    }
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  });
  stream.once('close', () => {
    stream.off('drain', resume);
    if (!source.destroyed) source.destroy();
  });
}

/** Ends a stream with an in-memory body, under the same send timeout. */
export function endGuarded(
  data: Buffer | string,
  stream: http2.ServerHttp2Stream,
  options: SendGuardOptions,
): void {
  const watchdog = new SendWatchdog(stream, options, () => {});
  stream.end(data, watchdog.begin());
}
