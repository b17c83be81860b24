/**
 * CGI/1.1 (RFC 3875): finds the script a request path names, runs it in its own process group with a
 * meta-variable environment built from the request and nothing else, streams the request body to its
 * stdin, parses the header block it prints, and streams the rest of its stdout back as the response body.
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

import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, createReadStream, constants as fsConstants, statSync } from 'node:fs';
import { access, type FileHandle, mkdtemp, open, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { hasDotSegment, isInside } from '../files/resolve.js';
import { plainErrorResponse } from '../wire/error-response.js';
import type { HttpRequest, ResponseDescription, ResponseHeaders } from '../wire/message.js';
import type { ScriptHandler } from './static.js';

export interface CgiOptions {
  /** Real absolute document root. */
  root: string;
  /** URL folder under the root whose files run as CGI, e.g. 'cgi-bin' (null = off). */
  cgiDir: string | null;
  /** Extension → interpreter command (e.g. {'.py': 'python3'}), applied anywhere in the root. */
  interpreters: Record<string, string>;
  /** Most milliseconds a script may run, head and body together. @default 30000 */
  timeoutMs: number;
  /** SERVER_SOFTWARE, e.g. 'docroot/0.1.0'. */
  serverSoftware: string;
  /** Run scripts whose path has a segment starting with '.'. @default false */
  dotfiles?: boolean;
  /** Failures and every stderr line of a script, with context `cgi: <SCRIPT_NAME>`. */
  logError(error: unknown, context: string): void;
  /** Answers a request for a local redirect (RFC 3875 §6.2.2); without it a local Location becomes a 302. */
  redispatch?(request: HttpRequest): Promise<ResponseDescription>;
  /** Largest request body a script is given; 413 beyond, nothing kept. @default CGI_DEFAULT_MAX_BODY_BYTES */
  maxBodyBytes?: number;
  /** Where chunked request bodies are spooled (in a private folder, removed after). @default os.tmpdir() */
  spoolDir?: string;
}

export interface CgiScript {
  /** Real absolute path of the script file. */
  scriptPath: string;
  /** Decoded URL path of the script (SCRIPT_NAME, RFC 3875 §4.1.13). */
  scriptName: string;
  /** Decoded URL path after the script (PATH_INFO, RFC 3875 §4.1.5); '' when none. */
  pathInfo: string;
  /** Interpreter command from `interpreters`, or null to execute the script itself. */
  interpreter: string | null;
}

/** The methods scripts are run for; the caller answers 405 for the rest. */
export const CGI_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'];

export const CGI_DEFAULT_TIMEOUT_MS = 30_000;
/** Largest header block a script may print before its body (Apache uses 8 KiB per line; this bounds all). */
export const CGI_MAX_HEAD_BYTES = 64 * 1024;
/** Time between SIGTERM and SIGKILL to the script's process group. */
export const CGI_KILL_GRACE_MS = 1_000;
/** Local redirects followed for one request before giving up (a loop guard, RFC 3875 §6.2.2). */
export const CGI_MAX_LOCAL_REDIRECTS = 10;
/**
 * Largest request body passed to a script (`--cgi-max-body`): a git push or a form upload is often larger
 * than the wire's 16 MiB default, and bodies never sit in memory, so the bound is about disk and time.
 * RFC 9110 §15.5.14 (413) leaves the size to the server.
 */
export const CGI_DEFAULT_MAX_BODY_BYTES = 1024 * 1024 * 1024;
/** A spooled chunked body beyond this size goes to a temporary file instead of memory. */
export const CGI_BODY_MEMORY_BYTES = 256 * 1024;
/** Longest stderr line logged as one entry; longer lines are logged in pieces. */
export const CGI_MAX_STDERR_LINE_CHARS = 4 * 1024;
/** How much script output is buffered ahead of the socket before the script is paused. */
const OUTPUT_HIGH_WATER_MARK = 64 * 1024;
/** The only PATH a script sees: the server's own environment is not passed on. */
export const CGI_PATH = '/usr/local/bin:/usr/bin:/bin';

// ---------------------------------------------------------------------------------------------------------
// Finding the script

/**
 * Walks decoded URL segments from the root and returns the script they name, or null when the path is not
 * a CGI path. In `cgiDir` the first regular file is the script (run directly, or by its interpreter when its
 * extension has one); elsewhere the first regular file whose extension is in `interpreters` is. The rest of
 * the segments is PATH_INFO (RFC 3875 §4.1.5). `trailingSlash` keeps a final "/" in PATH_INFO.
 */
export async function findCgiScript(
  segments: readonly string[],
  options: CgiOptions,
  trailingSlash = false,
): Promise<CgiScript | null> {
  if (segments.length === 0) return null;
  if (!options.dotfiles && hasDotSegment(segments)) return null;
  const inCgiDir = options.cgiDir !== null && segments[0] === options.cgiDir;
  for (let end = inCgiDir ? 2 : 1; end <= segments.length; end++) {
    const candidate = path.join(options.root, ...segments.slice(0, end));
    if (!isInside(options.root, candidate)) return null;
    let isFile: boolean;
    try {
      const stats = await stat(candidate);
      if (stats.isDirectory()) continue;
      isFile = stats.isFile();
    } catch {
      return null;
    }
    if (!isFile) return null;
    const interpreter = interpreterFor(segments[end - 1]!, options.interpreters);
    if (!inCgiDir && interpreter === null) return null;
    let real: string;
    try {
      real = await realpath(candidate);
    } catch {
      return null;
    }
    // A symlink that leads out of the root is not a script of this site.
    if (!isInside(options.root, real)) return null;
    const rest = segments.slice(end);
    let pathInfo = rest.length === 0 ? '' : `/${rest.join('/')}`;
    if (trailingSlash) pathInfo += '/';
    const scriptName = `/${segments.slice(0, end).join('/')}`;
    if (inCgiDir && (await isExecutable(real))) {
      return { scriptPath: real, scriptName, pathInfo, interpreter: null };
    }
    return { scriptPath: real, scriptName, pathInfo, interpreter };
  }
  return null;
}

function interpreterFor(name: string, interpreters: Record<string, string>): string | null {
  const extension = path.extname(name);
  if (extension === '') return null;
  if (Object.hasOwn(interpreters, extension)) return interpreters[extension] ?? null;
  const lower = extension.toLowerCase();
  if (Object.hasOwn(interpreters, lower)) return interpreters[lower] ?? null;
  return null;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The environment (RFC 3875 §4.1)

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

// ---------------------------------------------------------------------------------------------------------
// The script's response head (RFC 3875 §6)

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

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
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
    if (!TOKEN.test(name)) {
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

// ---------------------------------------------------------------------------------------------------------
// The hook for the static handler

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

// ---------------------------------------------------------------------------------------------------------
// Running the script

/** Marks requests made for local redirects with how many redirects led to them (survives `{...request}`). */
const LOCAL_REDIRECT_DEPTH = Symbol('docroot.cgi.localRedirectDepth');
type RedirectedRequest = HttpRequest & { [LOCAL_REDIRECT_DEPTH]?: number };

/** Kill switches of the scripts running now, for `stopAllCgiScripts`. */
const runningScripts = new Set<() => void>();

/** Kills every running script's process group (for server shutdown). */
export function stopAllCgiScripts(): void {
  for (const stop of runningScripts) stop();
}

/**
 * What the client is told when a script fails: nothing about the script, its interpreter or its exit
 * (SECURITY.md: internal errors never reach the client). The reason goes to the log, as one line.
 */
export const CGI_FAILURE_MESSAGES = {
  502: 'the script did not produce a valid response (the server log says why)',
  504: 'the script did not answer in time',
} as const;

/** Logs why a script failed, as one line tagged with the script, and answers with the generic message. */
function scriptFailure(
  status: keyof typeof CGI_FAILURE_MESSAGES,
  reason: string,
  options: Pick<CgiOptions, 'logError'>,
  context: string,
): ResponseDescription {
  options.logError(reason, context);
  return cgiErrorResponse(status, CGI_FAILURE_MESSAGES[status]);
}

/** A one-line description of an error for the log: its code and message, never its stack. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code === undefined || error.message.includes(code) ? error.message : `${code}: ${error.message}`;
}

/** The one-line plain answer every transport uses, nosniff included (scripts' callers are often tools). */
export function cgiErrorResponse(status: number, message: string): ResponseDescription {
  return plainErrorResponse(status, message);
}

type ScriptInput =
  | { readonly kind: 'none' }
  | { readonly kind: 'stream'; readonly stream: Readable }
  | { readonly kind: 'memory'; readonly data: Buffer }
  | { readonly kind: 'file'; readonly directory: string; readonly file: string };

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

type BufferedBody =
  | { readonly kind: 'ok'; readonly input: ScriptInput; readonly length: number }
  | { readonly kind: 'too-large' }
  /** The client's body stream failed (it left, or sent a broken chunk). */
  | { readonly kind: 'failed' }
  /** The temporary file could not be written (a full disk, a missing spool folder). */
  | { readonly kind: 'spool-failed'; readonly error: unknown };

/**
 * Reads a whole chunked body: small ones into memory, larger ones into a private temporary file (mode 0600
 * in a fresh 0700 folder under `spoolDir`). Over `limit`, or on any failure, the folder is removed and
 * nothing is kept.
 */
async function spoolChunkedBody(body: Readable, limit: number, spoolDir: string): Promise<BufferedBody> {
  const chunks: Buffer[] = [];
  let total = 0;
  let directory: string | null = null;
  let handle: FileHandle | null = null;
  const file = () => path.join(directory!, 'body');
  const removeSpill = async () => {
    await handle?.close().catch(() => {});
    handle = null;
    if (directory !== null) await rm(directory, { recursive: true, force: true }).catch(() => {});
  };
  /** Appends to the temporary file, creating it when the body outgrows memory. */
  const spill = async (data: Buffer) => {
    if (handle === null) {
      directory = await mkdtemp(path.join(spoolDir, 'docroot-cgi-'));
      handle = await open(file(), 'wx', 0o600);
      for (const earlier of chunks.splice(0)) await handle.write(earlier);
    }
    await handle.write(data);
  };
  // destroyOnReturn: false leaves an oversized body unread instead of destroying the wire's stream.
  const pieces = body.iterator({ destroyOnReturn: false });
  for (;;) {
    let next: IteratorResult<unknown>;
    try {
      next = await pieces.next();
    } catch {
      await removeSpill();
      return { kind: 'failed' };
    }
    if (next.done === true) break;
    const data = next.value as Buffer;
    total += data.length;
    if (total > limit) {
      await pieces.return?.();
      await removeSpill();
      return { kind: 'too-large' };
    }
    if (handle === null && total <= CGI_BODY_MEMORY_BYTES) {
      chunks.push(data);
      continue;
    }
    try {
      await spill(data);
    } catch (error) {
      await pieces.return?.();
      await removeSpill();
      return { kind: 'spool-failed', error };
    }
  }
  if (handle === null) {
    return { kind: 'ok', input: { kind: 'memory', data: Buffer.concat(chunks) }, length: total };
  }
  try {
    await (handle as FileHandle).close();
  } catch (error) {
    handle = null;
    await removeSpill();
    return { kind: 'spool-failed', error };
  }
  return { kind: 'ok', input: { kind: 'file', directory: directory!, file: file() }, length: total };
}

/** Resolved interpreter commands, so PATH is searched once per command. */
const resolvedCommands = new Map<string, string>();

/**
 * Finds an interpreter on the server's PATH: the operator configured it, so it is looked up where the server
 * runs, while the script itself only gets CGI_PATH.
 */
function resolveCommand(command: string): string {
  if (command.includes('/')) return command;
  const known = resolvedCommands.get(command);
  if (known !== undefined) return known;
  for (const directory of (process.env.PATH ?? CGI_PATH).split(path.delimiter)) {
    if (directory === '') continue;
    const candidate = path.join(directory, command);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, fsConstants.X_OK);
      resolvedCommands.set(command, candidate);
      return candidate;
    } catch {}
  }
  return command;
}

function commandLine(script: CgiScript): { command: string; args: string[] } {
  if (script.interpreter === null) return { command: script.scriptPath, args: [] };
  // The interpreter setting may carry options ("python3 -u"); words are split on whitespace.
  const words = script.interpreter.trim().split(/\s+/);
  return { command: resolveCommand(words[0] ?? ''), args: [...words.slice(1), script.scriptPath] };
}

function startFailure(error: NodeJS.ErrnoException, script: CgiScript): string {
  const what = script.interpreter === null ? 'the script' : `the interpreter "${script.interpreter}"`;
  switch (error.code) {
    case 'ENOENT':
      return `${what} could not be started: it was not found`;
    case 'EACCES':
    case 'EPERM':
      return `${what} could not be started: it is not executable (permission denied)`;
    case 'ENOEXEC':
      return `${what} could not be started: it is not an executable format (missing "#!" line?)`;
    default:
      return `${what} could not be started (${error.code ?? error.message})`;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * The body of a script's response: stdout after the header block. Backpressure runs through it (stdout is
 * paused while the wire's socket is full), and destroying it early (client gone) calls `onAbort`.
 */
class CgiOutputStream extends Readable {
  private readonly source: Readable;
  private readonly onAbort: () => void;
  private ended = false;

  constructor(source: Readable, onAbort: () => void) {
    super({ highWaterMark: OUTPUT_HIGH_WATER_MARK });
    this.source = source;
    this.onAbort = onAbort;
    // A timeout may destroy the stream with an error before (or after) the wire listens; never crash on it.
    this.on('error', () => {});
  }

  /** Passes on a piece of script output; pauses the script's stdout when the consumer is behind. */
  forward(chunk: Buffer): void {
    if (this.destroyed) return;
    if (!this.push(chunk)) this.source.pause();
  }

  finish(): void {
    if (this.destroyed || this.ended) return;
    this.ended = true;
    this.push(null);
  }

  override _read(): void {
    this.source.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.ended) this.onAbort();
    callback(error);
  }
}

function execute(
  request: RedirectedRequest,
  script: CgiScript,
  options: CgiOptions,
  env: Record<string, string>,
  input: ScriptInput,
): Promise<ResponseDescription> {
  const context = `cgi: ${script.scriptName}`;
  const nph = path.basename(script.scriptPath).startsWith('nph-');
  const { command, args } = commandLine(script);
  const timeoutMs = options.timeoutMs > 0 ? options.timeoutMs : CGI_DEFAULT_TIMEOUT_MS;

  return new Promise<ResponseDescription>((resolve) => {
    let settled = false;
    const settle = (response: ResponseDescription | Promise<ResponseDescription>) => {
      if (settled) return;
      settled = true;
      resolve(response);
    };
    const cleanupInput = () => {
      if (input.kind === 'file') rm(input.directory, { recursive: true, force: true }).catch(() => {});
    };

    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: path.dirname(script.scriptPath),
        env,
        // Own process group, so the script and everything it starts can be killed together.
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (error) {
      cleanupInput();
      settle(scriptFailure(502, startFailure(error as NodeJS.ErrnoException, script), options, context));
      return;
    }
    const stdin = child.stdin!;
    const stdout = child.stdout!;
    const stderr = child.stderr!;

    /** head: collecting the header block; body: streaming; drain: output is read and dropped. */
    let phase: 'head' | 'body' | 'drain' | 'done' = 'head';
    let head: Buffer = Buffer.alloc(0);
    let output: CgiOutputStream | null = null;
    let closed = false;
    let killing = false;
    let started = false;

    const kill = () => {
      if (killing || closed || child.pid === undefined) return;
      killing = true;
      const pid = child.pid;
      signalGroup(pid, 'SIGTERM');
      // Whatever ignores SIGTERM gets SIGKILL; the whole group, so grandchildren go too.
      setTimeout(() => signalGroup(pid, 'SIGKILL'), CGI_KILL_GRACE_MS).unref();
    };
    runningScripts.add(kill);

    const timer = setTimeout(() => {
      const message = `the script did not finish within ${timeoutMs} ms`;
      kill();
      if (phase === 'head') {
        phase = 'done';
        settle(
          scriptFailure(
            504,
            `the script did not write its response head within ${timeoutMs} ms`,
            options,
            context,
          ),
        );
      } else {
        options.logError(message, context);
        if (phase === 'body' && output !== null) {
          // The head is out: the only way to tell the client the body is incomplete is to break the connection.
          phase = 'done';
          output.destroy(new Error(message));
        }
      }
    }, timeoutMs);

    child.once('spawn', () => {
      started = true;
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (started) {
        options.logError(describeError(error), context);
        return;
      }
      phase = 'done';
      cleanupInput();
      settle(scriptFailure(502, startFailure(error, script), options, context));
    });

    // stdin: the request content, with backpressure; a script that does not read it is not an error.
    /**
     * Once the script will read no more (stdin failed with EPIPE, or it closed stdout or exited), the rest
     * of the upload is read and dropped, so the wire is not left paused by the stdin pipe's backpressure and
     * the connection stays usable.
     */
    const releaseUpload = () => {
      if (input.kind !== 'stream' || input.stream.readableEnded || input.stream.destroyed) return;
      input.stream.unpipe(stdin);
      input.stream.resume();
    };
    stdin.on('error', releaseUpload);
    stdin.on('close', releaseUpload);
    switch (input.kind) {
      case 'none':
        stdin.end();
        break;
      case 'memory':
        stdin.end(input.data);
        break;
      case 'file':
        // pipeline closes the file when stdin fails (EPIPE) or the script exits early.
        pipeline(createReadStream(input.file), stdin, (error) => {
          const code = (error as NodeJS.ErrnoException | undefined)?.code;
          if (error && code !== 'EPIPE' && code !== 'ERR_STREAM_PREMATURE_CLOSE') {
            options.logError(`the request body could not be passed on: ${describeError(error)}`, context);
          }
        });
        break;
      case 'stream': {
        const body = input.stream;
        body.pipe(stdin);
        body.on('error', kill);
        body.on('close', () => {
          // The client went away while the script was still reading its upload.
          if (!body.readableEnded) kill();
        });
        break;
      }
    }

    // A failing pipe (EIO) ends the script's output like its exit does; it must never be an unhandled error.
    stdout.on('error', (error) => options.logError(error, context));
    stderr.on('error', (error) => options.logError(error, context));

    // stderr: each line goes to the log, tagged with the script.
    let partialLine = '';
    stderr.setEncoding('utf8');
    stderr.on('data', (text: string) => {
      partialLine += text;
      let newline = partialLine.indexOf('\n');
      while (newline !== -1) {
        logStderrLine(partialLine.slice(0, newline));
        partialLine = partialLine.slice(newline + 1);
        newline = partialLine.indexOf('\n');
      }
      while (partialLine.length > CGI_MAX_STDERR_LINE_CHARS) {
        logStderrLine(partialLine.slice(0, CGI_MAX_STDERR_LINE_CHARS));
        partialLine = partialLine.slice(CGI_MAX_STDERR_LINE_CHARS);
      }
    });
    stderr.on('end', () => {
      if (partialLine !== '') logStderrLine(partialLine);
      partialLine = '';
    });
    function logStderrLine(line: string): void {
      const text = line.endsWith('\r') ? line.slice(0, -1) : line;
      options.logError(text, context);
    }

    /** HEAD, 204 and 304 responses carry no body, so the wire drops the stream without the client leaving. */
    let bodyless = request.method === 'HEAD';
    const abortBody = () => {
      // The wire destroyed the body: the client left, or the response has no body.
      if (phase !== 'body') return;
      phase = 'drain';
      // A bodiless response lets the script run to its end as GET would (RFC 9110 §9.3.2); the timeout
      // still bounds it. A client that left gets its script killed.
      if (!bodyless) kill();
      stdout.resume();
    };

    stdout.on('data', (chunk: Buffer) => {
      if (phase === 'body') {
        output!.forward(chunk);
        return;
      }
      if (phase !== 'head') return;
      const searchFrom = Math.max(0, head.length - 1);
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const bodyStart = findHeadEnd(head, searchFrom);
      if (bodyStart === -1) {
        if (head.length > CGI_MAX_HEAD_BYTES) headTooLong();
        return;
      }
      if (bodyStart > CGI_MAX_HEAD_BYTES) {
        headTooLong();
        return;
      }
      onHead(head.toString('latin1', 0, bodyStart), head.subarray(bodyStart));
      head = Buffer.alloc(0);
    });
    stdout.on('end', () => {
      releaseUpload();
      if (phase === 'body') output!.finish();
    });

    function headTooLong(): void {
      phase = 'done';
      kill();
      const reason = `the script's header block is longer than ${CGI_MAX_HEAD_BYTES} bytes`;
      settle(scriptFailure(502, reason, options, context));
    }

    function onHead(headText: string, rest: Buffer): void {
      const parsed = parseCgiHead(headText, nph);
      if (parsed.kind === 'error') {
        phase = 'done';
        kill();
        settle(scriptFailure(502, parsed.message, options, context));
        return;
      }
      if (parsed.kind === 'local-redirect') {
        // The script's own output is not used; let it finish.
        phase = 'drain';
        stdout.resume();
        // A redispatch that throws becomes a rejection, which the wire answers with 500.
        settle(Promise.resolve().then(() => localRedirect(request, parsed.location, options, context)));
        return;
      }
      phase = 'body';
      if (parsed.status === 204 || parsed.status === 304) bodyless = true;
      output = new CgiOutputStream(stdout, abortBody);
      if (rest.length > 0) output.forward(rest);
      settle({
        status: parsed.status,
        ...(parsed.reason === undefined ? {} : { reason: parsed.reason }),
        headers: parsed.headers,
        body:
          parsed.length === undefined
            ? { kind: 'stream', stream: output }
            : { kind: 'stream', stream: output, length: parsed.length },
      });
    }

    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      closed = true;
      clearTimeout(timer);
      runningScripts.delete(kill);
      cleanupInput();
      if (!started) return;
      // After the head, the end of the body is stdout's 'end', not the exit.
      if (phase !== 'head') {
        if (code !== 0 && !killing) {
          const reason =
            code === null ? `the script was killed by ${signal}` : `the script exited with code ${code}`;
          options.logError(reason, context);
        }
        return;
      }
      phase = 'done';
      let message: string;
      if (head.length > 0) {
        message =
          "the script's output ended before the blank line that ends its header block (RFC 3875 §6.2)";
      } else if (code === null) {
        message = `the script was killed by ${signal} before writing a response`;
      } else if (code !== 0) {
        message = `the script exited with code ${code} before writing a response`;
      } else {
        message = 'the script exited without writing a response';
      }
      settle(scriptFailure(502, message, options, context));
    });
  });
}

/** Answers for the path of a local Location (RFC 3875 §6.2.2) as if the client had asked for it with GET. */
function localRedirect(
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
