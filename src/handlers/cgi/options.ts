/**
 * CGI options and limits: what a server configures, and the named constants every CGI module and
 * `server.ts` share. Importing it loads nothing else, so servers without scripts pay nothing for it.
 * @module
 */
import {
  DEFAULT_CGI_DIR,
  DEFAULT_CGI_MAX_BODY_BYTES,
  DEFAULT_CGI_METHODS,
  DEFAULT_CGI_TIMEOUT_MS,
} from '../../defaults.js';
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';

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

/** The methods scripts are run for (RFC 3875 §4.1.12 leaves the set to the server); 405 for the rest. */
export const CGI_METHODS: readonly string[] = DEFAULT_CGI_METHODS;

/** The CGI folder under the root when none is named (`--cgi`), as Apache's ScriptAlias /cgi-bin/. */
export const CGI_DEFAULT_DIR = DEFAULT_CGI_DIR;
/** Milliseconds a script may run, head and body together, before its process group is killed (504). */
export const CGI_DEFAULT_TIMEOUT_MS = DEFAULT_CGI_TIMEOUT_MS;
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
export const CGI_DEFAULT_MAX_BODY_BYTES = DEFAULT_CGI_MAX_BODY_BYTES;
/** A spooled chunked body beyond this size goes to a temporary file instead of memory. */
export const CGI_BODY_MEMORY_BYTES = 256 * 1024;
/** Longest stderr line logged as one entry; longer lines are logged in pieces. */
export const CGI_MAX_STDERR_LINE_CHARS = 4 * 1024;
/** How much script output is buffered ahead of the socket before the script is paused. */
export const CGI_OUTPUT_HIGH_WATER_MARK = 64 * 1024;
/** The only PATH a script sees: the server's own environment is not passed on. */
export const CGI_PATH = '/usr/local/bin:/usr/bin:/bin';
