/**
 * The incremental request-head parser (RFC 9112 §2–§6). It scans the bytes it is given for a complete
 * head, validates every line, and decides how the body is framed. It never throws on bad input and never
 * copies the socket buffer: it answers `partial` (feed me more), `complete` (with the number of bytes the
 * head used) or `error` (with the status and the rule that was broken).
 * @module
 */
import { COLON, CR, HTAB, IS_FIELD_VALUE_BYTE, IS_TARGET_BYTE, IS_TCHAR, LF, SP } from './chars.js';
import { ProtocolError } from './errors.js';
import { FieldLines, lazyFieldPairs, lazyHeaderRecord } from './field-lines.js';
import {
  LINE_SLOTS,
  scanFieldLines,
  scannedFieldLines,
  scannedHeadEnd,
  scannedNameLengths,
} from './field-scan.js';
import {
  CONNECTION,
  CONTENT_LENGTH,
  EXPECT,
  FieldSpans,
  HOST,
  KNOWN_NAME_HASH_BITS,
  TRANSFER_ENCODING,
} from './field-spans.js';
import { type BodyFraming, decideFraming, hasListToken } from './framing.js';
import type { WireLimits } from './limits.js';
import type { HttpVersion } from './message.js';
import { isValidHost, parseTarget } from './target.js';

export type { BodyFraming } from './framing.js';

export interface RequestHead {
  method: string;
  target: string;
  path: string;
  query: string;
  /** `2` only in heads an HTTP/2 stream reports to observers; this parser makes `1.0` and `1.1`. */
  version: HttpVersion;
  /** The HTTP/2 stream identifier (RFC 9113 §5.1.1), in heads an HTTP/2 stream reports to observers. */
  streamId?: number;
  headers: Record<string, string>;
  rawHeaders: Array<readonly [string, string]>;
  authority: string;
  framing: BodyFraming;
  /** Whether the connection may be reused after this exchange (RFC 9112 §9.3). */
  keepAlive: boolean;
  /** The client waits for `100 Continue` before sending the body (RFC 9110 §10.1.1). */
  expectContinue: boolean;
}

export type HeadParseResult =
  | { readonly kind: 'partial'; readonly scanned: number }
  | { readonly kind: 'complete'; readonly head: RequestHead; readonly consumed: number }
  | { readonly kind: 'error'; readonly error: ProtocolError };

const HEAD_TERMINATOR = Buffer.from('\r\n\r\n', 'latin1');

/** Position of the next LF in `buf[from, end)`, or -1; a plain loop beats a native call for short lines. */
function findLF(buf: Buffer, from: number, end: number): number {
  for (let i = from; i < end; i++) if (buf[i] === LF) return i;
  return -1;
}

function fail(error: ProtocolError): HeadParseResult {
  return { kind: 'error', error };
}

/**
 * Parses one request head starting at `buf[0]`. `scanFrom` is the `scanned` value of the previous
 * `partial` answer for the same head, so that a head trickled in byte by byte is not rescanned from the
 * start each time (the slowloris countermeasure picohttpparser calls `last_len`).
 */
export function parseRequestHead(buf: Buffer, limits: WireLimits, scanFrom = 0): HeadParseResult {
  // RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before the request-line.
  let start = 0;
  while (start + 1 < buf.length && buf[start] === CR && buf[start + 1] === LF) start += 2;
  if (start === buf.length || (start + 1 === buf.length && buf[start] === CR)) {
    return { kind: 'partial', scanned: 0 };
  }

  if (scanFrom === 0) {
    const parsed = parseWellFormedHead(buf, start, limits);
    if (parsed !== null) return parsed;
  }
  const searchFrom = Math.max(start, scanFrom - 3);
  const end = buf.indexOf(HEAD_TERMINATOR, searchFrom);
  if (end === -1) return checkIncompleteHead(buf, start, Math.max(start, scanFrom), limits);
  return parseCompleteHead(buf, start, end + 2, end + 4, limits);
}

/** Rejects what can already be rejected in an incomplete head, so bad input does not wait for a timeout. */
function checkIncompleteHead(buf: Buffer, start: number, from: number, limits: WireLimits): HeadParseResult {
  const lineEnd = buf.indexOf(LF, start);
  if (lineEnd === -1) {
    if (buf.length - start > limits.maxRequestLineBytes) {
      return fail(
        new ProtocolError(
          'REQUEST_LINE_TOO_LONG',
          `the request line is longer than ${limits.maxRequestLineBytes} bytes`,
        ),
      );
    }
  } else if (lineEnd - start > limits.maxRequestLineBytes + 1) {
    return fail(
      new ProtocolError(
        'REQUEST_LINE_TOO_LONG',
        `the request line is longer than ${limits.maxRequestLineBytes} bytes`,
      ),
    );
  }
  // A complete request line that is malformed (an HTTP/0.9 simple request, a TLS hello, a bad version)
  // is refused now: its verdict cannot change, so it must not wait for the head timeout.
  if (lineEnd !== -1 && lineEnd >= from && lineEnd > start && buf[lineEnd - 1] === CR) {
    const line = parseRequestLine(buf, start, lineEnd - 1);
    if (line instanceof ProtocolError) return fail(line);
  }
  // A bare LF (or any malformed line) anywhere in what has arrived: parse up to there for the exact reason.
  for (let i = from; i < buf.length; i++) {
    if (buf[i] === LF && (i === start || buf[i - 1] !== CR)) {
      return parseCompleteHead(buf, start, i + 1, i + 1, limits);
    }
  }
  const firstLineLength = lineEnd === -1 ? buf.length - start : lineEnd + 1 - start;
  if (buf.length - start - firstLineLength > limits.maxHeaderBytes) {
    return fail(
      new ProtocolError(
        'HEADERS_TOO_LARGE',
        `the header section is larger than ${limits.maxHeaderBytes} bytes`,
      ),
    );
  }
  return { kind: 'partial', scanned: buf.length };
}

/**
 * Parses the lines in `buf[start, linesEnd)`, every one of which must end in CRLF; `consumed` is where the
 * head ends (after the empty line). These are the exact rules, which name what is wrong with a line.
 */
function parseCompleteHead(
  buf: Buffer,
  start: number,
  linesEnd: number,
  consumed: number,
  limits: WireLimits,
): HeadParseResult {
  const requestLineEnd = findLF(buf, start, linesEnd);
  if (requestLineEnd === -1) {
    return fail(new ProtocolError('BAD_REQUEST_LINE', 'the request line does not end in CRLF'));
  }
  if (requestLineEnd - 1 - start > limits.maxRequestLineBytes) {
    return fail(
      new ProtocolError(
        'REQUEST_LINE_TOO_LONG',
        `the request line is longer than ${limits.maxRequestLineBytes} bytes`,
      ),
    );
  }
  if (buf[requestLineEnd - 1] !== CR || requestLineEnd - 1 < start) {
    return fail(new ProtocolError('BAD_REQUEST_LINE', 'the request line ends in a bare LF instead of CRLF'));
  }
  const line = parseRequestLine(buf, start, requestLineEnd - 1);
  if (line instanceof ProtocolError) return fail(line);

  const fields = new FieldSpans(start);
  let lineNumber = 1;
  let pos = requestLineEnd + 1;
  const fieldsStart = pos;
  while (pos < linesEnd) {
    lineNumber++;
    // A well-formed line is checked in one pass (token name, colon, value bytes up to CRLF); any other
    // line is taken apart again by the exact rules, which say what is wrong with it.
    let colon = scanWellFormedFieldLine(buf, pos);
    let lf = scannedLineFeed;
    if (colon === -1 || lf >= linesEnd) {
      colon = -1;
      lf = findLF(buf, pos, linesEnd);
      if (lf === -1) break;
      if (lf === pos || buf[lf - 1] !== CR) {
        return fail(
          new ProtocolError('BAD_HEADER', `header line ${lineNumber} ends in a bare LF instead of CRLF`),
        );
      }
      if (lf - 1 === pos) break; // the empty line that ends the head
    }
    if (lf + 1 - fieldsStart > limits.maxHeaderBytes) {
      return fail(
        new ProtocolError(
          'HEADERS_TOO_LARGE',
          `the header section is larger than ${limits.maxHeaderBytes} bytes`,
        ),
      );
    }
    if (fields.count >= limits.maxHeaderCount) {
      return fail(
        new ProtocolError(
          'HEADERS_TOO_LARGE',
          `the request has more than ${limits.maxHeaderCount} header fields`,
        ),
      );
    }
    if (colon === -1) {
      const scanned = scanFieldLine(buf, pos, lf - 1, lineNumber);
      if (scanned instanceof ProtocolError) return fail(scanned);
      colon = scanned;
    }
    fields.add(buf, pos, colon, scannedValueStart, scannedValueEnd);
    pos = lf + 1;
  }
  return buildHead(buf, start, line, fields, linesEnd, consumed, limits);
}

/**
 * The common case in one pass: a complete head whose every line is well-formed, parsed without first
 * searching for where it ends. Returns null for anything else — an incomplete head, a line that needs
 * the exact rules, a limit reached — which the general path then decides as before.
 */
function parseWellFormedHead(buf: Buffer, start: number, limits: WireLimits): HeadParseResult | null {
  const requestLineEnd = findLF(buf, start, buf.length);
  if (
    requestLineEnd === -1 ||
    buf[requestLineEnd - 1] !== CR ||
    requestLineEnd - 1 - start > limits.maxRequestLineBytes
  ) {
    return null;
  }
  const line = parseRequestLine(buf, start, requestLineEnd - 1);
  if (line instanceof ProtocolError) return null;
  const fieldsStart = requestLineEnd + 1;
  const count = scanFieldLines(buf, fieldsStart, start, limits.maxHeaderCount);
  if (count < 0) return null;
  // Offsets from `start`, like the spans.
  const linesEnd = scannedHeadEnd() - 2;
  if (linesEnd - (fieldsStart - start) > limits.maxHeaderBytes) return null;
  const fields = new FieldSpans(start, count);
  const spans = fields.spans;
  const lines = scannedFieldLines;
  for (let k = 0, at = 0; at < count * 4; k += LINE_SLOTS, at += 4) {
    const nameStart = lines[k]!;
    const colon = lines[k + 1]!;
    spans[at] = nameStart;
    spans[at + 1] = colon;
    spans[at + 2] = lines[k + 2]!;
    spans[at + 3] = lines[k + 3]!;
    const hash = lines[k + 4]!;
    if ((KNOWN_NAME_HASH_BITS & (1 << (hash & 31))) !== 0) {
      fields.recognise(buf, start + nameStart, colon - nameStart, at);
    }
  }
  fields.count = count;
  fields.nameLengths = scannedNameLengths();
  return buildHead(buf, start, line, fields, start + linesEnd, start + linesEnd + 2, limits);
}

/** Decodes the head once and makes the strings the wire needs; every field stays lazy (field-lines.ts). */
function buildHead(
  buf: Buffer,
  start: number,
  line: RequestLine,
  fields: FieldSpans,
  linesEnd: number,
  consumed: number,
  limits: WireLimits,
): HeadParseResult {
  // latin1 is one character per byte, so the offsets carry over to the text.
  const text = buf.toString('latin1', start, linesEnd);
  const method = text.slice(0, line.methodEnd - start);
  const target = text.slice(line.targetStart - start, line.targetEnd - start);
  const spans = fields.spans;
  const framing = fields.framing;
  const wanted: FramingFields = {
    hostCount: 0,
    host: '',
    connection: undefined,
    expect: undefined,
    contentLengths: NONE,
    transferEncodings: NONE,
  };
  if (framing !== null) {
    for (let k = 0; k < framing.length; k += 2) {
      const at = framing[k + 1]!;
      const value = text.slice(spans[at + 2], spans[at + 3]);
      switch (framing[k]) {
        case HOST:
          wanted.hostCount++;
          wanted.host = value;
          break;
        case EXPECT:
          wanted.expect = joinValue(wanted.expect, value);
          break;
        case CONNECTION:
          wanted.connection = joinValue(wanted.connection, value);
          break;
        case CONTENT_LENGTH:
          wanted.contentLengths = [...wanted.contentLengths, value];
          break;
        case TRANSFER_ENCODING:
          wanted.transferEncodings = [...wanted.transferEncodings, value];
          break;
      }
    }
  }
  return finishHead(
    method,
    target,
    line.version,
    new FieldLines(text, spans, fields.nameLengths, fields.known),
    wanted,
    consumed,
    limits,
  );
}

const NONE: readonly string[] = Object.freeze([]);

/** The fields the wire reads itself, taken out of the field lines. */
interface FramingFields {
  hostCount: number;
  host: string;
  connection: string | undefined;
  expect: string | undefined;
  contentLengths: readonly string[];
  transferEncodings: readonly string[];
}

/** A repeated field's values combined into one comma-separated list (RFC 9110 §5.3). */
function joinValue(previous: string | undefined, value: string): string {
  return previous === undefined ? value : `${previous}, ${value}`;
}

/** Where the method and the target end and start, as positions in the buffer. */
interface RequestLine {
  methodEnd: number;
  targetStart: number;
  targetEnd: number;
  version: '1.0' | '1.1';
}

/** request-line = method SP request-target SP HTTP-version (RFC 9112 §3), exactly one SP each. */
function parseRequestLine(buf: Buffer, start: number, end: number): RequestLine | ProtocolError {
  let i = start;
  while (i < end && IS_TCHAR[buf[i]!] === 1) i++;
  if (i === start)
    return new ProtocolError('BAD_METHOD', 'the request line does not start with a method token');
  if (buf[i] !== SP) {
    return new ProtocolError('BAD_METHOD', 'the method is not a token followed by a single space');
  }
  const methodEnd = i;
  const targetStart = ++i;
  while (i < end && IS_TARGET_BYTE[buf[i]!] === 1) i++;
  if (i === targetStart) {
    return new ProtocolError('BAD_TARGET', 'the request-target is empty or starts with an invalid byte');
  }
  if (buf[i] !== SP) {
    return new ProtocolError(
      'BAD_TARGET',
      i === end
        ? 'the request line has no HTTP version'
        : 'the request-target contains a byte that is not visible US-ASCII (a space, control, # or non-ASCII byte)',
    );
  }
  const targetEnd = i;
  i++;
  if (
    end - i !== 8 ||
    buf[i] !== 0x48 ||
    buf[i + 1] !== 0x54 ||
    buf[i + 2] !== 0x54 ||
    buf[i + 3] !== 0x50 ||
    buf[i + 4] !== 0x2f /* HTTP/ */
  ) {
    return new ProtocolError('BAD_VERSION', 'the HTTP version is not of the form HTTP/x.y followed by CRLF');
  }
  const major = buf[i + 5]!;
  const dot = buf[i + 6]!;
  const minor = buf[i + 7]!;
  if (major < 0x30 || major > 0x39 || dot !== 0x2e || minor < 0x30 || minor > 0x39) {
    return new ProtocolError('BAD_VERSION', 'the HTTP version is not of the form HTTP/x.y');
  }
  if (major !== 0x31 || (minor !== 0x30 && minor !== 0x31)) {
    return new ProtocolError(
      'UNSUPPORTED_VERSION',
      `HTTP/${String.fromCharCode(major)}.${String.fromCharCode(minor)} is not supported; use HTTP/1.1 or HTTP/1.0`,
    );
  }
  return { methodEnd, targetStart, targetEnd, version: minor === 0x31 ? '1.1' : '1.0' };
}

/**
 * The fast check of one field line starting at `buf[start]`: a token name, a colon, optional whitespace
 * and field-value bytes (HTAB, SP, VCHAR, obs-text; RFC 9110 §5.5) up to a CRLF. Returns the colon's
 * position, with the value's bounds and the LF's position left in the `scanned…` slots, or -1 for a line
 * that is not this simple (then `scanFieldLine` finds the exact fault, if there is one). A complete head
 * is scanned in WebAssembly first (field-scan.ts); this is the exact path's first look at each line.
 */
function scanWellFormedFieldLine(buf: Buffer, start: number): number {
  let i = start;
  while (IS_TCHAR[buf[i]!] === 1) i++;
  if (i === start || buf[i] !== COLON) return -1;
  const colon = i++;
  while (buf[i] === SP || buf[i] === HTAB) i++;
  const valueStart = i;
  // Past the end of `buf` the byte is undefined, which fails both tests.
  let b = buf[i]!;
  while ((b >= 0x20 && b !== 0x7f) || b === HTAB) b = buf[++i]!;
  if (b !== CR || buf[i + 1] !== LF) return -1;
  let valueEnd = i;
  while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) valueEnd--;
  scannedValueStart = valueStart;
  scannedValueEnd = valueEnd;
  scannedLineFeed = i + 1;
  return colon;
}

/** Where the last `scanFieldLine` found the field value (the parser is synchronous, so one slot will do). */
let scannedValueStart = 0;
let scannedValueEnd = 0;
let scannedLineFeed = 0;

/**
 * Validates field-line = field-name ":" OWS field-value OWS (RFC 9112 §5) in `buf[start, end)`: a token
 * name, no obs-fold, no whitespace before the colon, no control character in the value. Returns the
 * colon's position (the value's bounds, without OWS, are left in `scannedValueStart`/`scannedValueEnd`)
 * or the rule that was broken.
 */
function scanFieldLine(buf: Buffer, start: number, end: number, lineNumber: number): number | ProtocolError {
  const first = buf[start];
  if (first === SP || first === HTAB) {
    return new ProtocolError(
      'BAD_HEADER',
      `header line ${lineNumber} starts with whitespace (obs-fold line folding is not allowed, RFC 9112 §5.2)`,
    );
  }
  let i = start;
  while (i < end && IS_TCHAR[buf[i]!] === 1) i++;
  if (i === end || buf[i] !== COLON) {
    if (i < end && (buf[i] === SP || buf[i] === HTAB)) {
      return new ProtocolError('BAD_HEADER', `header line ${lineNumber} has whitespace before the colon`);
    }
    if (i === end) return new ProtocolError('BAD_HEADER', `header line ${lineNumber} has no colon`);
    return new ProtocolError(
      'BAD_HEADER',
      `header line ${lineNumber} has a character that is not allowed in a field name`,
    );
  }
  if (i === start)
    return new ProtocolError('BAD_HEADER', `header line ${lineNumber} has an empty field name`);
  let valueStart = i + 1;
  let valueEnd = end;
  while (valueStart < valueEnd && (buf[valueStart] === SP || buf[valueStart] === HTAB)) valueStart++;
  while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) valueEnd--;
  for (let j = valueStart; j < valueEnd; j++) {
    if (IS_FIELD_VALUE_BYTE[buf[j]!] !== 1) {
      return new ProtocolError(
        'BAD_HEADER',
        `header line ${lineNumber} has a control character (0x${buf[j]!.toString(16).padStart(2, '0')}) in its value`,
      );
    }
  }
  scannedValueStart = valueStart;
  scannedValueEnd = valueEnd;
  return i;
}

/** field-line = field-name ":" OWS field-value OWS (RFC 9112 §5), as strings; used by the response-head parser. */
export function parseFieldLine(
  buf: Buffer,
  start: number,
  end: number,
  lineNumber: number,
  text: string,
  textBase: number,
): readonly [string, string] | ProtocolError {
  const colon = scanFieldLine(buf, start, end, lineNumber);
  if (colon instanceof ProtocolError) return colon;
  return [
    text.slice(start - textBase, colon - textBase),
    text.slice(scannedValueStart - textBase, scannedValueEnd - textBase),
  ] as const;
}

function finishHead(
  method: string,
  target: string,
  version: '1.0' | '1.1',
  lines: FieldLines,
  fields: FramingFields,
  consumed: number,
  limits: WireLimits,
): HeadParseResult {
  const { hostCount, host, connection, expect, contentLengths, transferEncodings } = fields;

  // RFC 9112 §3.2: exactly one Host in HTTP/1.1; more than one is always an error.
  if (hostCount > 1)
    return fail(new ProtocolError('BAD_HOST', 'the request has more than one Host header field'));
  if (version === '1.1' && hostCount === 0) {
    return fail(
      new ProtocolError('MISSING_HOST', 'an HTTP/1.1 request must have exactly one Host header field'),
    );
  }
  if (!isValidHost(host))
    return fail(new ProtocolError('BAD_HOST', 'the Host header field is not a valid authority'));

  const form = parseTarget(method, target);
  if (form instanceof ProtocolError) return fail(form);
  // RFC 9112 §3.2.2: with absolute-form the target's authority wins over Host.
  const authority = form.authority ?? host;

  const framing = decideFraming(version, contentLengths, transferEncodings, limits);
  if (framing instanceof ProtocolError) return fail(framing);

  let keepAlive = version === '1.1';
  if (connection !== undefined) {
    const tokens = connection.toLowerCase();
    if (hasListToken(tokens, 'close')) keepAlive = false;
    else if (version === '1.0' && hasListToken(tokens, 'keep-alive')) keepAlive = true;
  }

  let expectContinue = false;
  if (expect !== undefined) {
    if (expect.toLowerCase() !== '100-continue') {
      // RFC 9110 §10.1.1: an unsupported expectation gets 417.
      return fail(
        new ProtocolError(
          'BAD_EXPECTATION',
          `the expectation "${expect}" is not supported (only 100-continue)`,
        ),
      );
    }
    expectContinue = version === '1.1' && framing.kind !== 'none';
  }

  const head: RequestHead = {
    method,
    target,
    path: form.path,
    query: form.query,
    version,
    headers: lazyHeaderRecord(lines),
    rawHeaders: lazyFieldPairs(lines),
    authority,
    framing,
    keepAlive,
    expectContinue,
  };
  return { kind: 'complete', head, consumed };
}
