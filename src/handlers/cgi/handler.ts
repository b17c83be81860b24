/**
 * CGI/1.1 (RFC 3875): finds the script a request path names, runs it in its own process group with a
 * meta-variable environment built from the request and nothing else, streams the request body to its
 * stdin, parses the header block it prints, and streams the rest of its stdout back as the response body.
 *
 * The modules of this folder, one concern each: `options.ts` (options and named limits), `locate.ts`
 * (SCRIPT_NAME and PATH_INFO), `environment.ts` (§4.1 meta-variables), `head.ts` (§6 header block, pure),
 * `input.ts` (the request body on stdin), `process.ts` (the child process), `redirect.ts` (§6.2.2 local
 * redirects), `failure.ts` (generic 502/504 answers), and this one (the static handler's hook).
 *
 * Decisions worth knowing (each also noted where it is implemented):
 * - A chunked request body is spooled (small ones in memory, the rest in a private temporary file removed
 *   after the script ends) before the script starts, so CONTENT_LENGTH is always set when there is a body,
 *   as lighttpd and nginx's FastCGI do; scripts that read exactly CONTENT_LENGTH bytes keep working.
 *   Content-Length bodies stream straight to stdin with backpressure. Both are bounded by `maxBodyBytes`.
 * - Authorization and Proxy-Authorization are not passed (Apache's default), Proxy never becomes
 *   HTTP_PROXY (httpoxy), and header names with characters other than letters, digits and "-" are skipped
 *   so "X_Forwarded_For" cannot pose as "X-Forwarded-For" (Apache 2.4 does the same).
 * - nph- scripts: the wire always writes its own status line and framing, so their output is parsed as an
 *   HTTP response head (status line + fields) and passed on unchanged except the fields the wire owns.
 * - A file in the CGI folder that is not executable is still treated as the script (and fails with 502)
 *   rather than returned as "not CGI", so the static handler never serves a script's source.
 * - Interpreters named in `interpreters` are looked up on the server's PATH (the operator chose them);
 *   the script itself only sees CGI_PATH. Scripts run directly rely on their "#!" line and CGI_PATH.
 * - HEAD, 204 and 304 responses let the script run to its end with its output dropped; a client that
 *   disconnects gets the script's process group killed.
 * - A local redirect (RFC 3875 §6.2.2) is answered by `redispatch` with a new GET (HEAD stays HEAD) without
 *   body fields; without `redispatch` it becomes a 302 with the path as Location.
 * - Beside RFC 3875's variables, scripts get what applications written for Apache read (SCRIPT_FILENAME,
 *   REQUEST_URI, DOCUMENT_ROOT, REDIRECT_STATUS=200, which php-cgi requires). REMOTE_USER and AUTH_TYPE
 *   come only from `HttpRequest.remoteUser`, which the access check sets after verifying the password.
 * - stderr lines go to `logError(line, 'cgi: <SCRIPT_NAME>')`: the line as a string, the script as context.
 *   A failed script is a generic 502 or 504 for the client (SECURITY.md: internal errors never reach it)
 *   and one such line saying why for the operator.
 * @module
 */

import { tmpdir } from 'node:os';
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import type { ScriptHandler } from '../static.js';
import { buildCgiEnvironment } from './environment.js';
import { cgiErrorResponse, describeError } from './failure.js';
import { type ScriptInput, spoolChunkedBody } from './input.js';
import { type CgiScript, findCgiScript } from './locate.js';
import { CGI_DEFAULT_MAX_BODY_BYTES, CGI_METHODS, type CgiOptions } from './options.js';
import { execute } from './process.js';
import type { RedirectedRequest } from './redirect.js';

/**
 * CGI as the static handler's `scriptHandler`: null for paths that are not scripts (the file is served as
 * usual), the script's response otherwise. Scripts answer only CGI_METHODS, other methods get 405 (OPTIONS
 * is left to the static handler, which knows CORS). Inside the CGI folder nothing but scripts is served,
 * like Apache's ScriptAlias: a folder or a missing or hidden name there is 404, never a listing or a file.
 */
export function createCgiScriptHandler(options: CgiOptions): ScriptHandler {
  return {
    methods: CGI_METHODS,
    async handle(request, segments) {
      const trailingSlash = request.path.length > 1 && request.path.endsWith('/');
      const script = await findCgiScript(segments, options, trailingSlash);
      if (script === null) {
        if (options.cgiDir !== null && segments[0] === options.cgiDir) {
          return cgiErrorResponse(404, 'there is no script of that name in the CGI folder');
        }
        return null;
      }
      if (request.method === 'OPTIONS') return null;
      if (!CGI_METHODS.includes(request.method)) {
        const response = cgiErrorResponse(
          405,
          `${request.method} is not allowed for a CGI script; it allows ${CGI_METHODS.join(', ')}`,
        );
        return { ...response, headers: { ...response.headers, Allow: CGI_METHODS.join(', ') } };
      }
      return runCgiScript(request, script, options);
    },
  };
}

/**
 * Runs a script for a request and describes the response. Never rejects for script failures: those become
 * 502 (could not start, bad head, died before the head) or 504 (no head within `timeoutMs`).
 */
export async function runCgiScript(
  request: HttpRequest,
  script: CgiScript,
  options: CgiOptions,
): Promise<ResponseDescription> {
  if (!CGI_METHODS.includes(request.method)) {
    const response = cgiErrorResponse(405, `CGI scripts answer only ${CGI_METHODS.join(', ')}`);
    return { ...response, headers: { ...response.headers, Allow: CGI_METHODS.join(', ') } };
  }
  let input: ScriptInput = { kind: 'none' };
  let contentLength: number | null = null;
  const limit = options.maxBodyBytes ?? CGI_DEFAULT_MAX_BODY_BYTES;
  // The body is left unread, so the connection cannot be reused.
  const tooLarge = () => ({
    ...cgiErrorResponse(413, `a request body for a CGI script may be at most ${limit} bytes`),
    close: true,
  });
  if (request.body === null) {
    // "Content-Length: 0" is a body, an empty one (RFC 3875 §4.1.2); the wire passes no stream for it.
    if (
      request.headers['content-length'] !== undefined &&
      request.method !== 'GET' &&
      request.method !== 'HEAD'
    ) {
      contentLength = 0;
    }
  } else {
    if (request.contentLength !== null) {
      // Refused before a byte is read (and before 100 Continue is sent).
      if (request.contentLength > limit) return tooLarge();
      input = { kind: 'stream', stream: request.body };
      contentLength = request.contentLength;
    } else {
      // The length of a chunked body is unknown until its end; CGI wants it up front (RFC 3875 §4.1.2).
      const buffered = await spoolChunkedBody(request.body, limit, options.spoolDir ?? tmpdir());
      if (buffered.kind === 'too-large') return tooLarge();
      if (buffered.kind === 'failed') {
        return { ...cgiErrorResponse(400, 'the request body could not be read'), close: true };
      }
      if (buffered.kind === 'spool-failed') {
        const context = `cgi: ${script.scriptName}`;
        options.logError(
          `the chunked request body could not be spooled: ${describeError(buffered.error)}`,
          context,
        );
        const full = (buffered.error as NodeJS.ErrnoException).code === 'ENOSPC';
        // RFC 4918 §11.5: 507 when there is no room to keep what the request needs.
        const status = full ? 507 : 500;
        return {
          ...cgiErrorResponse(status, 'the request body could not be stored for the script'),
          close: true,
        };
      }
      input = buffered.input;
      contentLength = buffered.length;
    }
  }
  const env = buildCgiEnvironment(request, script, options, contentLength);
  return execute(request as RedirectedRequest, script, options, env, input);
}
