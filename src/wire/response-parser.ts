/**
 * The response-head parser (RFC 9112 §4, §6.3), for the upstream side of the proxy. It uses the same
 * byte tables and field-line rules as the request parser, and is as strict: a status line that is not
 * `HTTP/1.x NNN reason`, a bare LF, an obs-fold, Content-Length values that differ, or Content-Length
 * together with Transfer-Encoding (the classic smuggling shapes) are errors, never guesses. It never
 * throws on bad input and never copies the buffer.
 * @module
 */
import { CR, HTAB, isHttpToken, LF, SP } from './chars.js';
import { ProtocolError } from './errors.js';
import { agreedContentLength, hasListToken } from './framing.js';
import type { WireLimits } from './limits.js';
import { parseFieldLine } from './parser.js';

/** How the response content is delimited (RFC 9112 §6.3). */
export type ResponseFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  /** Rule 8: no length information, so the content ends when the server closes the connection. */
  | { readonly kind: 'close' };

export interface ResponseHead {
  version: '1.0' | '1.1';
  status: number;
  reason: string;
  /** Lower-cased names; repeats joined with ", " (Set-Cookie too: use `rawHeaders` to forward it). */
  headers: Record<string, string>;
  rawHeaders: Array<readonly [string, string]>;
  framing: ResponseFraming;
  /** Whether the connection may carry another request after this response (RFC 9112 §9.3). */
  keepAlive: boolean;
}

export type ResponseHeadParseResult =
  | { readonly kind: 'partial'; readonly scanned: number }
  | { readonly kind: 'complete'; readonly head: ResponseHead; readonly consumed: number }
  /** `reason` says in one line which rule the upstream broke. */
  | { readonly kind: 'error'; readonly reason: string };

const NO_BODY: ResponseFraming = Object.freeze({ kind: 'none' });
const CHUNKED: ResponseFraming = Object.freeze({ kind: 'chunked' });
const UNTIL_CLOSE: ResponseFraming = Object.freeze({ kind: 'close' });
const HEAD_TERMINATOR = Buffer.from('\r\n\r\n', 'latin1');
/** `HTTP/1.1 200` is the shortest status line (RFC 9112 §4: the reason phrase may be empty). */
const MIN_STATUS_LINE_BYTES = 12;
/** Status codes are three digits; RFC 9110 §15 defines the classes 1xx to 5xx only. */
const MIN_STATUS = 100;
const MAX_STATUS = 599;

function fail(reason: string): ResponseHeadParseResult {
  return { kind: 'error', reason };
}

/**
 * Parses one response head starting at `buf[0]`, for a request whose method was `requestMethod` (a
 * response to HEAD never has content, RFC 9110 §9.3.2). `scanFrom` is the previous `partial` answer's
 * `scanned`, so that a trickled head is not rescanned.
 */
export function parseResponseHead(
  buf: Buffer,
  limits: WireLimits,
  requestMethod: string,
  scanFrom = 0,
): ResponseHeadParseResult {
  const end = buf.indexOf(HEAD_TERMINATOR, Math.max(0, scanFrom - 3));
  if (end === -1) {
    for (let i = Math.max(0, scanFrom); i < buf.length; i++) {
      if (buf[i] === LF && (i === 0 || buf[i - 1] !== CR))
        return fail('a line of the response head ends in a bare LF');
    }
    if (buf.length > limits.maxRequestLineBytes + limits.maxHeaderBytes) {
      return fail(
        `the response head is larger than ${limits.maxRequestLineBytes + limits.maxHeaderBytes} bytes`,
      );
    }
    return { kind: 'partial', scanned: buf.length };
  }
  const consumed = end + 4;
  const linesEnd = end + 2;
  const statusLineEnd = buf.indexOf(LF);
  if (statusLineEnd === 0 || buf[statusLineEnd - 1] !== CR)
    return fail('the status line does not end in CRLF');
  if (statusLineEnd - 1 > limits.maxRequestLineBytes) {
    return fail(`the status line is longer than ${limits.maxRequestLineBytes} bytes`);
  }
  const line = parseStatusLine(buf, statusLineEnd - 1);
  if (typeof line === 'string') return fail(line);

  const headers: Record<string, string> = Object.create(null);
  const rawHeaders: Array<readonly [string, string]> = [];
  const contentLengths: string[] = [];
  const transferEncodings: string[] = [];
  let pos = statusLineEnd + 1;
  let lineNumber = 1;
  while (pos < linesEnd) {
    lineNumber++;
    const lf = buf.indexOf(LF, pos);
    if (lf === -1 || lf >= linesEnd) break;
    if (lf === pos || buf[lf - 1] !== CR) return fail(`response header line ${lineNumber} ends in a bare LF`);
    const lineEnd = lf - 1;
    if (lineEnd === pos) break;
    if (lf + 1 - statusLineEnd > limits.maxHeaderBytes) {
      return fail(`the response header section is larger than ${limits.maxHeaderBytes} bytes`);
    }
    if (rawHeaders.length >= limits.maxHeaderCount) {
      return fail(`the response has more than ${limits.maxHeaderCount} header fields`);
    }
    const field = parseFieldLine(buf, pos, lineEnd, lineNumber, buf.toString('latin1', pos, lineEnd), pos);
    if (field instanceof ProtocolError) return fail(`the response's ${field.message}`);
    rawHeaders.push(field);
    const key = field[0].toLowerCase();
    if (key === 'content-length') contentLengths.push(field[1]);
    else if (key === 'transfer-encoding') transferEncodings.push(field[1]);
    const previous = headers[key];
    headers[key] = previous === undefined ? field[1] : `${previous}, ${field[1]}`;
    pos = lf + 1;
  }

  const framing = decideResponseFraming(
    line.version,
    line.status,
    requestMethod,
    contentLengths,
    transferEncodings,
  );
  if (typeof framing === 'string') return fail(framing);
  let keepAlive = line.version === '1.1';
  const connection = headers.connection?.toLowerCase();
  if (connection !== undefined) {
    if (hasListToken(connection, 'close')) keepAlive = false;
    else if (line.version === '1.0' && hasListToken(connection, 'keep-alive')) keepAlive = true;
  }
  if (framing.kind === 'close') keepAlive = false;
  const head: ResponseHead = {
    version: line.version,
    status: line.status,
    reason: line.reason,
    headers,
    rawHeaders,
    framing,
    keepAlive,
  };
  return { kind: 'complete', head, consumed };
}

interface StatusLine {
  version: '1.0' | '1.1';
  status: number;
  reason: string;
}

/** status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4). */
function parseStatusLine(buf: Buffer, end: number): StatusLine | string {
  if (end < MIN_STATUS_LINE_BYTES || buf.toString('latin1', 0, 7) !== 'HTTP/1.' || buf[8] !== SP) {
    return 'the status line is not of the form "HTTP/1.x NNN reason"';
  }
  const minor = buf[7];
  if (minor !== 0x30 && minor !== 0x31) return 'the response is not HTTP/1.0 or HTTP/1.1';
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) return 'the status code is not three digits';
    status = status * 10 + (c - 0x30);
  }
  if (status < MIN_STATUS || status > MAX_STATUS) return `the status code ${status} is outside 100-599`;
  // The SP before an empty reason phrase is often left out; nothing can be smuggled through that.
  if (end > 12 && buf[12] !== SP) return 'the status code is not followed by a space';
  for (let i = 13; i < end; i++) {
    const c = buf[i]!;
    if (c !== HTAB && (c < 0x20 || c === 0x7f)) return 'the reason phrase has a control character';
  }
  return {
    version: minor === 0x31 ? '1.1' : '1.0',
    status,
    reason: end > 13 ? buf.toString('latin1', 13, end) : '',
  };
}

/** RFC 9112 §6.3 for responses; every ambiguity is an error, as for requests. */
function decideResponseFraming(
  version: '1.0' | '1.1',
  status: number,
  requestMethod: string,
  contentLengths: string[],
  transferEncodings: string[],
): ResponseFraming | string {
  if (transferEncodings.length > 0 && contentLengths.length > 0) {
    return 'the response has both Transfer-Encoding and Content-Length (RFC 9112 §6.3)';
  }
  // Rule 1: HEAD, 1xx, 204 and 304 responses end at the head, whatever their fields say.
  if (requestMethod === 'HEAD' || status < 200 || status === 204 || status === 304) return NO_BODY;
  if (transferEncodings.length > 0) {
    if (version === '1.0') return 'an HTTP/1.0 response cannot use Transfer-Encoding (RFC 9112 §6.1)';
    const codings: string[] = [];
    for (const value of transferEncodings) {
      for (const part of value.split(',')) {
        const coding = part.trim().toLowerCase();
        if (coding.length > 0) codings.push(coding);
      }
    }
    if (codings.length !== 1 || codings[0] !== 'chunked') {
      return codings.every(isHttpToken)
        ? `the response's transfer coding "${codings.join(', ')}" is not supported (only chunked)`
        : 'the Transfer-Encoding field of the response is not a list of tokens';
    }
    return CHUNKED;
  }
  if (contentLengths.length > 0) {
    const n = agreedContentLength(contentLengths);
    if (typeof n !== 'number') {
      return n.fault === 'not-a-number'
        ? `the response's Content-Length "${n.value}" is not a decimal number`
        : n.fault === 'too-large'
          ? "the response's Content-Length is too large"
          : 'the response has Content-Length values that differ';
    }
    return n === 0 ? NO_BODY : { kind: 'length', length: n };
  }
  return UNTIL_CLOSE;
}
