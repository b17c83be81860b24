/**
 * One request and its answer on an HTTP/1.x connection: what the read loop and the response writer
 * both know about it while it is in progress.
 * @module
 */
import type { Readable } from 'node:stream';
import { clockNow } from './clock.js';
import type { ProtocolError } from './errors.js';
import type { HttpRequest } from './message.js';
import type { ExchangeRecord, ObservedConnection } from './observer.js';
import type { RequestHead } from './parser.js';

export interface Exchange {
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
export function newExchange(head: RequestHead | null, close: boolean): Exchange {
  return {
    head,
    isHead: head !== null && head.method === 'HEAD',
    version: head === null || head.version !== '1.0' ? '1.1' : '1.0',
    close,
    answered: false,
    startedAt: clockNow(),
    status: 0,
    bytesSent: 0,
    activeStream: null,
    protocolError: null,
    bodyFailure: null,
  };
}

/** The handler's view of a parsed head: the request, its content stream (or null), and both ends. */
export function requestOf(
  head: RequestHead,
  body: HttpRequest['body'],
  connection: ObservedConnection,
  secure: boolean,
): HttpRequest {
  return {
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
    remoteAddress: connection.remoteAddress,
    remotePort: connection.remotePort,
    localAddress: connection.localAddress,
    localPort: connection.localPort,
    secure,
  };
}

/** What observers are told of a finished exchange, the `sequence`th on its connection. */
export function recordOf(exchange: Exchange, sequence: number, remoteAddress: string): ExchangeRecord {
  return {
    request: exchange.head,
    status: exchange.status,
    bytesSent: exchange.bytesSent,
    sequence,
    startedAt: exchange.startedAt,
    finishedAt: clockNow(),
    remoteAddress,
    ...(exchange.protocolError === null ? {} : { errorCode: exchange.protocolError.code }),
  };
}
