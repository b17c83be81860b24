/**
 * `207 Multi-Status` bodies (RFC 4918 §13) and the XML error bodies of WebDAV preconditions (§16).
 * PROPFIND answers are produced one `D:response` at a time by an async generator, so a folder of 10,000
 * entries streams out with the socket's backpressure instead of being built as one string.
 * @module
 */
import { Readable } from 'node:stream';
import type { ResponseDescription } from '../../wire/message.js';
import { reasonPhrase } from '../../wire/status.js';
import { errorLine } from '../errors.js';
import { escapeXml } from './xml.js';

export const XML_CONTENT_TYPE = 'application/xml; charset=utf-8';
const XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n';
export const MULTISTATUS_OPEN = `${XML_DECLARATION}<D:multistatus xmlns:D="DAV:">\n`;
export const MULTISTATUS_CLOSE = '</D:multistatus>\n';

/** `HTTP/1.1 200 OK`, the status line inside a `D:status` element. */
export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${reasonPhrase(status)}`;
}

/** One `D:propstat` with its `D:prop` content already serialised. */
export function propstat(propContent: string, status: number, description?: string): string {
  const note =
    description === undefined
      ? ''
      : `<D:responsedescription>${escapeXml(description)}</D:responsedescription>`;
  return `<D:propstat><D:prop>${propContent}</D:prop><D:status>${statusLine(status)}</D:status>${note}</D:propstat>`;
}

/** A 207 whose body is generated piece by piece. */
export function streamedMultistatus(
  pieces: AsyncIterable<string>,
  headers: Record<string, string> = {},
): ResponseDescription {
  async function* document() {
    yield MULTISTATUS_OPEN;
    for await (const piece of pieces) yield piece;
    yield MULTISTATUS_CLOSE;
  }
  return {
    status: 207,
    headers: { 'Content-Type': XML_CONTENT_TYPE, ...headers },
    body: { kind: 'stream', stream: Readable.from(document(), { objectMode: false }) },
  };
}

/** A small 207 built at once (PROPPATCH: one resource). */
export function multistatus(responses: string): ResponseDescription {
  return {
    status: 207,
    headers: { 'Content-Type': XML_CONTENT_TYPE },
    body: { kind: 'bytes', data: `${MULTISTATUS_OPEN}${responses}${MULTISTATUS_CLOSE}` },
  };
}

/**
 * An error with a WebDAV precondition or postcondition code (RFC 4918 §16): a `D:error` body naming the
 * condition, with the one-line reason as a comment, so both a DAV client and a person reading it learn
 * what rule was broken.
 */
export function conditionResponse(
  status: number,
  condition: string,
  message: string,
  hrefs: readonly string[] = [],
  headers: Record<string, string> = {},
): ResponseDescription {
  const inner = hrefs.map((href) => `<D:href>${escapeXml(href)}</D:href>`).join('');
  const comment = errorLine(status, message).replaceAll('--', '- -');
  const element = inner === '' ? `<D:${condition}/>` : `<D:${condition}>${inner}</D:${condition}>`;
  const body = `${XML_DECLARATION}<!-- ${comment} -->\n<D:error xmlns:D="DAV:">${element}</D:error>\n`;
  return {
    status,
    headers: { ...headers, 'Content-Type': XML_CONTENT_TYPE, 'X-Content-Type-Options': 'nosniff' },
    body: { kind: 'bytes', data: body },
  };
}
