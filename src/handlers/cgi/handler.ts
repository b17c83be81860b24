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

import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import type { ScriptHandler } from '../static.js';
import { buildCgiEnvironment } from './environment.js';
import { cgiErrorResponse } from './failure.js';
import { prepareScriptInput } from './input.js';
import { type CgiScript, findCgiScript } from './locate.js';
import { CGI_METHODS, type CgiOptions } from './options.js';
import { CgiScriptRegistry, contextOf, startScript } from './process.js';
import { localRedirect, type RedirectedRequest } from './redirect.js';

/** The static handler's hook for scripts, and the way to stop the scripts it started. */
export interface CgiScriptHandler extends ScriptHandler {
  /** Kills the process groups of this handler's running scripts (server shutdown); other handlers' live on. */
  stopScripts(): void;
}

/**
 * CGI as the static handler's `scriptHandler`: null for paths that are not scripts (the file is served as
 * usual), the script's response otherwise. Scripts answer only CGI_METHODS, other methods get 405 (OPTIONS
 * is left to the static handler, which knows CORS). Inside the CGI folder nothing but scripts is served,
 * like Apache's ScriptAlias: a folder or a missing or hidden name there is 404, never a listing or a file.
 */
export function createCgiScriptHandler(options: CgiOptions): CgiScriptHandler {
  const registry = new CgiScriptRegistry();
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
        return methodNotAllowed(
          `${request.method} is not allowed for a CGI script; it allows ${CGI_METHODS.join(', ')}`,
        );
      }
      return runCgiScript(request, script, options, registry);
    },
    stopScripts: () => registry.stopAll(),
  };
}

/** 405 with the methods scripts take in Allow (RFC 9110 §15.5.6). */
function methodNotAllowed(message: string): ResponseDescription {
  const response = cgiErrorResponse(405, message);
  return { ...response, headers: { ...response.headers, Allow: CGI_METHODS.join(', ') } };
}

/**
 * Runs a script for a request and describes the response. Never rejects for script failures: those become
 * 502 (could not start, bad head, died before the head) or 504 (no head within `timeoutMs`). The script is
 * kept in `registry` while it runs; without one, nothing but its own request and timeout can stop it.
 */
export async function runCgiScript(
  request: HttpRequest,
  script: CgiScript,
  options: CgiOptions,
  registry: CgiScriptRegistry = new CgiScriptRegistry(),
): Promise<ResponseDescription> {
  if (!CGI_METHODS.includes(request.method)) {
    return methodNotAllowed(`CGI scripts answer only ${CGI_METHODS.join(', ')}`);
  }
  const context = contextOf(script);
  const prepared = await prepareScriptInput(request, options, context);
  if (prepared.kind === 'refused') return prepared.response;
  const env = buildCgiEnvironment(request, script, options, prepared.contentLength);
  const outcome = await startScript(request, script, options, env, prepared.input, registry);
  if (outcome.kind === 'response') return outcome.response;
  // A redispatch that throws becomes a rejection, which the wire answers with 500.
  return localRedirect(request as RedirectedRequest, outcome.location, options, context);
}
