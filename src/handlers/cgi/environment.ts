/**
 * The script's environment: the meta-variables of RFC 3875 §4.1 built from the request and nothing else.
 * @module
 */
import path from 'node:path';
import type { HttpRequest } from '../../wire/message.js';
import type { CgiScript } from './locate.js';
import { CGI_PATH, type CgiOptions } from './options.js';

/** Request fields never passed as HTTP_* variables, with why. */
const EXCLUDED_REQUEST_FIELDS = new Set([
  // They have their own variables (RFC 3875 §4.1.18).
  'content-type',
  'content-length',
  // httpoxy (CVE-2016-5385): HTTP_PROXY would be read as the script's outgoing proxy.
  'proxy',
  // Credentials are not handed to scripts (Apache's default; RFC 3875 §4.1.18 allows removing them).
  'authorization',
  'proxy-authorization',
  // The wire has already decoded the body; the script reads plain content of CONTENT_LENGTH bytes.
  'transfer-encoding',
]);

const FIELD_NAME_FOR_ENV = /^[A-Za-z0-9-]+$/;

/** SERVER_NAME (RFC 3875 §4.1.14): the authority without its port, else the local address. */
export function serverNameFor(authority: string, localAddress: string): string {
  if (authority !== '') {
    if (authority.startsWith('[')) {
      const close = authority.indexOf(']');
      return close === -1 ? authority : authority.slice(0, close + 1);
    }
    const colon = authority.lastIndexOf(':');
    return colon === -1 ? authority : authority.slice(0, colon);
  }
  return localAddress.includes(':') ? `[${localAddress}]` : localAddress;
}

/**
 * REQUEST_URI (Apache's, not RFC 3875): the request-target as the client sent it; for an absolute-form
 * target, its path and query (what applications route on, and what the origin-form would have been).
 */
export function requestUriOf(request: HttpRequest): string {
  if (request.target.startsWith('/')) return request.target;
  return request.query === '' ? request.path : `${request.path}?${request.query}`;
}

/**
 * The script's whole environment: the meta-variables of RFC 3875 §4.1, the ones applications written for
 * Apache expect (SCRIPT_FILENAME, REQUEST_URI, DOCUMENT_ROOT, REDIRECT_STATUS, ...) and PATH, nothing
 * inherited from the server. `contentLength` is the body's length when the request has a body, else null.
 */
export function buildCgiEnvironment(
  request: HttpRequest,
  script: CgiScript,
  options: Pick<CgiOptions, 'root' | 'serverSoftware'>,
  contentLength: number | null,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: CGI_PATH,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: options.serverSoftware,
    SERVER_NAME: serverNameFor(request.authority, request.localAddress),
    SERVER_PORT: String(request.localPort),
    // RFC 3875 §4.1.16: "HTTP" "/" major "." minor, so HTTP/2 is HTTP/2.0 (as Apache and nginx say).
    SERVER_PROTOCOL: request.version === '2' ? 'HTTP/2.0' : `HTTP/${request.version}`,
    REQUEST_METHOD: request.method,
    REQUEST_SCHEME: request.secure ? 'https' : 'http',
    SCRIPT_NAME: script.scriptName,
    PATH_INFO: script.pathInfo,
    // §4.1.7: the query exactly as it appeared in the URL, not decoded.
    QUERY_STRING: request.query,
    REMOTE_ADDR: request.remoteAddress,
    REMOTE_PORT: String(request.remotePort),
    SERVER_ADDR: request.localAddress,
    // Not RFC 3875, but what PHP and most frameworks read: the script's file, the URL as sent, the root.
    SCRIPT_FILENAME: script.scriptPath,
    REQUEST_URI: requestUriOf(request),
    DOCUMENT_ROOT: options.root,
    // Apache's pair for aliased folders; here every URL maps onto the root, so the prefix is empty.
    CONTEXT_DOCUMENT_ROOT: options.root,
    CONTEXT_PREFIX: '',
    // php-cgi (cgi.force_redirect) refuses to run unless the server says it chose the script itself.
    REDIRECT_STATUS: '200',
  };
  // §4.1.1, §4.1.11: only when the server checked the credentials (--auth), never from the header alone.
  if (request.remoteUser !== undefined) {
    env.AUTH_TYPE = 'Basic';
    env.REMOTE_USER = request.remoteUser;
  }
  // §4.1.6: PATH_INFO mapped onto the document root, only when there is a PATH_INFO.
  if (script.pathInfo !== '') env.PATH_TRANSLATED = path.join(options.root, script.pathInfo);
  if (request.secure) env.HTTPS = 'on';
  // §4.1.2, §4.1.3: only for a request with content.
  if (contentLength !== null) {
    env.CONTENT_LENGTH = String(contentLength);
    const contentType = request.headers['content-type'];
    if (contentType !== undefined) env.CONTENT_TYPE = contentType;
  }
  // §4.1.18: the wire has already joined repeated fields (", ", or "; " for Cookie).
  for (const [name, value] of Object.entries(request.headers)) {
    const lower = name.toLowerCase();
    if (EXCLUDED_REQUEST_FIELDS.has(lower) || !FIELD_NAME_FOR_ENV.test(name)) continue;
    env[`HTTP_${lower.toUpperCase().replaceAll('-', '_')}`] = value;
  }
  return env;
}
