/**
 * Byte-range requests, RFC 9110 §14: parsing Range, Content-Range values, and the exact framing of a
 * multipart/byteranges body (§14.6).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { isDigit, isOws } from './syntax.js';

/** An inclusive byte range within a representation: `start`..`end`, both zero-based offsets. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeParseResult =
  | { kind: 'ignore' }
  | { kind: 'unsatisfiable' }
  | { kind: 'ranges'; ranges: ByteRange[] };

/**
 * Most distinct ranges served in one multipart/byteranges response, counted after overlapping and
 * adjacent ranges are coalesced. RFC 9110 §14.2 lets a server ignore a Range with "many small ranges"
 * as a likely denial-of-service attempt; beyond this the whole representation is sent instead.
 */
export const MAX_RANGES = 100;

/**
 * Number of random bytes in a generated boundary. RFC 2046 §5.1.1 limits a boundary to 70 characters;
 * 16 bytes as hex is 32, and 128 random bits cannot plausibly occur inside the file bytes.
 */
export const BOUNDARY_RANDOM_BYTES = 16;

/** Longest boundary allowed, RFC 2046 §5.1.1 (`boundary := 0*69<bchars> bcharsnospace`). */
export const MAX_BOUNDARY_LENGTH = 70;

/**
 * Characters allowed in a boundary that are also tchars, so it never needs quoting in the Content-Type
 * parameter: the intersection of RFC 2046 §5.1.1 `bcharsnospace` and RFC 9110 §5.6.2 `tchar`
 * (DIGIT / ALPHA / "'" / "+" / "_" / "-" / ".").
 */
function isBoundaryChar(code: number): boolean {
  return (
    isDigit(code) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x27 ||
    code === 0x2b ||
    code === 0x5f ||
    code === 0x2d ||
    code === 0x2e
  );
}

function isValidBoundary(boundary: string): boolean {
  if (boundary.length === 0 || boundary.length > MAX_BOUNDARY_LENGTH) return false;
  for (let i = 0; i < boundary.length; i++) {
    if (!isBoundaryChar(boundary.charCodeAt(i))) return false;
  }
  return true;
}

const IGNORE: RangeParseResult = { kind: 'ignore' };
const UNSATISFIABLE: RangeParseResult = { kind: 'unsatisfiable' };

/**
 * Reads a run of DIGITs from `text[pos..end)`. Returns the value (saturating at MAX_SAFE_INTEGER, which is
 * beyond any file size, so huge positions stay correct in comparisons) and where the digits stopped.
 */
function readNumber(text: string, pos: number, end: number): { value: number; next: number } {
  let value = 0;
  let i = pos;
  while (i < end && isDigit(text.charCodeAt(i))) {
    value = Math.min(value * 10 + (text.charCodeAt(i) - 0x30), Number.MAX_SAFE_INTEGER);
    i++;
  }
  return { value, next: i };
}

/**
 * Parses one `range-spec` occupying all of `text[from..to)` (OWS already trimmed), RFC 9110 §14.1.1:
 * `int-range = first-pos "-" [ last-pos ]` or `suffix-range = "-" suffix-length`.
 * Returns the satisfiable range clipped to the representation, 'unsatisfiable', or null on a syntax error
 * (including last-pos < first-pos, which §14.1.1 calls invalid).
 */
function parseRangeSpec(
  text: string,
  from: number,
  to: number,
  size: number,
): ByteRange | 'unsatisfiable' | null {
  if (text.charCodeAt(from) === 0x2d) {
    const suffix = readNumber(text, from + 1, to);
    if (suffix.next === from + 1 || suffix.next !== to) return null;
    // §14.1.3: a zero suffix-length is unsatisfiable; a suffix longer than the file selects all of it.
    if (suffix.value === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix.value), end: size - 1 };
  }
  const first = readNumber(text, from, to);
  if (first.next === from || text.charCodeAt(first.next) !== 0x2d || first.next >= to) return null;
  const lastFrom = first.next + 1;
  let end = size - 1;
  if (lastFrom < to) {
    const last = readNumber(text, lastFrom, to);
    if (last.next !== to) return null;
    if (last.value < first.value) return null;
    end = Math.min(last.value, size - 1);
  }
  // §14.1.3: an int-range is satisfiable only when first-pos is less than the representation length.
  if (first.value >= size) return 'unsatisfiable';
  return { start: first.value, end };
}

/** Sorts ranges by start and merges any that overlap or touch (§15.3.7.2 allows coalescing). */
function coalesce(ranges: ByteRange[]): ByteRange[] {
  ranges.sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last !== undefined && range.start <= last.end + 1) {
      if (range.end > last.end) last.end = range.end;
    } else {
      merged.push({ start: range.start, end: range.end });
    }
  }
  return merged;
}

/**
 * Parses a Range field value against a representation of `size` bytes, RFC 9110 §14.2.
 *
 * - A syntax error anywhere, or a unit other than `bytes` (compared case-insensitively, §14.1), gives
 *   `ignore`: §14.2 lets a server ignore a Range it cannot or will not honour and send 200.
 * - An empty representation gives `ignore`: no range can be satisfied, and a plain 200 with an empty body
 *   is more useful to the client than a 416.
 * - When no range-spec is satisfiable: `unsatisfiable` (416, §15.5.17).
 * - Otherwise the satisfiable ranges, always sorted and with overlapping or adjacent ones coalesced
 *   (§15.3.7.2). Coalescing also defuses amplification such as `bytes=0-,0-,0-`: after it the ranges are
 *   disjoint, so their total never exceeds the file size. If more than {@link MAX_RANGES} remain, the
 *   result is `ignore`, so the file is sent once as a 200 (§14.2 allows ignoring "many small ranges").
 *
 * OWS is accepted around each list element, including right after `=` (as in `bytes= 0-1`), and empty
 * list elements are skipped (§5.6.1).
 */
export function parseRangeHeader(value: string, size: number): RangeParseResult {
  if (size <= 0) return IGNORE;
  const eq = value.indexOf('=');
  if (eq < 0) return IGNORE;
  let unitStart = 0;
  while (unitStart < eq && isOws(value.charCodeAt(unitStart))) unitStart++;
  const unit = value.slice(unitStart, eq);
  if (unit.length !== 5 || unit.toLowerCase() !== 'bytes') return IGNORE;

  const ranges: ByteRange[] = [];
  let sawSpec = false;
  let pos = eq + 1;
  while (pos <= value.length) {
    let elementEnd = value.indexOf(',', pos);
    if (elementEnd < 0) elementEnd = value.length;
    let from = pos;
    let to = elementEnd;
    while (from < to && isOws(value.charCodeAt(from))) from++;
    while (to > from && isOws(value.charCodeAt(to - 1))) to--;
    if (from < to) {
      sawSpec = true;
      const spec = parseRangeSpec(value, from, to, size);
      if (spec === null) return IGNORE;
      if (spec !== 'unsatisfiable') ranges.push(spec);
    }
    pos = elementEnd + 1;
  }
  // `range-set = 1#range-spec`: at least one non-empty element.
  if (!sawSpec) return IGNORE;
  if (ranges.length === 0) return UNSATISFIABLE;
  const merged = ranges.length === 1 ? ranges : coalesce(ranges);
  if (merged.length > MAX_RANGES) return IGNORE;
  return { kind: 'ranges', ranges: merged };
}

/** Content-Range for a satisfied range: `bytes 0-99/1000`, RFC 9110 §14.4. */
export function contentRangeValue(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

/** Content-Range for a 416 response: `bytes *\/1000`, RFC 9110 §14.4 and §15.5.17. */
export function unsatisfiedContentRange(size: number): string {
  return `bytes */${size}`;
}

/** A fresh random multipart boundary (hex, so it never needs quoting in the Content-Type parameter). */
export function makeBoundary(): string {
  return randomBytes(BOUNDARY_RANDOM_BYTES).toString('hex');
}

/** What the server writes for a multipart/byteranges response, in order: each part's head then its bytes, then the tail. */
export interface MultipartPlan {
  /** The response Content-Type: `multipart/byteranges; boundary=...`. */
  contentType: string;
  /** For each range, the framing bytes to write before file bytes `start`..`end` (inclusive). */
  parts: Array<{ head: Buffer; start: number; end: number }>;
  /** The closing delimiter, written after the last part's bytes. */
  tail: Buffer;
  /** Total body length in bytes, for Content-Length. */
  length: number;
}

/**
 * Plans a multipart/byteranges body, RFC 9110 §14.6 (multipart syntax from RFC 2046 §5.1.1):
 *
 *     --BOUNDARY CRLF
 *     Content-Type: <type> CRLF
 *     Content-Range: bytes <start>-<end>/<size> CRLF
 *     CRLF
 *     <bytes> CRLF --BOUNDARY CRLF ... <bytes> CRLF --BOUNDARY-- CRLF
 *
 * The CRLF before each delimiter belongs to the delimiter (RFC 2046), so it is at the start of every
 * head but the first, and of the tail. The Content-Type line is omitted when `contentType` is empty.
 * @throws TypeError when `boundary` is empty, longer than 70 characters or has a character that would
 * need quoting, or when there are no ranges.
 */
export function planMultipartByteranges(
  ranges: readonly ByteRange[],
  size: number,
  contentType: string,
  boundary: string,
): MultipartPlan {
  if (!isValidBoundary(boundary)) {
    throw new TypeError("A multipart boundary must be 1 to 70 of DIGIT / ALPHA / ' + _ - .");
  }
  if (ranges.length === 0) throw new TypeError('A multipart/byteranges body needs at least one range');
  const typeLine = contentType === '' ? '' : `Content-Type: ${contentType}\r\n`;
  let length = 0;
  const parts = ranges.map((range, index) => {
    const head = Buffer.from(
      `${index === 0 ? '' : '\r\n'}--${boundary}\r\n${typeLine}Content-Range: ${contentRangeValue(range, size)}\r\n\r\n`,
      'latin1',
    );
    length += head.length + (range.end - range.start + 1);
    return { head, start: range.start, end: range.end };
  });
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  length += tail.length;
  return { contentType: `multipart/byteranges; boundary=${boundary}`, parts, tail, length };
}
