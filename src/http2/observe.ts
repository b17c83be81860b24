/**
 * HTTP/2 as the wire's observers see it: a session is an `ObservedConnection` (`protocol: 'HTTP/2'`),
 * each stream an exchange whose heads are the decoded field lines (pseudo-header fields first) and whose
 * record is reported when the stream closes.
 * @module
 */
import type http2 from 'node:http2';
import type { ProtocolErrorCode } from '../wire/errors.js';
import type { HttpRequest } from '../wire/message.js';
import type { ObservedConnection, WireObserver } from '../wire/observer.js';
import type { RequestHead } from '../wire/parser.js';

/** What is reported to the observer when a stream closes. */
export interface StreamExchange {
  readonly startedAt: number;
  bytesSent: number;
  request: HttpRequest | null;
  /** The request as observers see it (with the stream id). */
  head: RequestHead | null;
  readonly connection: SessionView | null;
  /** Set when the wire's limits, not the handler, decided the answer (as on HTTP/1.1's record). */
  errorCode?: ProtocolErrorCode;
}

/** An HTTP/2 session as observers see a connection. */
export interface SessionView extends ObservedConnection {
  requestsServed: number;
}

export const sessionViews = new WeakMap<http2.Http2Session, SessionView>();

/** Reports a new session to the observer as a connection, and its close. */
export function observeSession(session: http2.ServerHttp2Session, observer: WireObserver): void {
  const socket = session.socket;
  const view: SessionView = {
    remoteAddress: socket?.remoteAddress ?? '',
    remotePort: socket?.remotePort ?? 0,
    localAddress: socket?.localAddress ?? '',
    localPort: socket?.localPort ?? 0,
    requestsServed: 0,
    protocol: 'HTTP/2',
  };
  sessionViews.set(session, view);
  observer.onConnectionOpen?.(view);
  session.once('close', () => observer.onConnectionClose?.(view));
}

/** Per-stream accounting for the observer, keyed by the stream so `respond` and `sendStream` can add to it. */
export const exchanges = new WeakMap<http2.ServerHttp2Stream, StreamExchange>();

/** The request as an observer's head: the HTTP/1.1 parser's shape, with version `2` and the stream id. */
export function observedHead(request: HttpRequest, streamId: number): RequestHead {
  const declared = request.contentLength;
  return {
    method: request.method,
    target: request.target,
    path: request.path,
    query: request.query,
    version: request.version,
    headers: request.headers,
    rawHeaders: [...request.rawHeaders],
    authority: request.authority,
    framing: declared !== null ? { kind: 'length', length: declared } : { kind: 'none' },
    keepAlive: true,
    expectContinue: false,
    streamId,
  };
}

/** The request's field lines as received, pseudo-header fields first, one per LF-ended line. */
export function requestFieldText(
  headers: http2.IncomingHttpHeaders,
  rawHeaders: readonly string[] | undefined,
): string {
  let text = '';
  if (rawHeaders !== undefined) {
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) text += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\n`;
    return text;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) text += `${name}: ${item}\n`;
  }
  return text;
}

/** The response fields as sent, `:status` first, one per LF-ended line. */
export function responseFieldText(fields: http2.OutgoingHttpHeaders): string {
  let text = '';
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) text += `${name}: ${item}\n`;
  }
  return text;
}

export function reportExchange(
  stream: http2.ServerHttp2Stream,
  exchange: StreamExchange,
  observer: WireObserver,
): void {
  const request = exchange.request;
  if (exchange.connection !== null) exchange.connection.requestsServed++;
  if (observer.onExchange === undefined) return;
  const sentStatus = (stream.sentHeaders as http2.OutgoingHttpHeaders | undefined)?.[':status'];
  const socket = stream.session?.socket;
  observer.onExchange({
    request: exchange.head,
    status: sentStatus === undefined ? 0 : Number(sentStatus),
    bytesSent: exchange.bytesSent,
    startedAt: exchange.startedAt,
    finishedAt: Date.now(),
    remoteAddress: request?.remoteAddress ?? socket?.remoteAddress ?? '',
    protocol: 'HTTP/2',
    ...(exchange.errorCode === undefined ? {} : { errorCode: exchange.errorCode }),
  });
}
