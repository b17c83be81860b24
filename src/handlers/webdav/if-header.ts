/**
 * The WebDAV `If` request header (RFC 4918 §10.4): parsing into lists of conditions, and evaluation
 * against the state of the resources it names. Pure: the caller supplies what the server knows.
 *
 *     If = ( 1*No-tag-list | 1*Tagged-list )
 *     No-tag-list = List
 *     Tagged-list = Resource-Tag 1*List
 *     List = "(" 1*Condition ")"
 *     Condition = ["Not"] (State-token | "[" entity-tag "]")
 *     State-token = Coded-URL   ; "<" absolute-URI ">"
 *     Resource-Tag = "<" Simple-ref ">"
 * @module
 */

/** Longest If header parsed; a real client sends a few tokens (RFC 9110 §5.4 leaves field sizes to servers). */
export const MAX_IF_HEADER_LENGTH = 16 * 1024;

export interface IfCondition {
  readonly not: boolean;
  readonly kind: 'token' | 'etag';
  /** The state token (without angle brackets) or the entity-tag (with its quotes and any W/). */
  readonly value: string;
}

export interface IfList {
  /** The Resource-Tag (absolute URI or path) the list applies to; null for the request's own URI. */
  readonly resource: string | null;
  readonly conditions: readonly IfCondition[];
}

/** Parses an If header; null when it does not follow the grammar (the request then gets 400). */
export function parseIfHeader(value: string): IfList[] | null {
  if (value.length > MAX_IF_HEADER_LENGTH) return null;
  const lists: IfList[] = [];
  let i = 0;
  let resource: string | null = null;
  let tagged: boolean | null = null;
  const skipSpace = () => {
    while (i < value.length && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  /** Reads from `open` up to the matching `close`; null when it never closes. */
  const readDelimited = (close: string): string | null => {
    const end = value.indexOf(close, i + 1);
    if (end === -1) return null;
    const inner = value.slice(i + 1, end);
    i = end + 1;
    return inner;
  };
  skipSpace();
  if (i >= value.length) return null;
  while (i < value.length) {
    const c = value[i];
    if (c === '<') {
      if (tagged === false) return null;
      tagged = true;
      const tag = readDelimited('>');
      if (tag === null || tag === '') return null;
      resource = tag;
      skipSpace();
      if (value[i] !== '(') return null;
      continue;
    }
    if (c !== '(') return null;
    if (tagged === null) tagged = false;
    i++;
    const conditions: IfCondition[] = [];
    for (;;) {
      skipSpace();
      if (i >= value.length) return null;
      if (value[i] === ')') {
        i++;
        break;
      }
      let not = false;
      if (value.slice(i, i + 3).toLowerCase() === 'not') {
        not = true;
        i += 3;
        skipSpace();
      }
      if (value[i] === '<') {
        const token = readDelimited('>');
        if (token === null || token === '') return null;
        conditions.push({ not, kind: 'token', value: token });
      } else if (value[i] === '[') {
        const etag = readDelimited(']');
        if (etag === null || etag.trim() === '') return null;
        conditions.push({ not, kind: 'etag', value: etag.trim() });
      } else return null;
    }
    if (conditions.length === 0) return null;
    lists.push({ resource: tagged ? resource : null, conditions });
    skipSpace();
  }
  return lists;
}

/** What the server knows about one resource an If list applies to. */
export interface ResourceState {
  /** The current strong ETag, or null when the resource does not exist (or has none). */
  readonly etag: string | null;
  /** Whether this state token names a lock that currently covers the resource. */
  hasLock(token: string): boolean;
}

/** The two ETags match strongly (RFC 9110 §8.8.3.2); a weak tag never matches. */
function etagMatches(given: string, current: string | null): boolean {
  return current !== null && !given.startsWith('W/') && !current.startsWith('W/') && given === current;
}

/** One list is true when every condition in it is (RFC 4918 §10.4.2). */
export function evaluateIfList(list: IfList, state: ResourceState): boolean {
  return list.conditions.every((condition) => {
    const holds =
      condition.kind === 'token' ? state.hasLock(condition.value) : etagMatches(condition.value, state.etag);
    return condition.not ? !holds : holds;
  });
}

/** The state tokens the header submits (RFC 4918 §10.4.1): those not under Not. */
export function submittedTokens(lists: readonly IfList[]): Set<string> {
  const tokens = new Set<string>();
  for (const list of lists) {
    for (const condition of list.conditions) {
      if (condition.kind === 'token' && !condition.not) tokens.add(condition.value);
    }
  }
  return tokens;
}
