/**
 * What the transports report to whoever watches them (`--trace`, `--log`, `--metrics`, tests): the
 * observer hooks, the connection as an observer sees it, and the record of a finished exchange. Types
 * only, so an observer depends on this contract and not on the HTTP/1.1 connection that implements it.
 * @module
 */
import type { ProtocolErrorCode } from './errors.js';
import type { ResponseBody } from './message.js';
import type { RequestHead } from './parser.js';

/** What the connection reports about each finished exchange (access logs, tracing). */
export interface ExchangeRecord {
  request: RequestHead | null;
  status: number;
  /** Body bytes written (not counting the head). */
  bytesSent: number;
  /** This exchange's place on its HTTP/1.x connection (1 for the first); above 1 is keep-alive reuse. */
  sequence?: number;
  startedAt: number;
  finishedAt: number;
  remoteAddress: string;
  /** The protocol error the wire answered this exchange with, if it was one (tests and traces read it). */
  errorCode?: ProtocolErrorCode;
  /** Set for exchanges on an HTTP/2 stream (the `request` head then has `version: '2'`). */
  protocol?: 'HTTP/2';
}

/**
 * What an observer sees of a connection, whichever transport carries it: docroot's HTTP/1.1 `Connection`,
 * or an HTTP/2 session (`protocol: 'HTTP/2'`), whose streams are its exchanges.
 */
export interface ObservedConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Exchanges completed on this connection so far. */
  readonly requestsServed: number;
  readonly protocol?: 'HTTP/2';
}

/**
 * Optional observers of every transport; all calls are skipped when unset.
 *
 * On HTTP/1.1 `raw` is the head's bytes and `head` the response head as sent. On HTTP/2 there are no
 * such bytes (HPACK): `raw` and `head` are the decoded field lines, pseudo-header fields (`:method`,
 * `:status`, RFC 9113 §8.3) first, each line ending in LF, and the request head carries `streamId`.
 */
export interface WireObserver {
  onConnectionOpen?(connection: ObservedConnection): void;
  onConnectionClose?(connection: ObservedConnection): void;
  onRequestHead?(connection: ObservedConnection, head: RequestHead, raw: Buffer): void;
  /**
   * `request` is the head this answers, or null for an answer to bytes that were never a request;
   * `errorCode` is set when the wire answers a protocol error of its own (as in the exchange's record).
   */
  onResponseHead?(
    connection: ObservedConnection,
    head: string,
    body: ResponseBody | null | undefined,
    request: RequestHead | null,
    errorCode?: ProtocolErrorCode,
  ): void;
  onExchange?(record: ExchangeRecord): void;
}
