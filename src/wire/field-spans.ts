/**
 * The field lines of a head being parsed, recorded as offsets (what `FieldLines` later reads), with the
 * few fields the wire needs itself recognised by their bytes as they are added. Used by both of the
 * parser's paths (parser.ts): the exact rules add one line at a time, the WebAssembly scan's lines are
 * copied in whole.
 * @module
 */

import type { KnownFieldSpans } from './field-lines.js';
import { fieldNameHash } from './field-scan.js';

/** Field kinds the wire reads itself (`FieldSpans.framing`). */
export const HOST = 0;
export const EXPECT = 1;
export const CONNECTION = 2;
export const CONTENT_LENGTH = 3;
export const TRANSFER_ENCODING = 4;

/** The field lines of a head being parsed, as offsets from `base` (see `FieldLines`). */
export class FieldSpans {
  readonly spans: number[];
  /** How many field lines have been added. */
  count = 0;
  /** Pairs of (field kind, span index) for the fields the wire reads itself, in arrival order. */
  framing: number[] | null = null;
  /** Bit n set: some field name has n characters (31: 31 or more), so most absent names cost one test. */
  nameLengths = 0;
  /** Where the fields every hot request reads are (see `FieldLines.value`). */
  readonly known: KnownFieldSpans = { acceptEncoding: -1, ifNoneMatch: -1, ifModifiedSince: -1 };

  /** `lines`: how many field lines the head has, when that is known (the array is then made at its size). */
  constructor(
    private readonly base: number,
    lines = 0,
  ) {
    this.spans = lines === 0 ? [] : new Array<number>(lines * 4);
  }

  /** Records the field line at `buf[start]` whose colon is at `colon` and whose value (without OWS) is `[valueStart, valueEnd)`. */
  add(buf: Buffer, start: number, colon: number, valueStart: number, valueEnd: number): void {
    const base = this.base;
    const spans = this.spans;
    const at = this.count * 4;
    this.count++;
    spans[at] = start - base;
    spans[at + 1] = colon - base;
    spans[at + 2] = valueStart - base;
    spans[at + 3] = valueEnd - base;
    const length = colon - start;
    this.nameLengths |= 1 << Math.min(length, 31);
    this.recognise(buf, start, length, at);
  }

  /**
   * Notes where the fields the wire itself needs are (the line at span index `at`, its name at
   * `buf[start]`), recognised by length first: no name string is made for any field.
   */
  recognise(buf: Buffer, start: number, length: number, at: number): void {
    let kind = -1;
    if (length === 4) kind = isFieldName(buf, start, 'host') ? HOST : -1;
    else if (length === 6) kind = isFieldName(buf, start, 'expect') ? EXPECT : -1;
    else if (length === 10) kind = isFieldName(buf, start, 'connection') ? CONNECTION : -1;
    else if (length === 14) kind = isFieldName(buf, start, 'content-length') ? CONTENT_LENGTH : -1;
    else if (length === 17) {
      if (isFieldName(buf, start, 'transfer-encoding')) kind = TRANSFER_ENCODING;
      else if (isFieldName(buf, start, 'if-modified-since'))
        this.known.ifModifiedSince = knownAt(this.known.ifModifiedSince, at);
    } else if (length === 15) {
      if (isFieldName(buf, start, 'accept-encoding'))
        this.known.acceptEncoding = knownAt(this.known.acceptEncoding, at);
    } else if (length === 13) {
      if (isFieldName(buf, start, 'if-none-match'))
        this.known.ifNoneMatch = knownAt(this.known.ifNoneMatch, at);
    }
    if (kind !== -1) (this.framing ??= []).push(kind, at);
  }
}

/**
 * Bit (h & 31) set for the hash h (`fieldNameHash`) of each name `FieldSpans.recognise` knows, so the
 * scanned lines of other fields skip it with one test.
 */
export const KNOWN_NAME_HASH_BITS = [
  'host',
  'expect',
  'connection',
  'content-length',
  'transfer-encoding',
  'if-modified-since',
  'accept-encoding',
  'if-none-match',
].reduce((bits, name) => bits | (1 << (fieldNameHash(name) & 31)), 0);

/** A known field's span index: -1 while absent, -2 once repeated (then it is looked up like any other). */
function knownAt(previous: number, at: number): number {
  return previous === -1 ? at : -2;
}

/** Whether the field name at `buf[start]` is `lowerName` in any case (the length is already known equal). */
function isFieldName(buf: Buffer, start: number, lowerName: string): boolean {
  for (let i = 0; i < lowerName.length; i++) {
    // Field names are tokens, so OR-ing 0x20 only folds A–Z onto a–z for the letters and '-' compared here.
    if ((buf[start + i]! | 0x20) !== lowerName.charCodeAt(i)) return false;
  }
  return true;
}
