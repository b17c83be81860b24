/**
 * The two shapes every layer above the wire agrees on: a parsed request and a response description.
 * The wire layer produces the first and serialises the second; handlers (files, CGI, adapters) only ever
 * see these, so they never touch a socket.
 * @module
 */
import type { Duplex, Readable } from 'node:stream';

/** The protocol version a request arrived with. */
export type HttpVersion = '1.0' | '1.1' | '2';

/** Request header fields: lower-cased names; repeated fields joined with ", " (RFC 9110 §5.3). */
export type RequestHeaders = Record<string, string>;

/** A request as parsed from the wire (or built by an adapter from another transport). */
export interface HttpRequest {
  /** Method token exactly as sent (methods are case-sensitive, RFC 9110 §9.1). */
  method: string;
  /** The request-target exactly as sent. */
  target: string;
  /** Path part of the target, still percent-encoded; `*` for asterisk-form. */
  path: string;
  /** Query without the leading `?`; empty when absent. */
  query: string;
  /**
   * `1.0`, `1.1`, or `2` for an HTTP/2 stream (`src/http2/serve.ts`). The semantics a handler works with
   * (RFC 9110) are the same on every version; the version says how the exchange travelled.
   */
  version: HttpVersion;
  headers: RequestHeaders;
  /** Field lines in arrival order with their original names (CGI and tracing want them). */
  rawHeaders: ReadonlyArray<readonly [string, string]>;
  /** The request content as a stream, or null when the request has none (or is GET/HEAD). */
  body: Readable | null;
  /** Declared body length, or null when chunked or absent. */
  contentLength: number | null;
  /** Authority the request was addressed to (absolute-form authority, else Host). */
  authority: string;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** True when the connection is TLS. */
  secure: boolean;
  /**
   * The user whose credentials the access check (`--auth`, handlers/auth.ts) verified for this request;
   * absent when none were checked. CGI passes it on as REMOTE_USER (RFC 3875 §4.1.11).
   */
  remoteUser?: string;
}

/** Response header fields as name → value (a list value becomes repeated field lines). */
export type ResponseHeaders = Record<string, string | number | readonly string[]>;

/** Where the bytes of a response come from. */
export type ResponseBody =
  | { readonly kind: 'bytes'; readonly data: Buffer | string }
  /** A stream; `length` (bytes) when known, else the body is sent chunked (1.1) or close-delimited (1.0). */
  | { readonly kind: 'stream'; readonly stream: Readable; readonly length?: number }
  /** Bytes `start`..`end` (inclusive) of a file, read from disk in pieces with backpressure. */
  | { readonly kind: 'file'; readonly path: string; readonly start: number; readonly end: number };

/**
 * What a handler returns, the same for every transport: a status, fields and where the body comes from —
 * never wire bytes. The transport adds `Date`, `Server`, `Connection` and the framing (`Content-Length`,
 * `Transfer-Encoding`, or HTTP/2 frames); a handler's own copies of those are dropped (`response-fields.ts`).
 *
 * A handler that answers the same way many times (the hot-file cache) returns the same *frozen* `headers`
 * object each time: the HTTP/1.1 wire then serialises it once and reuses the bytes.
 */
export interface ResponseDescription {
  status: number;
  /** Reason phrase; defaults to the standard one for the status. */
  reason?: string;
  headers?: ResponseHeaders;
  body?: ResponseBody | null;
  /** Close the connection after this response. */
  close?: boolean;
  /**
   * With status 101 (Switching Protocols, RFC 9110 §15.2.2): called once the 101 head is written, with
   * the connection's socket, which from then on belongs to the callee, and the bytes the client already
   * sent after the request head. The wire adds `Connection: upgrade`; `headers` must name the `Upgrade`.
   * Only docroot's own HTTP/1.1 wire switches protocols; other transports never see an `Upgrade` request.
   */
  upgrade?: (socket: Duplex, head: Buffer) => void;
}

/** The interface every request handler implements: a request in, a description out. */
export type RequestHandler = (request: HttpRequest) => ResponseDescription | Promise<ResponseDescription>;

/** Statuses whose responses never have content (RFC 9110 §6.4.1): 1xx, 204 and 304. */
export function isBodilessStatus(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/** The length of a response body in bytes: 0 when there is none, null when only the stream's end will tell. */
export function responseBodyLength(body: ResponseBody | null | undefined): number | null {
  if (body === null || body === undefined) return 0;
  switch (body.kind) {
    case 'bytes':
      return typeof body.data === 'string' ? Buffer.byteLength(body.data) : body.data.length;
    case 'stream':
      return body.length ?? null;
    case 'file':
      return body.end - body.start + 1;
  }
}
