/**
 * The header block a script prints before its body (RFC 3875 §6), as pure functions: where it ends, and
 * what it means (a document, a local redirect, or an error naming the broken rule).
 * @module
 */
import { isHttpToken } from '../../wire/chars.js';
import type { ResponseHeaders } from '../../wire/message.js';

export type CgiHeadResult =
  | {
      readonly kind: 'document';
      readonly status: number;
      readonly reason: string | undefined;
      readonly headers: ResponseHeaders;
      /** A valid Content-Length from the script, passed to the wire as the body length. */
      readonly length: number | undefined;
    }
  | { readonly kind: 'local-redirect'; readonly location: string }
  | { readonly kind: 'error'; readonly message: string };

/** Fields the wire writes itself, or that only make sense for one hop; a script's copies are dropped. */
const DROPPED_RESPONSE_FIELDS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'transfer-encoding',
  'content-length',
  'date',
  'server',
]);

const CONTROL_CHARACTER = /[\x00-\x08\x0a-\x1f\x7f]/;
const NPH_STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;
const STATUS_FIELD = /^(\d{3})(?:[ \t]+(.*))?$/;
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const DIGITS = /^\d{1,15}$/;

/**
 * Finds the blank line that ends a header block (RFC 3875 §6.2: lines may end in LF or CRLF), starting the
 * search at `from`. Returns the offset of the first body byte, or -1 when the block is not complete.
 */
export function findHeadEnd(buffer: Buffer, from = 0): number {
  let lineStart = from;
  // Back up to the start of the line `from` is in, so a blank line split across reads is found.
  while (lineStart > 0 && buffer[lineStart - 1] !== 0x0a) lineStart--;
  for (;;) {
    const lf = buffer.indexOf(0x0a, lineStart);
    if (lf === -1) return -1;
    const length = lf - lineStart;
    if (length === 0 || (length === 1 && buffer[lineStart] === 0x0d)) return lf + 1;
    lineStart = lf + 1;
  }
}

/**
 * Interprets a script's header block (the text before the blank line, decoded as Latin-1). For an nph
 * script the first line is an HTTP status line and the fields are passed on as they are.
 */
export function parseCgiHead(text: string, nph: boolean): CgiHeadResult {
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) return { kind: 'error', message: 'the script printed an empty header block' };

  let status: number | undefined;
  let reason: string | undefined;
  let first = 0;
  if (nph) {
    const match = NPH_STATUS_LINE.exec(lines[0]!);
    if (match === null) {
      return {
        kind: 'error',
        message: 'an nph- script must start its output with a status line such as "HTTP/1.1 200 OK"',
      };
    }
    status = Number(match[1]);
    reason = match[2] === undefined || match[2] === '' ? undefined : match[2];
    if (status < 200 || status > 599) {
      return { kind: 'error', message: `the nph- script's status ${status} is not a final status (200-599)` };
    }
    first = 1;
  }

  const fields = new Map<string, { name: string; values: string[] }>();
  let length: number | undefined;
  let location: string | undefined;
  let contentType = false;
  for (let index = first; index < lines.length; index++) {
    const line = lines[index]!;
    const lineNumber = index + 1;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      return {
        kind: 'error',
        message: `line ${lineNumber} of the script's header block is folded (starts with whitespace), which is not allowed`,
      };
    }
    const colon = line.indexOf(':');
    if (colon === -1) {
      return {
        kind: 'error',
        message: `line ${lineNumber} of the script's header block has no colon (RFC 3875 §6.3: name ":" value)`,
      };
    }
    const name = line.slice(0, colon);
    if (!isHttpToken(name)) {
      return {
        kind: 'error',
        message: `line ${lineNumber} of the script's header block has an invalid field name`,
      };
    }
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (CONTROL_CHARACTER.test(value)) {
      return {
        kind: 'error',
        message: `the script's ${name} field contains a control character`,
      };
    }
    const lower = name.toLowerCase();
    if (!nph && lower === 'status') {
      // §6.3.3: Status = "Status:" status-code SP reason-phrase.
      if (status !== undefined) return { kind: 'error', message: 'the script printed Status twice' };
      const match = STATUS_FIELD.exec(value);
      const code = match === null ? Number.NaN : Number(match[1]);
      if (match === null || code < 200 || code > 599) {
        return {
          kind: 'error',
          message: 'the Status field must be a three-digit code from 200 to 599 (RFC 3875 §6.3.3)',
        };
      }
      status = code;
      reason = match[2] === undefined || match[2] === '' ? undefined : match[2];
      continue;
    }
    if (lower === 'content-length') {
      // Kept only as the body length when valid; the wire writes the field itself.
      if (DIGITS.test(value)) length = Number(value);
      continue;
    }
    if (nph && lower === 'transfer-encoding') {
      return {
        kind: 'error',
        message: 'an nph- script may not send Transfer-Encoding (the server frames the body itself)',
      };
    }
    if (DROPPED_RESPONSE_FIELDS.has(lower)) continue;
    if (lower === 'location') {
      if (location !== undefined) return { kind: 'error', message: 'the script printed Location twice' };
      location = value;
    }
    if (lower === 'content-type') {
      if (contentType) return { kind: 'error', message: 'the script printed Content-Type twice' };
      contentType = true;
    }
    const entry = fields.get(lower);
    if (entry === undefined) fields.set(lower, { name, values: [value] });
    else entry.values.push(value);
  }

  if (!nph && status === undefined && location === undefined && !contentType) {
    return {
      kind: 'error',
      message: 'the script printed none of Content-Type, Location or Status (RFC 3875 §6.2)',
    };
  }
  if (!nph && location !== undefined) {
    const isPath = location.startsWith('/') && !location.startsWith('//');
    if (!isPath && !ABSOLUTE_URI.test(location) && !location.startsWith('//')) {
      return {
        kind: 'error',
        message: 'the Location field must be an absolute URI or a path starting with "/" (RFC 3875 §6.3.2)',
      };
    }
    // §6.2.2: a local path without a Status is a local redirect; the server answers for that path.
    if (isPath && status === undefined) return { kind: 'local-redirect', location };
    // §6.2.3: a client redirect is a 302 unless the script chose the status.
    if (status === undefined) status = 302;
  }

  const headers: Record<string, string | string[]> = {};
  for (const { name, values } of fields.values()) headers[name] = values.length === 1 ? values[0]! : values;
  return { kind: 'document', status: status ?? 200, reason, headers, length };
}
