/**
 * Response heads as bytes: the status line, the fields a handler gave, and the fields only the wire can
 * know (Date, Server, Connection and the framing field).
 * @module
 */
import type { ResponseHeaders } from './message.js';
import {
  InvalidResponseFieldError,
  isSafeFieldName,
  isSafeFieldValue,
  transportOwnedFields,
} from './response-fields.js';
import { reasonPhrase } from './status.js';

let cachedSecond = -1;
let cachedDateLine = '';

/**
 * `Date: <IMF-fixdate>\r\n` (RFC 9110 §5.6.7, §6.6.1), formatted at most once per second: the clock is read
 * on every call but the string is only rebuilt when the second changes.
 */
export function dateFieldLine(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    // toUTCString() produces exactly IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
    cachedDateLine = `Date: ${new Date(second * 1000).toUTCString()}\r\n`;
  }
  return cachedDateLine;
}

const statusAndDateCache = new Map<number, Buffer>();
let statusAndDateSecond = -1;

/** `HTTP/1.1 <status> <reason>\r\nDate: …\r\n` as bytes, rebuilt only when the second changes. */
export function statusAndDateBytes(status: number, now = Date.now()): Buffer {
  const second = Math.floor(now / 1000);
  if (second !== statusAndDateSecond) {
    statusAndDateSecond = second;
    statusAndDateCache.clear();
  }
  let bytes = statusAndDateCache.get(status);
  if (bytes === undefined) {
    bytes = Buffer.from(`${statusLine(status, undefined)}${dateFieldLine(now)}`, 'latin1');
    statusAndDateCache.set(status, bytes);
  }
  return bytes;
}

/** Field names the wire writes itself; a handler's copies are dropped so they cannot contradict the framing. */
const WIRE_OWNED_FIELDS = transportOwnedFields('http/1.1');

export { InvalidResponseFieldError };

/** Serialises handler-supplied fields, checking each so a bad value becomes a 500 rather than a split response. */
export function serializeFields(headers: ResponseHeaders | undefined): string {
  if (headers === undefined) return '';
  let out = '';
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (WIRE_OWNED_FIELDS.has(name.toLowerCase())) continue;
    if (!isSafeFieldName(name)) throw new InvalidResponseFieldError(name);
    if (typeof value === 'object') {
      for (const item of value) {
        if (!isSafeFieldValue(item)) throw new InvalidResponseFieldError(name);
        out += `${name}: ${item}\r\n`;
      }
    } else {
      const text = typeof value === 'number' ? String(value) : value;
      if (!isSafeFieldValue(text)) throw new InvalidResponseFieldError(name);
      out += `${name}: ${text}\r\n`;
    }
  }
  return out;
}

/** A frozen fields object serialised, with and without its `Content-Length` line. */
interface FieldBlock {
  serverLine: string;
  fields: string;
  /** For a bodiless status (304): no framing field. */
  bare: Buffer | null;
  sizedLength: number;
  sized: Buffer | null;
}

const fieldBlocks = new WeakMap<ResponseHeaders, FieldBlock>();

/**
 * `Server`, the handler's fields and `Content-Length` (unless `length` is null) as bytes, for a *frozen*
 * fields object: serialised the first time and reused, so a hot cached response costs no header strings
 * (the cache returns the same frozen object for the same representation, 200 and 304 alike).
 */
export function frozenFieldBlock(
  headers: ResponseHeaders,
  serverLine: string,
  length: number | null,
): Buffer {
  let block = fieldBlocks.get(headers);
  if (block === undefined || block.serverLine !== serverLine) {
    block = { serverLine, fields: serializeFields(headers), bare: null, sizedLength: -1, sized: null };
    fieldBlocks.set(headers, block);
  }
  if (length === null) {
    block.bare ??= Buffer.from(`${serverLine}${block.fields}`, 'latin1');
    return block.bare;
  }
  if (block.sized === null || block.sizedLength !== length) {
    block.sized = Buffer.from(`${serverLine}${block.fields}Content-Length: ${length}\r\n`, 'latin1');
    block.sizedLength = length;
  }
  return block.sized;
}

export function statusLine(status: number, reason: string | undefined): string {
  return `HTTP/1.1 ${status} ${reason ?? reasonPhrase(status)}\r\n`;
}
