/**
 * An upstream response's content as a Readable that pulls from the upstream socket: reading resumes the
 * socket, and a reader that stops before the end closes the connection (it can carry nothing else).
 * @module
 */
import { Readable } from 'node:stream';

/** The connection the body is read from. */
export interface BodySource {
  /** The reader wants more: resume the socket if it was paused for the reader. */
  resumeReading(): void;
  destroy(): void;
}

/** The response content as a Readable that pulls from the upstream socket. */
export class UpstreamBody extends Readable {
  private readonly connection: BodySource;
  complete = false;

  constructor(connection: BodySource) {
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
