/**
 * A proxied request on its way to the upstream: the head as docroot writes it (the caller's field lines
 * plus our own framing), and the client's body re-framed and streamed with backpressure from the socket.
 * @module
 */
import type net from 'node:net';
import type { Readable } from 'node:stream';
import type { UpstreamRequest } from './upstream.js';

/** The request head: request line, the caller's fields, framing decided here, and the upgrade's Connection. */
export function requestHead(request: UpstreamRequest): string {
  let framing = '';
  if (request.body !== null) {
    framing =
      request.bodyLength !== null
        ? `Content-Length: ${request.bodyLength}\r\n`
        : 'Transfer-Encoding: chunked\r\n';
    if (request.expectContinue) framing += 'Expect: 100-continue\r\n';
  } else if (request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH') {
    // RFC 9110 §8.6: a request that could have content but has none says so.
    framing = 'Content-Length: 0\r\n';
  }
  return `${request.method} ${request.target} HTTP/1.1\r\n${request.fields}${framing}${request.upgrade ? 'Connection: upgrade\r\n' : ''}\r\n`;
}

/** How the body's journey ends, as the connection sees it. */
export interface BodyPipeEvents {
  /** The connection is over: nothing more is written. */
  closed(): boolean;
  /** The whole body (and, chunked, its last chunk) was written. */
  sent(): void;
  /** The client's body broke or ended early. */
  failed(): void;
}

/** Streams the client's body to the upstream, chunked when its length is unknown, pausing while the socket is full. */
export function pipeRequestBody(
  body: Readable,
  socket: net.Socket,
  chunked: boolean,
  events: BodyPipeEvents,
): void {
  body.on('data', (chunk: Buffer) => {
    if (events.closed() || chunk.length === 0) return;
    let writable: boolean;
    if (chunked) {
      socket.cork();
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      writable = socket.write('\r\n', 'latin1');
      socket.uncork();
    } else writable = socket.write(chunk);
    if (!writable) {
      body.pause();
      socket.once('drain', () => body.resume());
    }
  });
  body.once('end', () => {
    if (events.closed()) return;
    if (chunked) socket.write('0\r\n\r\n', 'latin1');
    events.sent();
  });
  body.once('error', () => events.failed());
}
