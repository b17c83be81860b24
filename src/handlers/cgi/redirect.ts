/**
 * Local redirects (RFC 3875 §6.2.2): a script's `Location: /path` answered by the server for that path.
 * @module
 */
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import { scriptFailure } from './failure.js';
import { CGI_MAX_LOCAL_REDIRECTS, type CgiOptions } from './options.js';

/** Marks requests made for local redirects with how many redirects led to them (survives `{...request}`). */
export const LOCAL_REDIRECT_DEPTH = Symbol('docroot.cgi.localRedirectDepth');
export type RedirectedRequest = HttpRequest & { [LOCAL_REDIRECT_DEPTH]?: number };

/** Answers for the path of a local Location (RFC 3875 §6.2.2) as if the client had asked for it with GET. */
export function localRedirect(
  request: RedirectedRequest,
  location: string,
  options: CgiOptions,
  context: string,
): ResponseDescription | Promise<ResponseDescription> {
  const depth = (request[LOCAL_REDIRECT_DEPTH] ?? 0) + 1;
  if (depth > CGI_MAX_LOCAL_REDIRECTS) {
    const reason = `more than ${CGI_MAX_LOCAL_REDIRECTS} local redirects in a row (a redirect loop?)`;
    return scriptFailure(502, reason, options, context);
  }
  if (options.redispatch === undefined) {
    return { status: 302, headers: { Location: location }, body: null };
  }
  const question = location.indexOf('?');
  const contentFields = new Set(['content-length', 'content-type', 'transfer-encoding', 'expect']);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (!contentFields.has(name)) headers[name] = value;
  }
  const redirected: RedirectedRequest = {
    ...request,
    method: request.method === 'HEAD' ? 'HEAD' : 'GET',
    target: location,
    path: question === -1 ? location : location.slice(0, question),
    query: question === -1 ? '' : location.slice(question + 1),
    headers,
    rawHeaders: request.rawHeaders.filter(([name]) => !contentFields.has(name.toLowerCase())),
    body: null,
    contentLength: null,
    [LOCAL_REDIRECT_DEPTH]: depth,
  };
  return options.redispatch(redirected);
}
