/**
 * Every default docroot ships with, in one place. This module imports nothing, so any room may use it
 * (the CLI's flag parser, `server.ts`, handlers, the wire) without loading anything else. A value that
 * appears in the README or `--help` is written there as text; `test/defaults.test.ts` keeps the two in
 * step for the ones users set most.
 * @module
 */

// --- Listening -----------------------------------------------------------------------------------------

/** TCP port when none is given (`--port`). */
export const DEFAULT_PORT = 8080;
/** Interface when none is given (`--host`): loopback, so nothing is shared by accident. */
export const DEFAULT_HOST = 'localhost';
/** The file read when --config is not given, from the current folder. */
export const DEFAULT_CONFIG_FILE = 'docroot.config.json';

// --- Wire limits (see wire/limits.ts for what each bounds and its RFC) ---------------------------------

/** RFC 9112 §3 recommends supporting request lines of at least 8000 octets. */
export const DEFAULT_MAX_REQUEST_LINE_BYTES = 8 * 1024;
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
export const DEFAULT_MAX_HEADER_COUNT = 100;
/** Largest request body when no upload, script or proxy raises it (RFC 9110 §15.5.14 leaves it to us). */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_CHUNK_LINE_BYTES = 4096;
export const DEFAULT_HEADERS_TIMEOUT_MS = 20_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_DISCARD_BYTES = 1024 * 1024;
/** How long graceful shutdown waits for in-flight responses before destroying their sockets. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
/** HTTP/2 streams open at once over all connections (`maxStreams`). */
export const DEFAULT_MAX_OPEN_STREAMS = 1000;

// --- The file cache --------------------------------------------------------------------------------------

/** Total bytes of bodies (all encodings) the hot-file cache holds. */
export const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024;
/** Largest file the hot-file cache keeps. */
export const DEFAULT_CACHE_MAX_FILE_BYTES = 256 * 1024;
/** The promise: an edited file is served fresh within a second. */
export const DEFAULT_REVALIDATE_MS = 1000;

// --- Paths the server answers itself ---------------------------------------------------------------------

/** Under RFC 8615's `/.well-known/`, next to the live-reload endpoint, so it never shadows a site path. */
export const DEFAULT_HEALTH_PATH = '/.well-known/docroot/health';

// --- CGI (RFC 3875) --------------------------------------------------------------------------------------

/** The methods scripts are run for (RFC 3875 §4.1.12 leaves the set to the server); 405 for the rest. */
export const DEFAULT_CGI_METHODS: readonly string[] = Object.freeze(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);
/** The folder under the root whose executables run as scripts (`--cgi`, `--cgi-dir`). */
export const DEFAULT_CGI_DIR = 'cgi-bin';
/** Milliseconds before a script's process group is killed and 504 sent (`--cgi-timeout`). */
export const DEFAULT_CGI_TIMEOUT_MS = 30_000;
/**
 * Largest request body passed to a script (`--cgi-max-body`): a git push or a form upload is often larger
 * than the wire's 16 MiB default, and bodies never sit in memory, so the bound is about disk and time.
 */
export const DEFAULT_CGI_MAX_BODY_BYTES = 1024 * 1024 * 1024;

// --- Uploads and WebDAV ----------------------------------------------------------------------------------

/** Methods `upload` turns on. */
export const DEFAULT_UPLOAD_METHODS: readonly string[] = Object.freeze([
  'PUT',
  'PATCH',
  'DELETE',
  'MKCOL',
  'POST',
]);
/** Largest file and request body an upload may carry (`--max-upload-size`); 413 beyond. */
export const DEFAULT_MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;
/** What WebDAV answers without `upload` (read-only mounts). */
export const DAV_READ_METHODS: readonly string[] = Object.freeze(['PROPFIND']);
/** What WebDAV adds to the upload methods with `upload`. */
export const DAV_WRITE_METHODS: readonly string[] = Object.freeze(['PROPFIND', 'PROPPATCH', 'COPY', 'MOVE']);
/** Class 2 (RFC 4918 §18.2), when locks are real (one process). */
export const DAV_LOCK_METHODS: readonly string[] = Object.freeze(['LOCK', 'UNLOCK']);

// --- Access control --------------------------------------------------------------------------------------

/** Failed logins allowed per client address (`--auth-rate`): ten a minute. */
export const DEFAULT_AUTH_FAILURES = 10;
export const DEFAULT_AUTH_WINDOW_MS = 60_000;

// --- Proxy -----------------------------------------------------------------------------------------------

/** How long an upstream may take to connect or to start answering (no RFC sets it; nginx waits 60 s). */
export const DEFAULT_PROXY_TIMEOUT_MS = 30_000;
