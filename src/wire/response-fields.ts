/**
 * Which response fields belong to the transport rather than to the handler, for every transport at once
 * (the HTTP/1.1 wire, HTTP/2 and the node:http adapter). A handler's copy of one of these is dropped, so
 * it can never contradict the framing the transport chose, and the field checks every transport applies.
 * @module
 */
import type { ResponseHeaders } from './message.js';

/** The transports that map a `ResponseDescription` onto the network. */
export type Transport = 'http/1.1' | 'h2' | 'node:http';

/**
 * Field name (lower case) → the transports that write it themselves or must not send it.
 * - `date`, `server`: the transport's own (RFC 9110 §6.6.1, §10.2.4), one copy per response.
 * - `content-length`, `transfer-encoding`: the framing, decided from the body (RFC 9112 §6).
 * - `connection`, `keep-alive`: connection management, the transport's decision (RFC 9112 §9).
 * - `proxy-connection`, `upgrade`: connection-specific, forbidden in HTTP/2 (RFC 9113 §8.2.2).
 */
const TRANSPORT_OWNED: ReadonlyMap<string, readonly Transport[]> = new Map(
  Object.entries({
    date: ['http/1.1', 'h2', 'node:http'],
    server: ['http/1.1', 'h2', 'node:http'],
    'content-length': ['http/1.1', 'h2', 'node:http'],
    'transfer-encoding': ['http/1.1', 'h2', 'node:http'],
    connection: ['http/1.1', 'h2', 'node:http'],
    'keep-alive': ['http/1.1', 'h2', 'node:http'],
    'proxy-connection': ['h2'],
    upgrade: ['h2'],
  } satisfies Record<string, readonly Transport[]>),
);

const OWNED_BY: Readonly<Record<Transport, ReadonlySet<string>>> = {
  'http/1.1': ownedBy('http/1.1'),
  h2: ownedBy('h2'),
  'node:http': ownedBy('node:http'),
};

function ownedBy(transport: Transport): ReadonlySet<string> {
  const names = new Set<string>();
  for (const [name, transports] of TRANSPORT_OWNED) if (transports.includes(transport)) names.add(name);
  return names;
}

/** The lower-case names a transport writes itself (or must not send), so a handler's copy is dropped. */
export function transportOwnedFields(transport: Transport): ReadonlySet<string> {
  return OWNED_BY[transport];
}

/** Thrown for a handler-supplied field that would break the message (response splitting). */
export class InvalidResponseFieldError extends Error {
  constructor(name: string) {
    super(
      `response field "${name}" has an invalid name, or a CR, LF, NUL or non-Latin-1 character in its value`,
    );
    this.name = 'InvalidResponseFieldError';
  }
}

/** A field value may not carry CR, LF or NUL (RFC 9110 §5.5), nor anything a latin1 byte cannot hold. */
export function isSafeFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0x00 || c > 0xff) return false;
  }
  return true;
}

/** A field name is a token (RFC 9110 §5.1): visible ASCII without the colon. */
export function isSafeFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x3a) return false;
  }
  return true;
}

/**
 * The handler's fields a transport sends, checked: transport-owned ones dropped, each value a string (a
 * list stays a list), and an `InvalidResponseFieldError` for a name or value that would split the message.
 */
export function checkedResponseFields(
  headers: ResponseHeaders | undefined,
  transport: Transport,
): Array<[string, string | string[]]> {
  const fields: Array<[string, string | string[]]> = [];
  if (headers === undefined) return fields;
  const owned = OWNED_BY[transport];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || owned.has(name.toLowerCase())) continue;
    if (!isSafeFieldName(name)) throw new InvalidResponseFieldError(name);
    if (typeof value === 'object') {
      for (const item of value) if (!isSafeFieldValue(item)) throw new InvalidResponseFieldError(name);
      fields.push([name, [...value]]);
    } else {
      const text = typeof value === 'number' ? String(value) : value;
      if (!isSafeFieldValue(text)) throw new InvalidResponseFieldError(name);
      fields.push([name, text]);
    }
  }
  return fields;
}
