/**
 * Byte classes from RFC 9110 §5.6.2 (tchar) and §5.5 (field-vchar), as lookup tables so the parser
 * never needs a regular expression.
 * @module
 */

/** tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
export const IS_TCHAR: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  for (const ch of "!#$%&'*+-.^_`|~") table[ch.charCodeAt(0)] = 1;
  return table;
})();

/** Bytes allowed in a field value: HTAB, SP, VCHAR and obs-text (RFC 9110 §5.5); never CR, LF, NUL or DEL. */
export const IS_FIELD_VALUE_BYTE: Uint8Array = (() => {
  const table = new Uint8Array(256);
  table[0x09] = 1;
  for (let c = 0x20; c <= 0x7e; c++) table[c] = 1;
  for (let c = 0x80; c <= 0xff; c++) table[c] = 1;
  return table;
})();

/** Bytes allowed in a request-target: visible US-ASCII (RFC 3986 characters and percent-escapes). */
export const IS_TARGET_BYTE: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let c = 0x21; c <= 0x7e; c++) table[c] = 1;
  // '#' starts a fragment, which is never part of a request-target (RFC 9112 §3.2).
  table[0x23] = 0;
  return table;
})();

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;

/**
 * A non-empty token (RFC 9110 §5.6.2): the one string check for field names, methods and parameter
 * values outside the parser's byte loops, which index IS_TCHAR themselves.
 */
export function isHttpToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    if (IS_TCHAR[value.charCodeAt(i)] !== 1) return false;
  }
  return true;
}
