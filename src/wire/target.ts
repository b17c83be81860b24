/**
 * The request-target (RFC 9112 §3.2): its four forms split into path, query and authority, and the
 * uri-host check (RFC 3986 §3.2.2) the Host field uses too.
 * @module
 */
import { ProtocolError } from './errors.js';

interface TargetParts {
  path: string;
  query: string;
  authority: string | undefined;
}

/** The four request-target forms of RFC 9112 §3.2. */
export function parseTarget(method: string, target: string): TargetParts | ProtocolError {
  const first = target.charCodeAt(0);
  if (first === 0x2f /* / */) return splitPathAndQuery(target, undefined);
  if (target === '*') {
    if (method !== 'OPTIONS') {
      return new ProtocolError(
        'BAD_TARGET',
        'the asterisk-form request-target "*" is only allowed with OPTIONS',
      );
    }
    return { path: '*', query: '', authority: undefined };
  }
  if (method === 'CONNECT') {
    if (!isValidHost(target) || target.length === 0) {
      return new ProtocolError('BAD_TARGET', 'CONNECT needs an authority-form request-target (host:port)');
    }
    return { path: '', query: '', authority: target };
  }
  const schemeEnd = target.indexOf('://');
  if (schemeEnd > 0) {
    const scheme = target.slice(0, schemeEnd).toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') {
      return new ProtocolError(
        'BAD_TARGET',
        `the absolute-form request-target has an unsupported scheme "${scheme}"`,
      );
    }
    const authorityStart = schemeEnd + 3;
    let authorityEnd = authorityStart;
    while (authorityEnd < target.length) {
      const c = target.charCodeAt(authorityEnd);
      if (c === 0x2f || c === 0x3f) break;
      authorityEnd++;
    }
    const authority = target.slice(authorityStart, authorityEnd);
    if (authority.length === 0 || authority.includes('@') || !isValidHost(authority)) {
      return new ProtocolError('BAD_TARGET', 'the absolute-form request-target has an invalid authority');
    }
    const rest = target.slice(authorityEnd);
    return splitPathAndQuery(rest.charCodeAt(0) === 0x3f || rest.length === 0 ? `/${rest}` : rest, authority);
  }
  return new ProtocolError(
    'BAD_TARGET',
    'the request-target must start with "/" (origin-form) or be an absolute URI',
  );
}

function splitPathAndQuery(target: string, authority: string | undefined): TargetParts {
  const q = target.indexOf('?');
  if (q === -1) return { path: target, query: '', authority };
  return { path: target.slice(0, q), query: target.slice(q + 1), authority };
}

/** uri-host [":" port] (RFC 3986 §3.2.2): reg-name characters, an IP literal in brackets, digits for the port. */
export function isValidHost(host: string): boolean {
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x2d /* - */ ||
      c === 0x2e /* . */ ||
      c === 0x5f /* _ */ ||
      c === 0x7e /* ~ */ ||
      c === 0x3a /* : */ ||
      c === 0x5b /* [ */ ||
      c === 0x5d /* ] */ ||
      c === 0x25 /* % */ ||
      c === 0x21 /* ! */ ||
      c === 0x24 /* $ */ ||
      c === 0x26 /* & */ ||
      c === 0x27 /* ' */ ||
      c === 0x28 /* ( */ ||
      c === 0x29 /* ) */ ||
      c === 0x2a /* * */ ||
      c === 0x2b /* + */ ||
      c === 0x2c /* , */ ||
      c === 0x3b /* ; */ ||
      c === 0x3d; /* = */
    if (!ok) return false;
  }
  return true;
}
