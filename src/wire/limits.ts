/**
 * Every bound the wire layer enforces, with where it comes from. All are options of `createServer`.
 * @module
 */
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_CHUNK_LINE_BYTES,
  DEFAULT_MAX_DISCARD_BYTES,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_HEADER_COUNT,
  DEFAULT_MAX_REQUEST_LINE_BYTES,
} from '../defaults.js';

export interface WireLimits {
  /**
   * Longest request line, without its CRLF (414 beyond). RFC 9112 §3 recommends supporting at least
   * 8000 octets.
   * @default 8192
   */
  maxRequestLineBytes: number;
  /** Longest header section (field lines and CRLFs, not the request line); 431 beyond (RFC 6585 §5). @default 16384 */
  maxHeaderBytes: number;
  /** Most header field lines; 431 beyond (RFC 6585 §5). @default 100 */
  maxHeaderCount: number;
  /** Largest request body accepted; 413 beyond (RFC 9110 §15.5.14). @default 16 MiB */
  maxBodyBytes: number;
  /** Longest chunk-size line including extensions (RFC 9112 §7.1.1 leaves it to the server). @default 4096 */
  maxChunkLineBytes: number;
  /** Milliseconds from a request's first byte until its head is complete; 408 after (RFC 9110 §15.5.9). @default 20000 */
  headersTimeoutMs: number;
  /** Milliseconds an idle keep-alive connection is kept (RFC 9112 §9.5 lets a server close idle ones). @default 5000 */
  keepAliveTimeoutMs: number;
  /** Milliseconds a request body may stall between bytes before the connection is dropped. @default 30000 */
  bodyTimeoutMs: number;
  /** Bytes of a request body the server reads and throws away so that the connection can be reused. @default 1 MiB */
  maxDiscardBytes: number;
}

export const DEFAULT_LIMITS: Readonly<WireLimits> = Object.freeze({
  maxRequestLineBytes: DEFAULT_MAX_REQUEST_LINE_BYTES,
  maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
  maxHeaderCount: DEFAULT_MAX_HEADER_COUNT,
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  maxChunkLineBytes: DEFAULT_MAX_CHUNK_LINE_BYTES,
  headersTimeoutMs: DEFAULT_HEADERS_TIMEOUT_MS,
  keepAliveTimeoutMs: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  bodyTimeoutMs: DEFAULT_BODY_TIMEOUT_MS,
  maxDiscardBytes: DEFAULT_MAX_DISCARD_BYTES,
});
