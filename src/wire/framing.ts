/**
 * How long a request's content is (RFC 9112 §6.3): Transfer-Encoding and Content-Length decided in the
 * RFC's order, every ambiguity a 400 and a close; plus the list and digit checks the response-head parser
 * uses for the same fields.
 * @module
 */
import { isHttpToken } from './chars.js';
import { ProtocolError } from './errors.js';
import type { WireLimits } from './limits.js';

/** How the request content is delimited (RFC 9112 §6.3). */
export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' };

const NO_BODY: BodyFraming = Object.freeze({ kind: 'none' });
const CHUNKED: BodyFraming = Object.freeze({ kind: 'chunked' });
/** Content-Length values longer than this cannot be a safe integer; refusing them avoids overflow. */
const MAX_CONTENT_LENGTH_DIGITS = 15;

/** RFC 9112 §6.3: the rules, in order, for how long the body is; every ambiguity is a 400 and a close. */
export function decideFraming(
  version: '1.0' | '1.1',
  contentLengths: readonly string[],
  transferEncodings: readonly string[],
  limits: WireLimits,
): BodyFraming | ProtocolError {
  if (transferEncodings.length > 0) {
    if (contentLengths.length > 0) {
      // §6.3 rule 3: a request with both is a smuggling attempt or a broken intermediary.
      return new ProtocolError(
        'BAD_TRANSFER_ENCODING',
        'the request has both Transfer-Encoding and Content-Length (RFC 9112 §6.3)',
      );
    }
    if (version === '1.0') {
      // §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
      return new ProtocolError('BAD_TRANSFER_ENCODING', 'an HTTP/1.0 request cannot use Transfer-Encoding');
    }
    const codings: string[] = [];
    for (const value of transferEncodings) {
      for (const part of value.split(',')) {
        const coding = part.trim().toLowerCase();
        if (coding.length > 0) codings.push(coding);
      }
    }
    if (codings.length === 0)
      return new ProtocolError('BAD_TRANSFER_ENCODING', 'the Transfer-Encoding field is empty');
    const chunkedAt = codings.indexOf('chunked');
    if (chunkedAt !== codings.length - 1 || codings.lastIndexOf('chunked') !== chunkedAt) {
      return new ProtocolError(
        'BAD_TRANSFER_ENCODING',
        'chunked must be the last transfer coding, applied once (RFC 9112 §6.3)',
      );
    }
    for (const coding of codings) {
      if (coding === 'chunked') continue;
      if (!isHttpToken(coding)) {
        return new ProtocolError(
          'BAD_TRANSFER_ENCODING',
          'the Transfer-Encoding field is not a list of tokens',
        );
      }
      return new ProtocolError(
        'UNSUPPORTED_TRANSFER_CODING',
        `the transfer coding "${coding}" is not supported`,
      );
    }
    return CHUNKED;
  }
  if (contentLengths.length > 0) {
    const n = agreedContentLength(contentLengths);
    if (typeof n !== 'number') {
      return new ProtocolError(
        'BAD_CONTENT_LENGTH',
        n.fault === 'not-a-number'
          ? `Content-Length "${n.value}" is not a decimal number`
          : n.fault === 'too-large'
            ? 'Content-Length is too large to be a valid length'
            : 'the request has Content-Length values that differ',
      );
    }
    if (n > limits.maxBodyBytes) {
      return new ProtocolError(
        'BODY_TOO_LARGE',
        `the request body is larger than ${limits.maxBodyBytes} bytes`,
      );
    }
    return n === 0 ? NO_BODY : { kind: 'length', length: n };
  }
  return NO_BODY;
}

/** Why a set of Content-Length values gives no one length (RFC 9112 §6.3, item 5). */
export type ContentLengthFault =
  | { readonly fault: 'not-a-number'; readonly value: string }
  | { readonly fault: 'too-large' }
  | { readonly fault: 'differ' };

/**
 * The one length a request's or a response's Content-Length values agree on (a list of equal values, as
 * a proxy may have joined them, is that value: RFC 9110 §8.6), or what is wrong with them.
 */
export function agreedContentLength(values: readonly string[]): number | ContentLengthFault {
  let length: string | undefined;
  for (const value of values) {
    for (const part of value.split(',')) {
      const candidate = part.trim();
      if (!isDigits(candidate)) return { fault: 'not-a-number', value };
      if (candidate.length > MAX_CONTENT_LENGTH_DIGITS) return { fault: 'too-large' };
      if (length !== undefined && Number(length) !== Number(candidate)) return { fault: 'differ' };
      length = candidate;
    }
  }
  return Number(length);
}

function isDigits(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Whether a lower-cased comma-separated list contains `token` as a whole element. */
export function hasListToken(list: string, token: string): boolean {
  let from = 0;
  while (from <= list.length) {
    const at = list.indexOf(token, from);
    if (at === -1) return false;
    const before = list.slice(0, at).trimEnd();
    const after = list.slice(at + token.length).trimStart();
    if ((before.length === 0 || before.endsWith(',')) && (after.length === 0 || after.startsWith(',')))
      return true;
    from = at + 1;
  }
  return false;
}
