/**
 * Protocol errors as data: a stable code, the status it maps to, and a one-line reason that names the
 * rule that was broken. The reason goes to the client verbatim, so it never contains server internals.
 * @module
 */

export const PROTOCOL_ERROR = {
  BAD_REQUEST_LINE: 400,
  BAD_METHOD: 400,
  BAD_TARGET: 400,
  BAD_VERSION: 400,
  UNSUPPORTED_VERSION: 505,
  REQUEST_LINE_TOO_LONG: 414,
  BAD_HEADER: 400,
  HEADERS_TOO_LARGE: 431,
  MISSING_HOST: 400,
  BAD_HOST: 400,
  BAD_CONTENT_LENGTH: 400,
  BAD_TRANSFER_ENCODING: 400,
  UNSUPPORTED_TRANSFER_CODING: 501,
  BAD_CHUNK: 400,
  BODY_TOO_LARGE: 413,
  BAD_EXPECTATION: 417,
  HEADERS_TIMEOUT: 408,
  /** The content stopped arriving for `bodyTimeoutMs` (RFC 9110 §15.5.9). */
  BODY_TIMEOUT: 408,
} as const;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERROR;

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly status: number;
  /** Framing errors leave the byte stream in an unknown state, so the connection must close after them. */
  readonly closeConnection: boolean;

  constructor(code: ProtocolErrorCode, reason: string, closeConnection = true) {
    super(reason);
    this.name = 'ProtocolError';
    this.code = code;
    this.status = PROTOCOL_ERROR[code];
    this.closeConnection = closeConnection;
  }
}
