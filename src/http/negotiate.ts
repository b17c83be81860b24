/**
 * Proactive content negotiation, RFC 9110 §12: quality-value lists, Accept-Encoding and Accept.
 * @module
 */
import { IS_TCHAR } from '../wire/chars.js';
import { isDigit, isOws } from './syntax.js';

/** One member of a quality-value list: the lower-cased value (a token or `type/subtype`) and its weight. */
export interface QualityItem {
  value: string;
  q: number;
}

/** Most digits after the decimal point in a qvalue, RFC 9110 §12.4.2. */
export const MAX_QVALUE_DECIMALS = 3;

/** Splits a field value on commas that are not inside a quoted-string (RFC 9110 §5.6.1, §5.6.4). */
function splitList(value: string): string[] {
  const elements: string[] = [];
  let start = 0;
  let inQuotes = false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (inQuotes) {
      if (code === 0x5c)
        i++; // quoted-pair: skip the escaped octet
      else if (code === 0x22) inQuotes = false;
    } else if (code === 0x22) {
      inQuotes = true;
    } else if (code === 0x2c) {
      elements.push(value.slice(start, i));
      start = i + 1;
    }
  }
  elements.push(value.slice(start));
  return elements;
}

/**
 * `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, RFC 9110 §12.4.2.
 * Returns null when `text` is not exactly a qvalue.
 */
function parseQValue(text: string): number | null {
  const lead = text.charCodeAt(0);
  if (lead !== 0x30 && lead !== 0x31) return null;
  if (text.length === 1) return lead - 0x30;
  if (text.charCodeAt(1) !== 0x2e || text.length > 2 + MAX_QVALUE_DECIMALS) return null;
  let thousandths = 0;
  for (let i = 2; i < 2 + MAX_QVALUE_DECIMALS; i++) {
    const code = i < text.length ? text.charCodeAt(i) : 0x30;
    if (!isDigit(code) || (lead === 0x31 && code !== 0x30)) return null;
    thousandths = thousandths * 10 + (code - 0x30);
  }
  return lead === 0x31 ? 1 : thousandths / 1000;
}

/**
 * Parses one list element: `value *( OWS ";" OWS [ name "=" ( token / quoted-string ) ] )`, where value is
 * a token or `token "/" token` (RFC 9110 §5.6.6 parameters, §12.4.2 weight). Null when malformed.
 */
function parseElement(element: string): QualityItem | null {
  let pos = 0;
  const end = element.length;
  while (pos < end && isOws(element.charCodeAt(pos))) pos++;
  const valueStart = pos;
  let slashes = 0;
  while (pos < end) {
    const code = element.charCodeAt(pos);
    if (code === 0x2f) slashes++;
    else if (IS_TCHAR[code] !== 1) break;
    pos++;
  }
  const value = element.slice(valueStart, pos);
  if (value.length === 0 || slashes > 1 || value.charCodeAt(0) === 0x2f || value.endsWith('/')) return null;
  let q: number | null = null;
  while (true) {
    while (pos < end && isOws(element.charCodeAt(pos))) pos++;
    if (pos >= end) break;
    if (element.charCodeAt(pos) !== 0x3b) return null;
    pos++;
    while (pos < end && isOws(element.charCodeAt(pos))) pos++;
    const nameStart = pos;
    while (pos < end && IS_TCHAR[element.charCodeAt(pos)] === 1) pos++;
    if (pos === nameStart) continue; // an empty parameter is allowed, §5.6.6
    const name = element.slice(nameStart, pos);
    if (element.charCodeAt(pos) !== 0x3d) return null;
    pos++;
    const paramStart = pos;
    if (element.charCodeAt(pos) === 0x22) {
      pos++;
      while (pos < end && element.charCodeAt(pos) !== 0x22) pos += element.charCodeAt(pos) === 0x5c ? 2 : 1;
      if (pos >= end) return null;
      pos++;
    } else {
      while (pos < end && IS_TCHAR[element.charCodeAt(pos)] === 1) pos++;
      if (pos === paramStart) return null;
    }
    // Parameter names are case-insensitive (§5.6.6); only the first q counts, everything else is ignored.
    if (q === null && name.length === 1 && (name === 'q' || name === 'Q')) {
      q = parseQValue(element.slice(paramStart, pos));
      if (q === null) return null;
    }
  }
  return { value: value.toLowerCase(), q: q ?? 1 };
}

/**
 * Parses a comma-separated list of values with optional weights (Accept, Accept-Encoding, Accept-Charset,
 * Accept-Language, TE), RFC 9110 §12.4.2. Values are lower-cased (they are case-insensitive in all those
 * fields); a missing q means 1. Malformed elements, including an invalid qvalue, are dropped rather than
 * failing the whole list; empty elements are skipped (§5.6.1). Order is preserved.
 */
export function parseQualityList(value: string): QualityItem[] {
  const items: QualityItem[] = [];
  for (const element of splitList(value)) {
    const item = parseElement(element);
    if (item !== null) items.push(item);
  }
  return items;
}

/** Deprecated aliases a recipient should treat as the standard coding, RFC 9110 §8.4.1.1 and §8.4.1.3. */
function canonicalCoding(coding: string): string {
  return coding === 'x-gzip' ? 'gzip' : coding === 'x-compress' ? 'compress' : coding;
}

/**
 * Picks the content coding for a response, RFC 9110 §12.5.3.
 *
 * Each coding in `available` (server preference order) gets the q of its own entry, else of `*`, else 0.
 * `identity` is acceptable by default (§12.5.3): unless listed itself or covered by `*`, it gets the lowest
 * non-zero weight the client used, so it never beats a coding the client named. Ties go to `available`
 * order, then identity. The first entry for a coding wins over repeats.
 *
 * @returns the chosen element of `available`; `'identity'` when nothing in `available` is better (also
 * when the header is absent or empty); null when identity is refused too (`identity;q=0`, or `*;q=0`
 * without an identity entry) and nothing else is acceptable — a 406, or an unencoded response anyway.
 */
export function chooseContentEncoding(
  acceptEncoding: string | undefined,
  available: readonly string[],
): string | null {
  if (acceptEncoding === undefined) return 'identity';
  const weights = new Map<string, number>();
  let lowestPositive = 1;
  for (const item of parseQualityList(acceptEncoding)) {
    const coding = canonicalCoding(item.value);
    if (!weights.has(coding)) weights.set(coding, item.q);
    if (item.q > 0 && item.q < lowestPositive) lowestPositive = item.q;
  }
  const star = weights.get('*');
  let best: string | null = null;
  let bestQ = 0;
  let identityListed = false;
  for (const candidate of available) {
    const coding = canonicalCoding(candidate.toLowerCase());
    if (coding === 'identity') identityListed = true;
    const q = weights.get(coding) ?? (coding === 'identity' ? (star ?? lowestPositive) : (star ?? 0));
    if (q > bestQ) {
      best = candidate;
      bestQ = q;
    }
  }
  if (identityListed) return best;
  const identityQ = weights.get('identity') ?? star ?? lowestPositive;
  if (identityQ > bestQ) return 'identity';
  return best;
}

function stripParameters(mediaType: string): string {
  const semicolon = mediaType.indexOf(';');
  let end = semicolon < 0 ? mediaType.length : semicolon;
  while (end > 0 && isOws(mediaType.charCodeAt(end - 1))) end--;
  let start = 0;
  while (start < end && isOws(mediaType.charCodeAt(start))) start++;
  return mediaType.slice(start, end).toLowerCase();
}

/**
 * Picks the best of `offered` for an Accept field, RFC 9110 §12.5.1.
 *
 * Each offered type takes the q of the most specific media-range that matches it (`text/plain` over
 * `text/*` over `*\/*`), so `text/*, text/plain;q=0` refuses text/plain. Among acceptable types the
 * highest q wins, then the more specific match (the client named it), then `offered` order.
 * Media-range parameters are ignored. Offered types may carry parameters; the element is returned as given.
 *
 * @returns the chosen element of `offered`; the first offered when Accept is absent (§12.5.1: then any type
 * is acceptable), and likewise when it holds no well-formed media-range; null when nothing offered is
 * acceptable (the caller may send 406 or disregard Accept, §12.5.1).
 */
export function chooseMediaType(accept: string | undefined, offered: readonly string[]): string | null {
  const ranges =
    accept === undefined ? [] : parseQualityList(accept).filter((item) => item.value.includes('/'));
  // No usable media-range (absent, empty, or all malformed): treat as absent rather than refuse everything.
  if (ranges.length === 0) return offered[0] ?? null;
  let best: string | null = null;
  let bestQ = 0;
  let bestSpecificity = -1;
  for (const candidate of offered) {
    const type = stripParameters(candidate);
    const slash = type.indexOf('/');
    const major = type.slice(0, slash);
    let q = 0;
    let specificity = -1;
    for (const range of ranges) {
      let rangeSpecificity: number;
      if (range.value === type) rangeSpecificity = 2;
      else if (range.value === '*/*') rangeSpecificity = 0;
      else if (
        range.value.endsWith('/*') &&
        range.value.length === slash + 2 &&
        range.value.startsWith(major)
      ) {
        rangeSpecificity = 1;
      } else continue;
      if (rangeSpecificity > specificity) {
        specificity = rangeSpecificity;
        q = range.q;
      }
    }
    if (q > bestQ || (q === bestQ && q > 0 && specificity > bestSpecificity)) {
      best = candidate;
      bestQ = q;
      bestSpecificity = specificity;
    }
  }
  return best;
}
