/**
 * Entity tags, RFC 9110 §8.8.3: generation, list parsing and the two comparison functions.
 * @module
 */
import { isOws, trimOws } from './syntax.js';

/** A parsed entity-tag. `opaque` is the opaque-tag including its double quotes, RFC 9110 §8.8.3. */
export interface EntityTag {
  weak: boolean;
  opaque: string;
}

/** The value of If-Match / If-None-Match: `"*" / #entity-tag`, RFC 9110 §13.1.1 and §13.1.2. */
export type EntityTagList = { any: true } | { any: false; tags: EntityTag[] };

/** `etagc = %x21 / %x23-7E / obs-text`, RFC 9110 §8.8.3. */
function isEtagc(code: number): boolean {
  return code === 0x21 || (code >= 0x23 && code <= 0x7e) || (code >= 0x80 && code <= 0xff);
}

function assertEtagcs(text: string, what: string): void {
  for (let i = 0; i < text.length; i++) {
    if (!isEtagc(text.charCodeAt(i)))
      throw new TypeError(`${what} contains a character not allowed in an ETag`);
  }
}

/**
 * A strong ETag for a file from its size and modification time only, so that the same file served from
 * different inodes (copies, replicas behind a balancer) gets the same validator.
 * Sub-millisecond mtime precision is dropped: it is not stable across file systems.
 */
export function makeFileEtag(size: number, mtimeMs: number): string {
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

/** A strong ETag from a content hash (hex), for representations generated in memory. */
export function makeContentEtag(hashHex: string): string {
  assertEtagcs(hashHex, 'hash');
  return `"${hashHex}"`;
}

/**
 * The ETag of a content-coded variant of a representation. RFC 9110 §8.8.3 requires different
 * representations of the same resource to have different strong ETags, and a gzip body is a different
 * representation from the identity body (§8.4), so the coding goes inside the opaque-tag.
 * The weak prefix, if any, is kept.
 * @throws TypeError when `etag` is not an entity-tag or `encoding` has characters an ETag cannot carry.
 */
export function withEncodingSuffix(etag: string, encoding: string): string {
  const tag = parseEntityTag(etag);
  if (tag === null) throw new TypeError(`Not an entity-tag: ${etag}`);
  assertEtagcs(encoding, 'encoding');
  return `${tag.weak ? 'W/' : ''}${tag.opaque.slice(0, -1)}-${encoding}"`;
}

/**
 * Reads one entity-tag starting at `pos`; returns it and the index just past it, or null on a syntax error.
 * `entity-tag = [ weak ] opaque-tag`, `weak = %s"W/"` (case-sensitive), RFC 9110 §8.8.3.
 */
function readEntityTag(text: string, pos: number): { tag: EntityTag; end: number } | null {
  let weak = false;
  if (text.charCodeAt(pos) === 0x57 && text.charCodeAt(pos + 1) === 0x2f) {
    weak = true;
    pos += 2;
  }
  if (text.charCodeAt(pos) !== 0x22) return null;
  let i = pos + 1;
  while (i < text.length && isEtagc(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== 0x22) return null;
  return { tag: { weak, opaque: text.slice(pos, i + 1) }, end: i + 1 };
}

/** Parses a single entity-tag (ETag field value or If-Range), or null when it is not exactly one. */
export function parseEntityTag(value: string): EntityTag | null {
  const text = trimOws(value);
  const read = readEntityTag(text, 0);
  return read !== null && read.end === text.length ? read.tag : null;
}

/**
 * Parses an If-Match / If-None-Match field value: `"*"` or a comma-separated list of entity-tags,
 * RFC 9110 §13.1.1. Empty list elements are skipped as §5.6.1 requires of recipients.
 * Returns null on any syntax error (including an empty list or `*` mixed with tags), so the caller can
 * decide how to treat an unparseable precondition.
 */
export function parseEntityTagList(value: string): EntityTagList | null {
  const text = trimOws(value);
  if (text === '*') return { any: true };
  const tags: EntityTag[] = [];
  let pos = 0;
  while (pos < text.length) {
    const code = text.charCodeAt(pos);
    if (code === 0x2c || isOws(code)) {
      pos++;
      continue;
    }
    const read = readEntityTag(text, pos);
    if (read === null) return null;
    tags.push(read.tag);
    pos = read.end;
    // After an element: OWS, then a comma or the end.
    while (pos < text.length && isOws(text.charCodeAt(pos))) pos++;
    if (pos < text.length && text.charCodeAt(pos) !== 0x2c) return null;
  }
  return tags.length === 0 ? null : { any: false, tags };
}

function toEntityTag(value: EntityTag | string): EntityTag | null {
  return typeof value === 'string' ? parseEntityTag(value) : value;
}

/**
 * Strong comparison, RFC 9110 §8.8.3.2: both tags strong and their opaque-tags identical.
 * Strings that are not entity-tags never match.
 */
export function strongCompare(a: EntityTag | string, b: EntityTag | string): boolean {
  const x = toEntityTag(a);
  const y = toEntityTag(b);
  return x !== null && y !== null && !x.weak && !y.weak && x.opaque === y.opaque;
}

/**
 * Weak comparison, RFC 9110 §8.8.3.2: opaque-tags identical, either or both may be weak.
 * Strings that are not entity-tags never match.
 */
export function weakCompare(a: EntityTag | string, b: EntityTag | string): boolean {
  const x = toEntityTag(a);
  const y = toEntityTag(b);
  return x !== null && y !== null && x.opaque === y.opaque;
}
