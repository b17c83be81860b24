/**
 * Request body decoders (RFC 9112 §6 and §7.1). Each takes bytes as they arrive, hands the content to
 * `onData` as slices of the input (no copies), and reports how many input bytes it used, so whatever
 * follows the body (a pipelined request) stays in the connection's buffer.
 * @module
 */
import { CR, HTAB, IS_FIELD_VALUE_BYTE, IS_TCHAR, LF, SP } from './chars.js';
import { ProtocolError } from './errors.js';
import type { WireLimits } from './limits.js';

export interface BodyDecodeResult {
  /** Input bytes used. */
  consumed: number;
  /** The body is complete. */
  done: boolean;
  error?: ProtocolError;
}

export interface BodyDecoder {
  decode(input: Buffer, onData: (data: Buffer) => void): BodyDecodeResult;
  /** Content bytes delivered so far. */
  readonly received: number;
}

export class ContentLengthDecoder implements BodyDecoder {
  private remaining: number;
  received = 0;

  constructor(length: number) {
    this.remaining = length;
  }

  decode(input: Buffer, onData: (data: Buffer) => void): BodyDecodeResult {
    const take = Math.min(this.remaining, input.length);
    if (take > 0) {
      onData(take === input.length ? input : input.subarray(0, take));
      this.remaining -= take;
      this.received += take;
    }
    return { consumed: take, done: this.remaining === 0 };
  }
}

/** A chunk-size longer than this many hex digits would overflow a safe integer. */
const MAX_CHUNK_SIZE_HEX_DIGITS = 13;

type ChunkedState = 'size' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done';

/**
 * chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 §7.1). Strict: every line ends in CRLF,
 * chunk sizes are bare hex digits (no `+`, `0x`, or spaces before extensions), and trailer fields are
 * checked like header fields and then dropped (§7.1.2 lets a server ignore them).
 */
export class ChunkedDecoder implements BodyDecoder {
  private state: ChunkedState = 'size';
  private line: Buffer[] = [];
  private lineLength = 0;
  private remainingInChunk = 0;
  private trailerBytes = 0;
  received = 0;
  private readonly limits: WireLimits;

  constructor(limits: WireLimits) {
    this.limits = limits;
  }

  decode(input: Buffer, onData: (data: Buffer) => void): BodyDecodeResult {
    let pos = 0;
    while (pos < input.length && this.state !== 'done') {
      switch (this.state) {
        case 'size':
        case 'trailer': {
          const lf = input.indexOf(LF, pos);
          const end = lf === -1 ? input.length : lf + 1;
          this.lineLength += end - pos;
          const limit = this.state === 'size' ? this.limits.maxChunkLineBytes : this.limits.maxHeaderBytes;
          if (this.lineLength + (this.state === 'trailer' ? this.trailerBytes : 0) > limit) {
            return this.fail(
              pos,
              this.state === 'size'
                ? new ProtocolError('BAD_CHUNK', `a chunk-size line is longer than ${limit} bytes`)
                : new ProtocolError('HEADERS_TOO_LARGE', `the trailer section is larger than ${limit} bytes`),
            );
          }
          this.line.push(input.subarray(pos, end));
          pos = end;
          if (lf === -1) break;
          const line = this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line);
          this.line = [];
          this.lineLength = 0;
          const error = this.state === 'size' ? this.onSizeLine(line) : this.onTrailerLine(line);
          if (error) return this.fail(pos, error);
          break;
        }
        case 'data': {
          const take = Math.min(this.remainingInChunk, input.length - pos);
          onData(input.subarray(pos, pos + take));
          pos += take;
          this.remainingInChunk -= take;
          this.received += take;
          if (this.remainingInChunk === 0) this.state = 'data-cr';
          break;
        }
        case 'data-cr':
          if (input[pos] !== CR) {
            return this.fail(pos, new ProtocolError('BAD_CHUNK', 'chunk data is not followed by CRLF'));
          }
          pos++;
          this.state = 'data-lf';
          break;
        case 'data-lf':
          if (input[pos] !== LF) {
            return this.fail(pos, new ProtocolError('BAD_CHUNK', 'chunk data is not followed by CRLF'));
          }
          pos++;
          this.state = 'size';
          break;
      }
    }
    return { consumed: pos, done: this.state === 'done' };
  }

  private fail(consumed: number, error: ProtocolError): BodyDecodeResult {
    this.state = 'done';
    return { consumed, done: true, error };
  }

  private onSizeLine(line: Buffer): ProtocolError | undefined {
    const end = line.length - 2;
    if (end < 0 || line[end] !== CR)
      return new ProtocolError('BAD_CHUNK', 'a chunk-size line does not end in CRLF');
    let i = 0;
    let size = 0;
    while (i < end) {
      const digit = hexValue(line[i]!);
      if (digit < 0) break;
      size = size * 16 + digit;
      i++;
    }
    if (i === 0) return new ProtocolError('BAD_CHUNK', 'a chunk-size is not a hexadecimal number');
    if (i > MAX_CHUNK_SIZE_HEX_DIGITS) return new ProtocolError('BAD_CHUNK', 'a chunk-size is too large');
    if (i < end && !isValidChunkExtension(line, i, end)) {
      return new ProtocolError(
        'BAD_CHUNK',
        'a chunk-size is followed by something that is not a chunk extension',
      );
    }
    if (this.received + size > this.limits.maxBodyBytes) {
      return new ProtocolError(
        'BODY_TOO_LARGE',
        `the request body is larger than ${this.limits.maxBodyBytes} bytes`,
      );
    }
    if (size === 0) {
      this.state = 'trailer';
    } else {
      this.remainingInChunk = size;
      this.state = 'data';
    }
    return undefined;
  }

  private onTrailerLine(line: Buffer): ProtocolError | undefined {
    const end = line.length - 2;
    if (end < 0 || line[end] !== CR)
      return new ProtocolError('BAD_CHUNK', 'a trailer line does not end in CRLF');
    if (end === 0) {
      this.state = 'done';
      return undefined;
    }
    this.trailerBytes += line.length;
    let i = 0;
    while (i < end && IS_TCHAR[line[i]!] === 1) i++;
    if (i === 0 || line[i] !== 0x3a)
      return new ProtocolError('BAD_CHUNK', 'a trailer line is not a valid field line');
    for (let j = i + 1; j < end; j++) {
      if (IS_FIELD_VALUE_BYTE[line[j]!] !== 1) {
        return new ProtocolError('BAD_CHUNK', 'a trailer field has a control character in its value');
      }
    }
    return undefined;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) (RFC 9112 §7.1.1). */
function isValidChunkExtension(line: Buffer, start: number, end: number): boolean {
  let i = start;
  const skipWhitespace = () => {
    while (i < end && (line[i] === SP || line[i] === HTAB)) i++;
  };
  while (i < end) {
    skipWhitespace();
    if (line[i] !== 0x3b /* ; */) return false;
    i++;
    skipWhitespace();
    const nameStart = i;
    while (i < end && IS_TCHAR[line[i]!] === 1) i++;
    if (i === nameStart) return false;
    skipWhitespace();
    if (i < end && line[i] === 0x3d /* = */) {
      i++;
      skipWhitespace();
      if (line[i] === 0x22 /* " */) {
        i++;
        while (i < end && line[i] !== 0x22) {
          if (line[i] === 0x5c /* \ */) i++;
          if (i >= end || IS_FIELD_VALUE_BYTE[line[i]!] !== 1) return false;
          i++;
        }
        if (i >= end) return false;
        i++;
      } else {
        const valueStart = i;
        while (i < end && IS_TCHAR[line[i]!] === 1) i++;
        if (i === valueStart) return false;
      }
      skipWhitespace();
    }
  }
  return true;
}
