/**
 * Character-class helpers shared by the field-value parsers. Each works on char codes so the parsers
 * can walk a field value once without regular expressions.
 * @module
 */

/** SP or HTAB: optional whitespace, RFC 9110 §5.6.3. */
export function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** DIGIT, RFC 5234 Appendix B.1. */
export function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** Removes leading and trailing OWS (not other whitespace, which is not OWS in HTTP). */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}
