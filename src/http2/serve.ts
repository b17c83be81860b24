/**
 * HTTP/2 (RFC 9113) for clients that pick `h2` in the TLS handshake (ALPN, RFC 7301). The TLS listener
 * hands such sockets here; `node:http2` does the framing, HPACK and flow control, and each stream is
 * turned into the same transport-free `HttpRequest` the HTTP/1.1 wire builds, so conditional requests,
 * ranges, compression, listings and errors behave exactly alike. Loaded only when TLS is on. This module
 * owns the sessions and the stream bounds; `stream.ts` is a stream in, `respond.ts` a stream out and
 * `observe.ts` what observers see.
 * @module
 */
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { DEFAULT_MAX_OPEN_STREAMS } from '../defaults.js';
import type { ErrorRenderer } from '../wire/error-response.js';
import type { WireLimits } from '../wire/limits.js';
import type { RequestHandler } from '../wire/message.js';
import type { WireObserver } from '../wire/observer.js';
import { observeSession } from './observe.js';
import { noteSessionProgress } from './send-guard.js';
import { serveStream } from './stream.js';

export interface Http2ServingOptions {
  handler: RequestHandler;
  serverSoftware: string;
  limits: WireLimits;
  logError(error: unknown, context: string): void;
  /** Renders the errors this transport answers itself (server.ts passes the handlers' renderer). */
  renderError?: ErrorRenderer;
  /**
   * Sees HTTP/2 as it sees HTTP/1.1: a session is a connection (`protocol: 'HTTP/2'`), each stream an
   * exchange with its request and response heads (decoded field lines) and its `onExchange` record.
   */
  observer?: WireObserver;
  /** Streams open at once over all sessions; further ones are refused (REFUSED_STREAM). @default 1000 */
  maxOpenStreams?: number;
}

export interface Http2Serving {
  /** Takes over a TLS socket whose ALPN protocol is `h2`. */
  accept(socket: Socket): void;
  /** Open HTTP/2 connections (sessions). */
  readonly sessionCount: number;
  /** Open streams over all sessions. */
  readonly streamCount: number;
  /** GOAWAY to every session (open streams finish), then destroy what is left after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** Streams a client may have open at once on one connection (RFC 9113 §6.5.2 suggests at least 100). */
const MAX_CONCURRENT_STREAMS = 100;

/**
 * Streams open at once over all connections: each may hold an open file and a few read buffers until its
 * send timeout, so this bounds descriptors and memory whatever the number of connections.
 */
export { DEFAULT_MAX_OPEN_STREAMS };

/**
 * Streams every connection may open even when the total bound is reached, so that clients filling it
 * cannot lock others out; the total stays bounded by this times the connections (--max-connections).
 */
const STREAMS_ALWAYS_ALLOWED_PER_SESSION = 4;
export function createHttp2Serving(options: Http2ServingOptions): Http2Serving {
  const sessions = new Set<http2.ServerHttp2Session>();
  const maxOpenStreams = options.maxOpenStreams ?? DEFAULT_MAX_OPEN_STREAMS;
  let openTotal = 0;
  const ownStreams = new WeakMap<http2.Http2Session, number>();
  const server = http2.createServer({
    settings: {
      maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
      // The same bound on the header section as the HTTP/1.1 wire's (431 there, a refused stream here).
      maxHeaderListSize: options.limits.maxHeaderBytes,
    },
  });
  // A connection with no frames for keepAliveTimeoutMs (at least headersTimeoutMs, so a slow header block
  // is not cut short) and no open stream is closed with GOAWAY, as an idle HTTP/1.1 connection would be.
  // One with open streams is left to the streams' own timeouts (a long-lived event stream is not idle).
  const idleMs = Math.max(options.limits.keepAliveTimeoutMs, options.limits.headersTimeoutMs);
  const openStreams = new WeakMap<http2.ServerHttp2Session, number>();
  server.setTimeout(idleMs);
  server.on('timeout', (session: http2.ServerHttp2Session) => {
    if ((openStreams.get(session) ?? 0) === 0) session.close();
  });
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    noteSessionProgress(session);
    openStreams.set(session, 0);
    if (options.observer !== undefined) observeSession(session, options.observer);
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      openStreams.set(session, (openStreams.get(session) ?? 0) + 1);
      stream.once('close', () => openStreams.set(session, (openStreams.get(session) ?? 1) - 1));
    });
    session.once('close', () => sessions.delete(session));
    session.on('error', (error) => options.logError(error, 'HTTP/2 connection'));
  });
  server.on(
    'stream',
    (
      stream: http2.ServerHttp2Stream,
      headers: http2.IncomingHttpHeaders,
      _flags: number,
      rawHeaders: string[] | undefined,
    ) => {
      const session = stream.session;
      const own = session === undefined ? 0 : (ownStreams.get(session) ?? 0);
      if (openTotal >= maxOpenStreams && own >= STREAMS_ALWAYS_ALLOWED_PER_SESSION) {
        // RFC 9113 §8.7: a refused stream was not processed and may be retried.
        stream.on('error', () => {});
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      openTotal++;
      if (session !== undefined) ownStreams.set(session, own + 1);
      stream.once('close', () => {
        openTotal--;
        if (session !== undefined) ownStreams.set(session, (ownStreams.get(session) ?? 1) - 1);
      });
      serveStream(stream, headers, rawHeaders, options);
    },
  );
  server.on('sessionError', () => {});
  return {
    accept(socket) {
      // An http2 server without TLS of its own accepts an already-decrypted TLS socket as a connection.
      server.emit('connection', socket);
    },
    get sessionCount() {
      return sessions.size;
    },
    get streamCount() {
      return openTotal;
    },
    close(graceMs) {
      return new Promise((resolve) => {
        if (sessions.size === 0) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          for (const session of sessions) session.destroy();
        }, graceMs);
        timer.unref();
        let open = sessions.size;
        for (const session of sessions) {
          session.once('close', () => {
            if (--open === 0) {
              clearTimeout(timer);
              resolve();
            }
          });
          session.close();
        }
      });
    },
  };
}
