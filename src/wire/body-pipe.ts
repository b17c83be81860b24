/**
 * A stream body on an HTTP/1.1 socket: piped with backpressure (a full socket pauses the source and arms
 * the send deadline), chunked when its length is unknown on HTTP/1.1, and checked against the length the
 * head declared: a body that runs long or ends short breaks the framing, so the connection is destroyed.
 * @module
 */
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Exchange } from './exchange.js';
import type { ResponseHost, ResponseWriterOptions } from './response-writer.js';

/** Streams a body with backpressure; a body that ends short of its declared length closes the connection. */
export function pipeBody(
  host: ResponseHost,
  socket: Socket,
  options: Pick<ResponseWriterOptions, 'logError'>,
  exchange: Exchange,
  stream: Readable,
  expected: number | undefined,
  chunked: boolean,
): void {
  exchange.activeStream = stream;
  let sent = 0;
  const onDrain = () => {
    host.clearSendDeadline();
    stream.resume();
  };
  stream.on('data', (chunk: Buffer | string) => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (data.length === 0 || host.closed) return;
    if (expected !== undefined && sent + data.length > expected) {
      options.logError(new Error(`body is longer than its declared ${expected} bytes`), 'response body');
      stream.destroy();
      host.destroy();
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
      host.armSendDeadline();
      socket.once('drain', onDrain);
    }
  });
  stream.once('end', () => {
    exchange.activeStream = null;
    if (host.closed) return;
    if (expected !== undefined && sent !== expected) {
      // The source shrank under us (a file truncated while being sent): the framing is broken.
      options.logError(new Error(`body ended after ${sent} of ${expected} bytes`), 'response body');
      host.destroy();
      return;
    }
    if (chunked) socket.write('0\r\n\r\n', 'latin1');
    host.finishExchange(exchange);
  });
  stream.on('error', (error) => {
    exchange.activeStream = null;
    options.logError(error, 'response body stream');
    host.destroy();
  });
}
