/**
 * The table of command-line flags, and `--help` generated from it. It imports only the defaults, so the
 * help text, the config-file checker and the README test read it without loading any handler.
 *
 * To add a flag: add one row to FLAGS (type, value placeholder, help sentence), a row to the README's
 * flag table (test/flags-readme.test.ts fails until the two agree), then read the value in
 * `optionsFromValues` (args.ts) and pass it on in `serverOptionsFromCli` (server-options.ts).
 * @module
 */

import type { parseArgs } from 'node:util';
import {
  DEFAULT_AUTH_FAILURES,
  DEFAULT_CGI_DIR,
  DEFAULT_CGI_MAX_BODY_BYTES,
  DEFAULT_CGI_TIMEOUT_MS,
  DEFAULT_CONFIG_FILE,
  DEFAULT_HEALTH_PATH,
  DEFAULT_HOST,
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_PORT,
  DEFAULT_PROXY_TIMEOUT_MS,
} from '../defaults.js';

/** `--log` values; `off` writes no access log. */
export const LOG_FORMAT_CHOICES = ['dev', 'common', 'combined', 'json', 'off'] as const;
export type LogFormatChoice = (typeof LOG_FORMAT_CHOICES)[number];

/** One command-line flag: how parseArgs reads it, and what `--help` and the README say about it. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Repeatable: every occurrence is kept, in order (a config file gives a list). */
  multiple?: boolean;
  /** The value's placeholder in `--help` and the README's flag table, e.g. `<n>`; none for a switch. */
  value?: string;
  /** One sentence for `--help` (wrapped there); the README's row may say more. */
  help: string;
}

/**
 * The single table of flags. The command line is parsed with it, `--help` is generated from it
 * (`renderHelp` below), config-file keys are the camelCase of its names (`cli/config.ts`), and
 * `test/flags-readme.test.ts` fails when the README's flag table lists other flags or placeholders.
 * Adding a flag is one row here, a README row, and reading it in `optionsFromValues`.
 */
export const FLAGS = {
  port: {
    type: 'string',
    short: 'p',
    value: '<n>',
    help: `port to listen on; 0 picks a free one (default ${DEFAULT_PORT})`,
  },
  host: {
    type: 'string',
    value: '<addr>',
    help: `interface to listen on (default ${DEFAULT_HOST}; 0.0.0.0 for the LAN)`,
  },
  'allowed-host': {
    type: 'string',
    multiple: true,
    value: '<name>',
    help: 'on loopback, also answer this Host name (repeatable; .example.com for a domain and its subdomains); others get 421 (DNS rebinding)',
  },
  listen: {
    type: 'string',
    multiple: true,
    value: '<where>',
    help: 'listen on host:port, [v6]:port, unix:/path.sock or fd:N instead of --host/--port (repeatable); systemd socket activation (LISTEN_FDS) is used by itself',
  },
  'socket-mode': { type: 'string', value: '<octal>', help: 'permissions of the unix: sockets, e.g. 660' },
  'socket-owner': {
    type: 'string',
    value: '<user[:group]>',
    help: 'owner (and group) of the unix: sockets, names or numbers',
  },
  'no-listing': {
    type: 'boolean',
    help: 'answer 404 for folders without index.html instead of listing them',
  },
  dotfiles: { type: 'boolean', help: 'serve files and folders whose names start with "."' },
  'follow-symlinks': { type: 'boolean', help: 'follow symbolic links that lead outside the root' },
  'no-compress': { type: 'boolean', help: 'never compress responses (no gzip, brotli or zstd)' },
  'cache-control': {
    type: 'string',
    multiple: true,
    value: '<v>',
    help: "Cache-Control for files, or PATTERN:VALUE for matching paths (repeatable; e.g. '*.js:public, max-age=31536000, immutable'); HTML pages and listings default to no-cache",
  },
  header: {
    type: 'string',
    multiple: true,
    value: "'Name: value'",
    help: 'add a response header field (repeatable)',
  },
  cors: {
    type: 'boolean',
    help: 'allow cross-origin requests (Access-Control-Allow-Origin: *), and cross-origin writes (otherwise refused with 403)',
  },
  spa: { type: 'boolean', help: 'serve /index.html for unknown paths without a file extension' },
  '404': { type: 'string', value: '<page>', help: 'serve this page (path under the root) with status 404' },
  'max-connections': {
    type: 'string',
    value: '<n>',
    help: 'answer 503 beyond n simultaneous connections',
  },
  cgi: {
    type: 'boolean',
    help: `run executables in the ${DEFAULT_CGI_DIR}/ folder as CGI scripts (RFC 3875); only for folders whose scripts you trust`,
  },
  'cgi-dir': {
    type: 'string',
    value: '<dir>',
    help: `the CGI folder under the root (default ${DEFAULT_CGI_DIR}; implies --cgi)`,
  },
  'cgi-ext': {
    type: 'string',
    multiple: true,
    value: '<.ext=cmd>',
    help: 'run files with this extension anywhere in the root with an interpreter (repeatable; e.g. --cgi-ext .py=python3)',
  },
  'cgi-timeout': {
    type: 'string',
    value: '<s>',
    help: `seconds before a script is killed and 504 sent (default ${DEFAULT_CGI_TIMEOUT_MS / 1000})`,
  },
  'cgi-max-body': {
    type: 'string',
    value: '<n>',
    help: `largest request body for a script in bytes, or with K, M, G (default ${describeByteSize(DEFAULT_CGI_MAX_BODY_BYTES)}; 413 beyond)`,
  },
  trace: {
    type: 'boolean',
    help: 'print every request and response head to stderr, in the C (-->) / S (<--) notation, with connection open, reuse and close',
  },
  log: {
    type: 'string',
    value: '<format>',
    help: `access log on stdout: ${LOG_FORMAT_CHOICES.join(', ')} (default dev on a terminal, combined otherwise)`,
  },
  config: {
    type: 'string',
    value: '<file>',
    help: `read options from this JSON file (default ./${DEFAULT_CONFIG_FILE} when it exists, which may then set only harmless options); flags given here win over the file`,
  },
  'tls-cert': {
    type: 'string',
    value: '<file>',
    help: 'serve HTTPS with this PEM certificate (chain); needs --tls-key',
  },
  'tls-key': { type: 'string', value: '<file>', help: 'the PEM private key for --tls-cert' },
  'tls-self-signed': {
    type: 'boolean',
    help: 'serve HTTPS with a development certificate for localhost made at start-up (prints its SHA-256 fingerprint)',
  },
  workers: {
    type: 'string',
    value: '<n|auto>',
    help: 'run n server processes on the same port (auto: one per CPU); SIGHUP restarts them one by one',
  },
  watch: { type: 'boolean', help: 'reload open HTML pages when a file under the root changes' },
  'no-http2': { type: 'boolean', help: 'with HTTPS, offer only HTTP/1.1 (HTTP/2 is on by default)' },
  'health-path': {
    type: 'string',
    value: '<path|off>',
    help: `URL path of the JSON health check, or off (default ${DEFAULT_HEALTH_PATH})`,
  },
  'no-archives': { type: 'boolean', help: 'no ?download=zip / ?download=tar.gz on folders' },
  'no-search': { type: 'boolean', help: 'no ?q=term name search on folders' },
  'no-readme': {
    type: 'boolean',
    help: 'no README.md / index.md / README.txt rendered below HTML listings',
  },
  'no-qr': { type: 'boolean', help: 'no QR code of the LAN URL in the start-up banner' },
  upload: {
    type: 'boolean',
    help: 'let clients write: PUT, PATCH (resumable), DELETE, MKCOL, and an upload form on listings; anyone who can reach the server can write unless --auth says otherwise (never into the CGI folder; not with --cgi-ext)',
  },
  'max-upload-size': {
    type: 'string',
    value: '<n>',
    help: `largest upload in bytes, or with K, M, G (default ${describeByteSize(DEFAULT_MAX_UPLOAD_BYTES)})`,
  },
  'no-webdav': {
    type: 'boolean',
    help: 'no WebDAV: no PROPFIND (read-only mounts), and with --upload no PROPPATCH, COPY, MOVE, LOCK, UNLOCK',
  },
  auth: {
    type: 'string',
    multiple: true,
    value: '<rule>',
    help: `[user:password]@/path[?name=value][:ro|:rw] (repeatable), e.g. --auth 'admin:secret@/:rw' --auth '@/:ro'; passwords may be bcrypt ($2b$), SHA-512 crypt ($6$) or sha512:<hex>; use with TLS; a "*" path segment matches any one, "?name=value" only requests with that query parameter (for scripts, see the README)`,
  },
  'auth-rate': {
    type: 'string',
    value: '<n/time>',
    help: `failed logins allowed per client address, e.g. ${DEFAULT_AUTH_FAILURES}/min (default), 5/30s, 100/hour, or off; then 429 with Retry-After`,
  },
  proxy: {
    type: 'string',
    multiple: true,
    value: '<PREFIX=URL>',
    help: 'send requests under PREFIX to another server (repeatable), e.g. --proxy /api=http://127.0.0.1:3000; WebSockets pass through; a URL with a path replaces the prefix (/api=http://h:3000/ sends /api/users as /users); the longest prefix wins',
  },
  'proxy-timeout': {
    type: 'string',
    value: '<s>',
    help: `seconds an upstream may take to connect or start answering (504 after; default ${DEFAULT_PROXY_TIMEOUT_MS / 1000})`,
  },
  'proxy-insecure': { type: 'boolean', help: 'accept self-signed certificates from https:// upstreams' },
  'proxy-keep-host': {
    type: 'boolean',
    help: "send the browser's Host upstream (default: the upstream's host)",
  },
  'proxy-rewrite-headers': {
    type: 'boolean',
    help: 'rewrite upstream Location and Set-Cookie Domain/Path to the prefix the browser sees',
  },
  'trust-proxy': {
    type: 'string',
    multiple: true,
    value: '<ranges>',
    help: "believe Forwarded / X-Forwarded-For / X-Forwarded-Proto from these proxies (addresses, CIDR ranges, loopback, private; repeatable) for the access log, CGI's REMOTE_ADDR and HTTPS; never by default",
  },
  metrics: {
    type: 'string',
    value: '<path|off>',
    help: 'serve Prometheus metrics at this URL path, e.g. /metrics (default off; --auth rules apply to it like any path)',
  },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  version: { type: 'boolean', short: 'v', help: 'print the version' },
} as const satisfies Record<string, FlagSpec>;

/** `1073741824` → `1G`, for help texts (the units parseByteSize reads). */
function describeByteSize(bytes: number): string {
  for (const [unit, size] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** Flags that only make sense on the command line, so a config file may not set them. */
export const COMMAND_LINE_ONLY_FLAGS: ReadonlySet<string> = new Set(['help', 'version', 'config']);

/** `no-listing` → `noListing`: the config-file key for a long flag. */
export function configKeyOf(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The values parseArgs reads with FLAGS (a config file's values are checked into the same shape). */
export type FlagValues = ReturnType<
  typeof parseArgs<{ args: string[]; options: typeof FLAGS; allowPositionals: true }>
>['values'];

/** Where the help sentences start, and the width they wrap to (an 80-column terminal is rare nowadays). */
const HELP_COLUMN = 29;
const HELP_WIDTH = 100;

/** `-p, --port <n>`: the flag as `--help` and the README write it. */
export function flagLabel(name: string, spec: FlagSpec): string {
  const short = spec.short === undefined ? '    ' : `-${spec.short}, `;
  return `${short}--${name}${spec.value === undefined ? '' : ` ${spec.value}`}`;
}

/** `docroot --help`, generated from FLAGS so that it lists every flag the parser accepts. */
export function renderHelp(flags: Readonly<Record<string, FlagSpec>> = FLAGS): string {
  const lines = [
    'Usage: docroot [dir] [options]',
    '',
    'Serves the folder dir (default: the current folder) over HTTP/1.1.',
    '',
    'Options:',
  ];
  const indent = ' '.repeat(HELP_COLUMN);
  for (const [name, spec] of Object.entries(flags)) {
    const label = `  ${flagLabel(name, spec)}`;
    // A label too long for the column keeps two spaces before its text.
    let line = label.length < HELP_COLUMN - 1 ? label.padEnd(HELP_COLUMN) : `${label}  `;
    let lineHasText = false;
    for (const word of spec.help.split(' ')) {
      if (lineHasText && line.length + 1 + word.length > HELP_WIDTH) {
        lines.push(line);
        line = indent;
        lineHasText = false;
      }
      line += lineHasText ? ` ${word}` : word;
      lineHasText = true;
    }
    lines.push(line);
  }
  lines.push(
    '',
    'Also: docroot request <url> [options]   send one request and show both sides of the exchange',
    '      (docroot request --help for its options)',
    '',
  );
  return lines.join('\n');
}
