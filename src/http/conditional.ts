/**
 * Conditional requests, RFC 9110 §13: evaluating If-Match, If-Unmodified-Since, If-None-Match,
 * If-Modified-Since (in the §13.2.2 order) and If-Range.
 *
 * The caller evaluates preconditions only when the unconditional response would be 2xx (§13.2.1), so the
 * selected representation exists whenever these functions run; that is what makes `If-Match: *` true and
 * `If-None-Match: *` false.
 * @module
 */
import { parseHttpDate } from './date.js';
import { type EntityTag, parseEntityTag, parseEntityTagList, strongCompare, weakCompare } from './etag.js';
import { trimOws } from './syntax.js';

/** The current validators of the selected representation, RFC 9110 §8.8. */
export interface Validators {
  /** The ETag field value that would be sent (strong or weak). */
  etag?: string;
  /** The modification time that Last-Modified would carry, in epoch ms (any sub-second part is ignored). */
  lastModifiedMs?: number;
}

export type PreconditionOutcome = 'proceed' | 'not-modified' | 'precondition-failed';

/** HTTP-date resolution: validators compare in whole seconds, RFC 9110 §5.6.7 and §8.8.2. */
export const HTTP_DATE_RESOLUTION_MS = 1000;

function toSeconds(ms: number): number {
  return Math.floor(ms / HTTP_DATE_RESOLUTION_MS);
}

function currentEtag(validators: Validators): EntityTag | null {
  return validators.etag === undefined ? null : parseEntityTag(validators.etag);
}

/**
 * If-Match, RFC 9110 §13.1.1: true for `*` (the representation exists), or when any listed tag matches the
 * current ETag by strong comparison — so a weak tag on either side never matches.
 * An unparseable value is false: If-Match guards against lost updates, so when in doubt do not proceed.
 */
function ifMatchHolds(value: string, validators: Validators): boolean {
  const list = parseEntityTagList(value);
  if (list === null) return false;
  if (list.any) return true;
  const current = currentEtag(validators);
  if (current === null) return false;
  return list.tags.some((tag) => strongCompare(tag, current));
}

/**
 * If-None-Match, RFC 9110 §13.1.2: false for `*` (the representation exists), or when any listed tag
 * matches the current ETag by weak comparison.
 * An unparseable value is true (no match): the client then simply gets the full response.
 */
function ifNoneMatchHolds(value: string, validators: Validators): boolean {
  const list = parseEntityTagList(value);
  if (list === null) return true;
  if (list.any) return false;
  const current = currentEtag(validators);
  if (current === null) return true;
  return !list.tags.some((tag) => weakCompare(tag, current));
}

/**
 * Evaluates the request preconditions in the order RFC 9110 §13.2.2 prescribes:
 * 1. If-Match present and false → 412; else, if absent,
 * 2. If-Unmodified-Since (a valid date, with Last-Modified known) later than Last-Modified → 412;
 * 3. If-None-Match present and false → 304 for GET/HEAD, 412 otherwise; else, if absent,
 * 4. for GET/HEAD, If-Modified-Since (a valid date, with Last-Modified known) not earlier than
 *    Last-Modified → 304;
 * 5. otherwise proceed (If-Range is the caller's next step, see {@link isIfRangeSatisfied}).
 * Invalid dates are ignored (§13.1.3, §13.1.4). Methods are case-sensitive (§9.1).
 */
export function evaluatePreconditions(
  method: string,
  headers: Record<string, string>,
  validators: Validators,
): PreconditionOutcome {
  const isGetOrHead = method === 'GET' || method === 'HEAD';
  const lastModified = validators.lastModifiedMs;

  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    if (!ifMatchHolds(ifMatch, validators)) return 'precondition-failed';
  } else {
    const ifUnmodifiedSince = headers['if-unmodified-since'];
    if (ifUnmodifiedSince !== undefined && lastModified !== undefined) {
      const date = parseHttpDate(ifUnmodifiedSince);
      // §13.1.4: false when the representation was modified after the given date.
      if (date !== null && toSeconds(lastModified) > toSeconds(date)) return 'precondition-failed';
    }
  }

  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (!ifNoneMatchHolds(ifNoneMatch, validators))
      return isGetOrHead ? 'not-modified' : 'precondition-failed';
  } else if (isGetOrHead) {
    const ifModifiedSince = headers['if-modified-since'];
    if (ifModifiedSince !== undefined && lastModified !== undefined) {
      const date = parseHttpDate(ifModifiedSince);
      // §13.1.3: false (not modified) when Last-Modified is earlier than or equal to the given date.
      if (date !== null && toSeconds(lastModified) <= toSeconds(date)) return 'not-modified';
    }
  }

  return 'proceed';
}

/**
 * If-Range, RFC 9110 §13.1.5: whether a Range header may be honoured.
 * - An entity-tag must be strong and match the current ETag by strong comparison.
 * - An HTTP-date must exactly equal Last-Modified (at one-second resolution), and Last-Modified must be a
 *   strong validator: per §8.8.2.2 it is only when the file could not have changed twice within that
 *   second, so when `nowMs` is given and falls in the same second as Last-Modified (or earlier), the date
 *   is not trusted.
 * Anything else (including an unparseable value) is false: serve the whole representation.
 */
export function isIfRangeSatisfied(ifRange: string, validators: Validators, nowMs?: number): boolean {
  const text = trimOws(ifRange);
  // An entity-tag starts with DQUOTE or `W/`; an HTTP-date starts with a day name (which may be `Wed`).
  if (text.charCodeAt(0) === 0x22 || text.startsWith('W/')) {
    const tag = parseEntityTag(text);
    if (tag === null || tag.weak) return false;
    return validators.etag !== undefined && strongCompare(tag, validators.etag);
  }
  const date = parseHttpDate(text);
  const lastModified = validators.lastModifiedMs;
  if (date === null || lastModified === undefined) return false;
  if (nowMs !== undefined && toSeconds(nowMs) <= toSeconds(lastModified)) return false;
  return toSeconds(date) === toSeconds(lastModified);
}
