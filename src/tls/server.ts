/**
 * HTTPS on docroot's own wire: a `tls.Server` whose decrypted sockets go to the same connection code as
 * plain TCP ones. `node:tls` is loaded on first use with a synchronous require, so a plain-HTTP start-up
 * never pays for it and `createServer` stays synchronous.
 * @module
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';

/** A certificate and key (PEM), or a development certificate made at start-up. */
export type TlsOptions =
  | { cert: string | Buffer; key: string | Buffer; passphrase?: string }
  | { selfSigned: true };

/** ALPN (RFC 7301) without HTTP/2: only what docroot's own wire speaks. */
export const ALPN_PROTOCOLS: readonly string[] = ['http/1.1'];
/** ALPN with HTTP/2 first, the server's preference (RFC 9113 §3.2); h2 sockets go to `http2/serve.ts`. */
export const ALPN_PROTOCOLS_WITH_H2: readonly string[] = ['h2', 'http/1.1'];

const requireBuiltin = createRequire(import.meta.url);

export interface TlsListenerOptions {
  tls: TlsOptions;
  /** A handshake not finished within this is dropped (the wire's own deadlines start after it). */
  handshakeTimeoutMs: number;
  /** Protocols offered in ALPN. @default ALPN_PROTOCOLS */
  alpnProtocols?: readonly string[];
  logError(error: unknown, context: string): void;
}

/**
 * A `tls.Server` that hands each established connection to `onConnection`. With `selfSigned` it has no
 * certificate until `setSecureContext` is called (see `createServer().listen()`).
 */
export function createTlsListener(
  options: TlsListenerOptions,
  onConnection: (socket: Socket) => void,
): TlsServer {
  const tls = requireBuiltin('node:tls') as typeof import('node:tls');
  const material =
    'cert' in options.tls
      ? {
          cert: options.tls.cert,
          key: options.tls.key,
          ...(options.tls.passphrase !== undefined ? { passphrase: options.tls.passphrase } : {}),
        }
      : {};
  const server = tls.createServer(
    {
      ...material,
      ALPNProtocols: [...(options.alpnProtocols ?? ALPN_PROTOCOLS)],
      handshakeTimeout: options.handshakeTimeoutMs,
    },
    onConnection,
  );
  answerPlainHttp(server, options.handshakeTimeoutMs);
  // A failed handshake (an untrusted certificate, a scanner) concerns that one socket only: say why in the
  // log and drop it.
  server.on('tlsClientError', (error: Error, socket) => {
    options.logError(
      describeHandshakeError(error),
      `TLS handshake with ${socket.remoteAddress ?? 'a client'}`,
    );
    socket.destroy();
  });
  return server;
}

/** The first byte of every TLS connection: a handshake record (RFC 8446 §5.1, ContentType 22). */
const TLS_HANDSHAKE_RECORD = 0x16;
/** How long the refusal of a plain-HTTP request may take to flush while the client's bytes are drained. */
const PLAIN_HTTP_LINGER_MS = 2000;

/** Whether a first byte starts an HTTP/1.x request line (methods are upper-case tokens in practice). */
function startsPlainHttp(byte: number): boolean {
  return byte >= 0x41 && byte <= 0x5a;
}

/**
 * Plain HTTP sent to the HTTPS port gets a 400 saying so, then the connection closes (as nginx and Go do),
 * instead of a silently dropped handshake. The first bytes of each connection are looked at before the
 * TLS layer takes the socket; anything that is not plain HTTP goes on to TLS with those bytes put back.
 */
function answerPlainHttp(server: TlsServer, sniffTimeoutMs: number): void {
  const startTls = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    socket.setTimeout(sniffTimeoutMs, () => socket.destroy());
    socket.once('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      if (first[0] !== TLS_HANDSHAKE_RECORD && startsPlainHttp(first[0] ?? 0)) {
        refusePlainHttp(socket);
        return;
      }
      socket.unshift(first);
      for (const listener of startTls) listener.call(server, socket);
    });
  });
}

function refusePlainHttp(socket: Socket): void {
  const body = '400 Bad Request: this port speaks HTTPS, and the request came as plain HTTP; use https://\n';
  socket.end(
    'HTTP/1.1 400 Bad Request\r\n' +
      `Date: ${new Date().toUTCString()}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
  // Read and drop what the client still sends, so our close does not reset the answer away (RFC 9112 §9.6).
  socket.resume();
  setTimeout(() => socket.destroy(), PLAIN_HTTP_LINGER_MS).unref();
}

/** One line for the log (OpenSSL messages carry a file and line number nobody needs). */
export function describeHandshakeError(error: Error): string {
  const { code, reason } = error as Error & { code?: string; reason?: string };
  if (code === 'ERR_SSL_HTTP_REQUEST') return 'the client sent plain HTTP to the HTTPS port; dropped';
  if (code === 'ECONNRESET') return 'the client hung up during the handshake';
  if (code === 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN' || code === 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA')
    return 'the client does not trust the certificate';
  return reason ?? error.message.split('\n')[0] ?? 'handshake failed';
}
