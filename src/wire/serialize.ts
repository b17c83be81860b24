/**
 * Response heads as bytes: the status line, the fields a handler gave, and the fields only the wire can
 * know (Date, Server, Connection and the framing field).
 * @module
 */
import type { ResponseHeaders } from './message.js';
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
const WIRE_OWNED_FIELDS = new Set([
  'date',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
]);

/** Thrown for a handler-supplied field that would break the message (response splitting). */
export class InvalidResponseFieldError extends Error {
  constructor(name: string) {
    super(
      `response field "${name}" has an invalid name, or a CR, LF, NUL or non-Latin-1 character in its value`,
    );
    this.name = 'InvalidResponseFieldError';
  }
}

function isSafeFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0x00 || c > 0xff) return false;
  }
  return true;
}

function isSafeFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x3a) return false;
  }
  return true;
}

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

export function statusLine(status: number, reason: string | undefined): string {
  return `HTTP/1.1 ${status} ${reason ?? reasonPhrase(status)}\r\n`;
}
