/**
 * WebDAV request bodies (RFC 4918 §14) as a small namespace-resolved element tree, and the escaping used
 * to write responses. Parsing is done by `saxes`, a small, maintained, namespace-aware XML parser (the
 * one jsdom uses) that never fetches anything and never expands entities beyond the five predefined
 * ones and character references. On top of it we refuse any DOCTYPE (no internal subset, so no entity
 * bombs), and bound the body's size, the nesting depth and the element count.
 * @module
 */
import type { Readable } from 'node:stream';
import { SaxesParser } from 'saxes';

/** Largest XML request body read; real PROPFIND, PROPPATCH and LOCK bodies are a few hundred bytes (RFC 4918 §20.6). */
export const MAX_XML_BODY_BYTES = 1024 * 1024;
/** Deepest element nesting accepted; dead property values are the only deep part of a body (RFC 4918 §20.6). */
export const MAX_XML_DEPTH = 64;
/** Most elements in one body (RFC 4918 §20.6: bounded work per request). */
export const MAX_XML_ELEMENTS = 10_000;

export const DAV_NS = 'DAV:';

export interface XmlAttribute {
  readonly ns: string;
  readonly local: string;
  readonly value: string;
}

export interface XmlElement {
  /** Namespace URI; '' for no namespace. */
  readonly ns: string;
  readonly local: string;
  readonly attributes: readonly XmlAttribute[];
  readonly children: (XmlElement | string)[];
}

/** A body that could not be accepted: its status (400 malformed, 413 too large) and the one-line reason. */
export class XmlBodyError extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
    this.name = 'XmlBodyError';
  }
}

/** Reads a request body of at most {@link MAX_XML_BODY_BYTES}; null when there is none (or it is empty). */
export async function readXmlBody(
  body: Readable | null,
  declaredLength: number | null,
): Promise<string | null> {
  if (body === null) return null;
  // Refused before a byte is read, so a client waiting for 100 Continue never sends it.
  if (declaredLength !== null && declaredLength > MAX_XML_BODY_BYTES) {
    throw new XmlBodyError(413, `an XML request body may be at most ${MAX_XML_BODY_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_XML_BODY_BYTES) {
      throw new XmlBodyError(413, `an XML request body may be at most ${MAX_XML_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  if (size === 0) return null;
  return Buffer.concat(chunks, size).toString('utf8');
}

/** Parses a WebDAV XML body into its root element, or throws an XmlBodyError (400). */
export function parseXml(text: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let failure: string | null = null;
  let elements = 0;
  parser.on('error', (error) => {
    failure ??= error.message;
  });
  parser.on('doctype', () => {
    failure ??= 'a DOCTYPE is not accepted in a WebDAV body (no DTDs, no entity declarations)';
  });
  parser.on('opentag', (tag) => {
    if (failure !== null) return;
    elements += 1;
    if (elements > MAX_XML_ELEMENTS) failure = `the body has more than ${MAX_XML_ELEMENTS} elements`;
    if (stack.length >= MAX_XML_DEPTH) failure = `elements are nested deeper than ${MAX_XML_DEPTH} levels`;
    if (failure !== null) return;
    const attributes: XmlAttribute[] = [];
    for (const attribute of Object.values(tag.attributes)) {
      if (attribute.prefix === 'xmlns' || (attribute.prefix === '' && attribute.local === 'xmlns')) continue;
      attributes.push({ ns: attribute.uri, local: attribute.local, value: attribute.value });
    }
    const element: XmlElement = { ns: tag.uri ?? '', local: tag.local ?? tag.name, attributes, children: [] };
    const parent = stack[stack.length - 1];
    if (parent !== undefined) parent.children.push(element);
    else root = element;
    stack.push(element);
  });
  parser.on('text', (text) => {
    if (failure !== null) return;
    const parent = stack[stack.length - 1];
    if (parent !== undefined) parent.children.push(text);
  });
  parser.on('cdata', (text) => {
    const parent = stack[stack.length - 1];
    if (failure === null && parent !== undefined) parent.children.push(text);
  });
  parser.on('closetag', () => {
    if (failure === null) stack.pop();
  });
  try {
    parser.write(text).close();
  } catch (error) {
    failure ??= (error as Error).message;
  }
  if (failure !== null) throw new XmlBodyError(400, `the XML body is not accepted: ${failure}`);
  if (root === null) throw new XmlBodyError(400, 'the XML body has no root element');
  return root;
}

/** Whether an element is `{ns}local`. */
export function isElement(node: XmlElement | string, ns: string, local: string): node is XmlElement {
  return typeof node !== 'string' && node.ns === ns && node.local === local;
}

/** The child elements of an element (text between them, whitespace mostly, dropped). */
export function childElements(element: XmlElement): XmlElement[] {
  return element.children.filter((child): child is XmlElement => typeof child !== 'string');
}

/** The first child `{ns}local`, or undefined. */
export function childElement(element: XmlElement, ns: string, local: string): XmlElement | undefined {
  return childElements(element).find((child) => child.ns === ns && child.local === local);
}

/** The concatenated text of an element and its descendants. */
export function textOf(element: XmlElement): string {
  return element.children.map((child) => (typeof child === 'string' ? child : textOf(child))).join('');
}

/** Escapes text for XML character data and attribute values. */
export function escapeXml(text: string): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    let replacement: string | null = null;
    if (code === 0x26) replacement = '&amp;';
    else if (code === 0x3c) replacement = '&lt;';
    else if (code === 0x3e) replacement = '&gt;';
    else if (code === 0x22) replacement = '&quot;';
    else if (code === 0x0d) replacement = '&#13;';
    if (replacement !== null) {
      out += text.slice(last, i) + replacement;
      last = i + 1;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

/**
 * Serialises element content so that it stands alone: every element declares its own default namespace
 * and namespaced attributes get their own prefixes, so the fragment means the same wherever it is put.
 */
export function serializeChildren(element: XmlElement): string {
  return element.children
    .map((child) => (typeof child === 'string' ? escapeXml(child) : serializeElement(child)))
    .join('');
}

function serializeElement(element: XmlElement): string {
  let attributes = '';
  element.attributes.forEach((attribute, index) => {
    if (attribute.ns === '') attributes += ` ${attribute.local}="${escapeXml(attribute.value)}"`;
    else {
      attributes += ` xmlns:a${index}="${escapeXml(attribute.ns)}" a${index}:${attribute.local}="${escapeXml(attribute.value)}"`;
    }
  });
  const open = `<${element.local} xmlns="${escapeXml(element.ns)}"${attributes}`;
  if (element.children.length === 0) return `${open}/>`;
  return `${open}>${serializeChildren(element)}</${element.local}>`;
}
