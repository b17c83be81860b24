/**
 * Command-line flags → server options, with a one-line error for anything wrong. No I/O here.
 * @module
 */
import { parseArgs } from 'node:util';
import { type AuthRate, parseAuthRate } from '../handlers/auth-rate.js';
import { type AuthRule, parseAuthRule } from '../handlers/auth-rules.js';
import { type CacheControlRule, parseCacheControlOption } from '../handlers/policy.js';
import { parseProxyTrust } from '../http/forwarded.js';
import { parseProxyRoute } from '../proxy/routes.js';
import { type ListenTarget, parseListenTarget } from '../wire/endpoints.js';

export const USAGE = `Usage: docroot [dir] [options]

Serves the folder dir (default: the current folder) over HTTP/1.1.

Options:
  -p, --port <n>             port to listen on; 0 picks a free one (default 8080)
      --host <addr>          interface to listen on (default localhost; 0.0.0.0 for the LAN)
      --allowed-host <name>  on loopback, also answer this Host name (repeatable; .example.com
                             for a domain and its subdomains); others get 421 (DNS rebinding)
      --listen <where>       listen on host:port, [v6]:port, unix:/path.sock or fd:N instead of
                             --host/--port (repeatable); systemd socket activation
                             (LISTEN_FDS) is used by itself
      --socket-mode <octal>  permissions of the unix: sockets, e.g. 660
      --socket-owner <u[:g]> owner (and group) of the unix: sockets, names or numbers
      --no-listing           answer 404 for folders without index.html instead of listing them
      --dotfiles             serve files and folders whose names start with "."
      --follow-symlinks      follow symbolic links that lead outside the root
      --no-compress          never compress responses (no gzip, brotli or zstd)
      --cache-control <v>    Cache-Control for files, or PATTERN:VALUE for matching paths
                             (repeatable; e.g. '*.js:public, max-age=31536000, immutable');
                             HTML pages and listings default to no-cache
      --header <'N: v'>      add a response header field (repeatable)
      --cors                 allow cross-origin requests (Access-Control-Allow-Origin: *), and
                             cross-origin writes (otherwise refused with 403)
      --spa                  serve /index.html for unknown paths without a file extension
      --404 <page>           serve this page (path under the root) with status 404
      --max-connections <n>  answer 503 beyond n simultaneous connections
      --cgi                  run executables in the cgi-bin/ folder as CGI scripts (RFC 3875);
                             only for folders whose scripts you trust
      --cgi-dir <dir>        the CGI folder under the root (default cgi-bin; implies --cgi)
      --cgi-ext <.ext=cmd>   run files with this extension anywhere in the root with an
                             interpreter (repeatable; e.g. --cgi-ext .py=python3)
      --cgi-timeout <s>      seconds before a script is killed and 504 sent (default 30)
      --cgi-max-body <n>     largest request body for a script in bytes, or with K, M, G
                             (default 1G; 413 beyond)
      --trace                print every request and response head to stderr, in the
                             C (-->) / S (<--) notation, with connection open, reuse and close
      --log <format>         access log on stdout: dev, common, combined, json or off
                             (default dev on a terminal, combined otherwise)
      --config <file>        read options from this JSON file (default ./docroot.config.json
                             when it exists, which may then set only harmless options);
                             flags given here win over the file
      --tls-cert <file>      serve HTTPS with this PEM certificate (chain); needs --tls-key
      --tls-key <file>       the PEM private key for --tls-cert
      --tls-self-signed      serve HTTPS with a development certificate for localhost made at
                             start-up (prints its SHA-256 fingerprint)
      --workers <n|auto>     run n server processes on the same port (auto: one per CPU);
                             SIGHUP restarts them one by one
      --watch                reload open HTML pages when a file under the root changes
      --no-http2             with HTTPS, offer only HTTP/1.1 (HTTP/2 is on by default)
      --health-path <path>   URL path of the JSON health check, or off
                             (default /.well-known/docroot/health)
      --no-archives          no ?download=zip / ?download=tar.gz on folders
      --no-search            no ?q=term name search on folders
      --no-readme            no README.md / index.md / README.txt rendered below listings
      --no-qr                no QR code of the LAN URL in the start-up banner
      --upload               let clients write: PUT, PATCH (resumable), DELETE, MKCOL, and an
                             upload form on listings; anyone who can reach the server can
                             write unless --auth says otherwise (never into the CGI folder;
                             not with --cgi-ext)
      --max-upload-size <n>  largest upload in bytes, or with K, M, G (default 1G)
      --no-webdav            no WebDAV: no PROPFIND (read-only mounts), and with --upload no
                             PROPPATCH, COPY, MOVE, LOCK, UNLOCK
      --auth <rule>          [user:password]@/path[?name=value][:ro|:rw] (repeatable), e.g.
                             --auth 'admin:secret@/:rw' --auth '@/:ro'; passwords may be
                             bcrypt ($2b$), SHA-512 crypt ($6$) or sha512:<hex>; use with TLS;
                             a "*" path segment matches any one, "?name=value" only requests
                             with that query parameter (for scripts, see the README)
      --auth-rate <n/time>   failed logins allowed per client address, e.g. 10/min (default),
                             5/30s, 100/hour, or off; then 429 with Retry-After
      --proxy <PREFIX=URL>   send requests under PREFIX to another server (repeatable), e.g.
                             --proxy /api=http://127.0.0.1:3000; WebSockets pass through; a
                             URL with a path replaces the prefix (/api=http://h:3000/ sends
                             /api/users as /users); the longest prefix wins
      --proxy-timeout <s>    seconds an upstream may take to connect or start answering
                             (504 after; default 30)
      --proxy-insecure       accept self-signed certificates from https:// upstreams
      --proxy-keep-host      send the browser's Host upstream (default: the upstream's host)
      --proxy-rewrite-headers  rewrite upstream Location and Set-Cookie Domain/Path to the
                             prefix the browser sees
      --trust-proxy <cidr>   believe Forwarded / X-Forwarded-For / X-Forwarded-Proto from these
                             proxies (addresses, CIDR ranges, loopback, private; repeatable)
                             for the access log, CGI's REMOTE_ADDR and HTTPS; never by default
      --metrics <path|off>   serve Prometheus metrics at this URL path, e.g. /metrics
                             (default off; --auth rules apply to it like any path)
  -h, --help                 show this help
  -v, --version              print the version

Also: docroot request <url> [options]   send one request and show both sides of the exchange
      (docroot request --help for its options)
`;

export interface CliOptions {
  root: string;
  port: number;
  host: string;
  listing: boolean;
  dotfiles: boolean;
  followSymlinks: boolean;
  compress: boolean;
  cacheControl: string | undefined;
  cacheControlRules: CacheControlRule[];
  headers: Record<string, string>;
  cors: boolean;
  spa: boolean;
  notFoundPage: string | undefined;
  maxConnections: number | undefined;
  cgi:
    | { dir: string | null; interpreters: Record<string, string>; timeoutMs: number; maxBodyBytes: number }
    | undefined;
  /** Print protocol heads to stderr (--trace). */
  trace: boolean;
  /** Access log format; undefined means the default for the terminal (dev on a TTY, else combined). */
  log: LogFormatChoice | undefined;
  /** --config, when given (a missing file is then an error rather than silently skipped). */
  configPath: string | undefined;
  /** HTTPS from PEM files, or a development certificate made at start-up. */
  tls: { certFile: string; keyFile: string } | { selfSigned: true } | undefined;
  /** Server processes (cluster workers); undefined runs the server in this process. */
  workers: number | 'auto' | undefined;
  watch: boolean;
  /** Serve h2 clients when TLS is on. */
  http2: boolean;
  /** URL path of the health check, or false for none. */
  healthPath: string | false;
  archives: boolean;
  search: boolean;
  /** Render the folder's README below HTML listings. */
  readme: boolean;
  /** Print a QR code of the first LAN URL (only on a terminal, and only beyond localhost). */
  qr: boolean;
  /** --upload: write access, with the largest accepted upload in bytes. */
  upload: { maxBytes: number } | undefined;
  /** --auth rules, in the order given. */
  auth: AuthRule[];
  /** --auth-rate: failed logins per client address; false for no limit; undefined for the default. */
  authRate: AuthRate | false | undefined;
  /** --allowed-host names (checked only when listening on loopback). */
  allowedHosts: string[];
  /** WebDAV (PROPFIND, and with --upload the other RFC 4918 methods); --no-webdav turns it off. */
  webdav: boolean;
  /** --proxy routes and their options; undefined without --proxy. */
  proxy:
    | { routes: string[]; timeoutMs: number; insecure: boolean; keepHost: boolean; rewriteHeaders: boolean }
    | undefined;
  /** --metrics: URL path of the Prometheus metrics, or undefined for none. */
  metricsPath: string | undefined;
  /** --trust-proxy ranges as given (checked by parseProxyTrust). */
  trustProxy: string[];
  /** --listen targets, in the order given (empty: --host and --port). */
  listen: ListenTarget[];
  /** --socket-mode, parsed from octal. */
  socketMode: number | undefined;
  /** --socket-owner as written (main.ts looks names up). */
  socketOwner: string | undefined;
}

/** `--log` values; `off` writes no access log. */
export const LOG_FORMAT_CHOICES = ['dev', 'common', 'combined', 'json', 'off'] as const;
export type LogFormatChoice = (typeof LOG_FORMAT_CHOICES)[number];

/** The file read when --config is not given, from the current folder. */
export const DEFAULT_CONFIG_FILE = 'docroot.config.json';

/**
 * Options read from a config file, already checked against FLAGS: keys are long flag names (the file's
 * camelCase keys converted back), values typed as parseArgs would give them.
 */
export interface ConfigFileValues {
  /** The file, for error messages. */
  source: string;
  values: Partial<Record<keyof typeof FLAGS, string | boolean | string[]>>;
  /** The folder to serve (key `dir`), already resolved against the file's folder. */
  dir?: string;
}

export type ParsedCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'serve'; options: CliOptions }
  | { kind: 'error'; message: string };

/**
 * The single table of options: the command line is parsed with it, and config-file keys are checked
 * against it (`camelCase` of each long flag), so the two cannot drift apart.
 */
export const FLAGS = {
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  listen: { type: 'string', multiple: true },
  'socket-mode': { type: 'string' },
  'socket-owner': { type: 'string' },
  'no-listing': { type: 'boolean' },
  dotfiles: { type: 'boolean' },
  'follow-symlinks': { type: 'boolean' },
  'no-compress': { type: 'boolean' },
  'cache-control': { type: 'string', multiple: true },
  header: { type: 'string', multiple: true },
  cors: { type: 'boolean' },
  spa: { type: 'boolean' },
  '404': { type: 'string' },
  'max-connections': { type: 'string' },
  cgi: { type: 'boolean' },
  'cgi-dir': { type: 'string' },
  'cgi-ext': { type: 'string', multiple: true },
  'cgi-timeout': { type: 'string' },
  'cgi-max-body': { type: 'string' },
  trace: { type: 'boolean' },
  log: { type: 'string' },
  config: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-self-signed': { type: 'boolean' },
  workers: { type: 'string' },
  watch: { type: 'boolean' },
  'no-http2': { type: 'boolean' },
  'health-path': { type: 'string' },
  'no-archives': { type: 'boolean' },
  'no-search': { type: 'boolean' },
  'no-readme': { type: 'boolean' },
  'no-qr': { type: 'boolean' },
  upload: { type: 'boolean' },
  'max-upload-size': { type: 'string' },
  'no-webdav': { type: 'boolean' },
  auth: { type: 'string', multiple: true },
  'auth-rate': { type: 'string' },
  'allowed-host': { type: 'string', multiple: true },
  proxy: { type: 'string', multiple: true },
  'proxy-timeout': { type: 'string' },
  'proxy-insecure': { type: 'boolean' },
  'proxy-keep-host': { type: 'boolean' },
  'proxy-rewrite-headers': { type: 'boolean' },
  metrics: { type: 'string' },
  'trust-proxy': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

function parseWholeNumber(text: string, flag: string, min: number, max: number): number | string {
  if (!/^\d+$/.test(text)) return `${flag} needs a whole number, got "${text}"`;
  const value = Number(text);
  if (value < min || value > max) return `${flag} must be between ${min} and ${max}, got ${value}`;
  return value;
}

/** Flags that only make sense on the command line, so a config file may not set them. */
export const COMMAND_LINE_ONLY_FLAGS: ReadonlySet<string> = new Set(['help', 'version', 'config']);

/** `no-listing` → `noListing`: the config-file key for a long flag. */
export function configKeyOf(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Parses argv; `config` (from a config file) fills in whatever the command line leaves out. A flag given
 * on the command line replaces the file's value, lists included.
 */
export function parseCommandLine(argv: readonly string[], config?: ConfigFileValues): ParsedCommand {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof FLAGS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: FLAGS, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown) return { kind: 'error', message: `unknown flag ${unknown[1]} (see docroot --help)` };
    return { kind: 'error', message: `${message.split('\n')[0]} (see docroot --help)` };
  }
  if (config === undefined) return optionsFromValues(parsed.values, parsed.positionals);
  const fromFile = Object.keys(config.values).filter((flag) => !(flag in parsed.values));
  const values = { ...config.values, ...parsed.values } as typeof parsed.values;
  const positionals =
    parsed.positionals.length === 0 && config.dir !== undefined ? [config.dir] : parsed.positionals;
  const command = optionsFromValues(values, positionals);
  if (command.kind !== 'error') return command;
  // Name the file and its key when the bad value came from the file.
  const flag = /^--([a-z0-9-]+)/.exec(command.message)?.[1];
  if (flag === undefined || !fromFile.includes(flag)) return command;
  return {
    kind: 'error',
    message: `${config.source}: "${configKeyOf(flag)}"${command.message.slice(flag.length + 2)}`,
  };
}

type FlagValues = ReturnType<
  typeof parseArgs<{ args: string[]; options: typeof FLAGS; allowPositionals: true }>
>['values'];

function optionsFromValues(values: FlagValues, positionals: readonly string[]): ParsedCommand {
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (positionals.length > 1) {
    return {
      kind: 'error',
      message: `expected one folder, got ${positionals.length}: ${positionals.join(' ')}`,
    };
  }

  const port = parseWholeNumber(values.port ?? '8080', '--port', 0, 65535);
  if (typeof port === 'string') return { kind: 'error', message: port };

  let maxConnections: number | undefined;
  if (values['max-connections'] !== undefined) {
    const n = parseWholeNumber(values['max-connections'], '--max-connections', 1, 10_000_000);
    if (typeof n === 'string') return { kind: 'error', message: n };
    maxConnections = n;
  }

  const headers: Record<string, string> = {};
  for (const field of values.header ?? []) {
    const colon = field.indexOf(':');
    const name = colon > 0 ? field.slice(0, colon).trim() : '';
    const value = colon > 0 ? field.slice(colon + 1).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value)) {
      return { kind: 'error', message: `--header needs 'Name: value', got "${field}"` };
    }
    headers[name] = value;
  }

  let cacheControl: string | undefined;
  const cacheControlRules: CacheControlRule[] = [];
  for (const text of values['cache-control'] ?? []) {
    const { pattern, value } = parseCacheControlOption(text);
    if (value === '' || /[\r\n\0]/.test(value))
      return { kind: 'error', message: `--cache-control needs a value, got "${text}"` };
    if (pattern === null) cacheControl = value;
    else cacheControlRules.push({ pattern, value });
  }

  const interpreters: Record<string, string> = {};
  for (const mapping of values['cgi-ext'] ?? []) {
    const match = /^(\.[A-Za-z0-9_-]+)=(.+)$/.exec(mapping);
    if (!match) return { kind: 'error', message: `--cgi-ext needs .ext=command, got "${mapping}"` };
    interpreters[match[1]!.toLowerCase()] = match[2]!;
  }
  let cgiTimeoutMs = 30_000;
  if (values['cgi-timeout'] !== undefined) {
    const seconds = Number(values['cgi-timeout']);
    if (!(seconds > 0 && seconds <= 86_400)) {
      return {
        kind: 'error',
        message: `--cgi-timeout needs seconds between 0 and 86400, got "${values['cgi-timeout']}"`,
      };
    }
    cgiTimeoutMs = Math.round(seconds * 1000);
  }
  const cgiDir = values['cgi-dir'];
  if (cgiDir !== undefined && (cgiDir === '' || cgiDir.includes('/') || cgiDir.startsWith('.'))) {
    return {
      kind: 'error',
      message: `--cgi-dir needs a folder name directly under the root, got "${cgiDir}"`,
    };
  }
  const cgiEnabled = values.cgi === true || cgiDir !== undefined || Object.keys(interpreters).length > 0;
  const cgiMaxBody = values['cgi-max-body'];
  const cgiMaxBodyBytes = cgiMaxBody === undefined ? DEFAULT_MAX_UPLOAD_BYTES : parseByteSize(cgiMaxBody);
  if (cgiMaxBodyBytes === null) {
    return {
      kind: 'error',
      message: `--cgi-max-body needs bytes, or a number with K, M or G, got "${cgiMaxBody}"`,
    };
  }
  if (cgiMaxBody !== undefined && !cgiEnabled) {
    return { kind: 'error', message: '--cgi-max-body only makes sense with --cgi, --cgi-dir or --cgi-ext' };
  }
  const cgi = cgiEnabled
    ? {
        dir: values.cgi === true || cgiDir !== undefined ? (cgiDir ?? 'cgi-bin') : null,
        interpreters,
        timeoutMs: cgiTimeoutMs,
        maxBodyBytes: cgiMaxBodyBytes,
      }
    : undefined;

  const log = values.log;
  if (log !== undefined && !(LOG_FORMAT_CHOICES as readonly string[]).includes(log)) {
    return { kind: 'error', message: `--log needs one of ${LOG_FORMAT_CHOICES.join(', ')}, got "${log}"` };
  }

  const tls = parseTlsFlags(values['tls-cert'], values['tls-key'], values['tls-self-signed'] === true);
  if (typeof tls === 'string') return { kind: 'error', message: tls };

  let workers: number | 'auto' | undefined;
  if (values.workers !== undefined) {
    if (values.workers === 'auto') workers = 'auto';
    else {
      const n = parseWholeNumber(values.workers, '--workers', 1, MAX_WORKERS);
      if (typeof n === 'string') return { kind: 'error', message: `${n} (or auto)` };
      workers = n;
    }
  }

  const healthPath = values['health-path'];
  if (healthPath !== undefined && healthPath !== 'off' && !URL_PATH.test(healthPath)) {
    return {
      kind: 'error',
      message: `--health-path needs a URL path starting with "/" (or off), got "${healthPath}"`,
    };
  }
  const metricsPath = values.metrics;
  if (metricsPath !== undefined && metricsPath !== 'off' && !URL_PATH.test(metricsPath)) {
    return {
      kind: 'error',
      message: `--metrics needs a URL path starting with "/" (or off), got "${metricsPath}"`,
    };
  }

  let upload: CliOptions['upload'];
  if (values.upload === true) {
    const maxBytes =
      values['max-upload-size'] === undefined
        ? DEFAULT_MAX_UPLOAD_BYTES
        : parseByteSize(values['max-upload-size']);
    if (maxBytes === null) {
      return {
        kind: 'error',
        message: `--max-upload-size needs bytes, or a number with K, M or G, got "${values['max-upload-size']}"`,
      };
    }
    upload = { maxBytes };
  } else if (values['max-upload-size'] !== undefined) {
    return { kind: 'error', message: '--max-upload-size only makes sense with --upload' };
  }
  const auth: AuthRule[] = [];
  for (const text of values.auth ?? []) {
    const rule = parseAuthRule(text);
    if (typeof rule === 'string') return { kind: 'error', message: rule };
    auth.push(rule);
  }
  let authRate: AuthRate | false | undefined;
  if (values['auth-rate'] !== undefined) {
    const rate = parseAuthRate(values['auth-rate']);
    if (typeof rate === 'string') return { kind: 'error', message: rate };
    authRate = rate;
  }
  const allowedHosts: string[] = [];
  for (const name of values['allowed-host'] ?? []) {
    if (!/^\.?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(name)) {
      return {
        kind: 'error',
        message: `--allowed-host needs a host name like docs.test or .example.com, got "${name}"`,
      };
    }
    allowedHosts.push(name.toLowerCase());
  }
  if (upload !== undefined && cgi !== undefined && Object.keys(cgi.interpreters).length > 0) {
    return { kind: 'error', message: UPLOAD_WITH_CGI_EXT };
  }

  const proxy = parseProxyFlags(values);
  if (typeof proxy === 'string') return { kind: 'error', message: proxy };

  const listen: ListenTarget[] = [];
  for (const text of values.listen ?? []) {
    const target = parseListenTarget(text);
    if (typeof target === 'string') return { kind: 'error', message: target };
    listen.push(target);
  }
  const socketModeText = values['socket-mode'];
  if (socketModeText !== undefined && !/^0?[0-7]{3}$/.test(socketModeText)) {
    return {
      kind: 'error',
      message: `--socket-mode needs octal permissions like 660, got "${socketModeText}"`,
    };
  }
  const socketOwner = values['socket-owner'];
  if (socketOwner !== undefined && !/^[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)?$/.test(socketOwner)) {
    return { kind: 'error', message: `--socket-owner needs user or user:group, got "${socketOwner}"` };
  }

  const trustProxy = values['trust-proxy'] ?? [];
  const trustError = parseProxyTrust(trustProxy);
  if (typeof trustError === 'string') return { kind: 'error', message: trustError };

  const notFound = values['404'];
  return {
    kind: 'serve',
    options: {
      root: positionals[0] ?? '.',
      port,
      host: values.host ?? 'localhost',
      listing: !values['no-listing'],
      dotfiles: values.dotfiles ?? false,
      followSymlinks: values['follow-symlinks'] ?? false,
      compress: !values['no-compress'],
      cacheControl,
      cacheControlRules,
      headers,
      cors: values.cors ?? false,
      spa: values.spa ?? false,
      notFoundPage: notFound === undefined ? undefined : notFound.startsWith('/') ? notFound : `/${notFound}`,
      maxConnections,
      cgi,
      trace: values.trace ?? false,
      log: log as LogFormatChoice | undefined,
      configPath: values.config,
      tls,
      workers,
      watch: values.watch ?? false,
      http2: !values['no-http2'],
      healthPath: healthPath === 'off' ? false : (healthPath ?? '/.well-known/docroot/health'),
      archives: !values['no-archives'],
      search: !values['no-search'],
      readme: !values['no-readme'],
      qr: !values['no-qr'],
      upload,
      auth,
      authRate,
      allowedHosts,
      webdav: !values['no-webdav'],
      proxy,
      metricsPath: metricsPath === 'off' ? undefined : metricsPath,
      listen,
      trustProxy,
      socketMode: socketModeText === undefined ? undefined : Number.parseInt(socketModeText, 8),
      socketOwner,
    },
  };
}

/** Seconds an upstream may take, as in server.ts (not imported, so parsing flags loads no server code). */
const DEFAULT_PROXY_TIMEOUT_S = 30;

function parseProxyFlags(values: FlagValues): CliOptions['proxy'] | string {
  const routes = values.proxy ?? [];
  const others = (
    ['proxy-timeout', 'proxy-insecure', 'proxy-keep-host', 'proxy-rewrite-headers'] as const
  ).filter((flag) => values[flag] !== undefined && values[flag] !== false);
  if (routes.length === 0) {
    return others.length === 0 ? undefined : `--${others[0]} only makes sense with --proxy PREFIX=URL`;
  }
  const prefixes = new Set<string>();
  for (const text of routes) {
    const route = parseProxyRoute(text);
    if (typeof route === 'string') return route;
    if (prefixes.has(route.prefix)) return `--proxy prefix ${route.prefix || '/'} is given twice`;
    prefixes.add(route.prefix);
  }
  let timeoutMs = DEFAULT_PROXY_TIMEOUT_S * 1000;
  const timeout = values['proxy-timeout'];
  if (timeout !== undefined) {
    const seconds = Number(timeout);
    if (!(seconds > 0 && seconds <= 86_400)) {
      return `--proxy-timeout needs seconds between 0 and 86400, got "${timeout}"`;
    }
    timeoutMs = Math.round(seconds * 1000);
  }
  return {
    routes: [...routes],
    timeoutMs,
    insecure: values['proxy-insecure'] === true,
    keepHost: values['proxy-keep-host'] === true,
    rewriteHeaders: values['proxy-rewrite-headers'] === true,
  };
}

/** Why --upload and --cgi-ext do not go together (server.ts says the same to library users). */
export const UPLOAD_WITH_CGI_EXT =
  '--upload with --cgi-ext would let anyone who may write upload a script and run it (--cgi-ext runs matching files anywhere in the root); use --cgi-dir, a folder uploads cannot write, instead';

/** An absolute URL path made of RFC 3986 path characters (percent-encoded where needed). */
const URL_PATH = /^\/[!$&'()*+,;=:@%/A-Za-z0-9._~-]*$/;

/** 1 GiB, as in server.ts (not imported, so parsing flags loads no server code). */
const DEFAULT_MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;
const BYTE_SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** `1048576`, `10M`, `1.5G`, `512k` (binary units, optional trailing B) → bytes, or null. */
export function parseByteSize(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (match === null) return null;
  const bytes = Math.floor(Number(match[1]) * (BYTE_SIZE_UNITS[match[2]!.toLowerCase()] ?? 1));
  return bytes >= 1 && Number.isSafeInteger(bytes) ? bytes : null;
}

/** More processes than this is a typo, not a deployment. */
const MAX_WORKERS = 1024;

function parseTlsFlags(
  certFile: string | undefined,
  keyFile: string | undefined,
  selfSigned: boolean,
): CliOptions['tls'] | string {
  if (selfSigned) {
    if (certFile !== undefined || keyFile !== undefined)
      return '--tls-self-signed makes its own certificate; leave out --tls-cert and --tls-key';
    return { selfSigned: true };
  }
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined) return '--tls-key needs --tls-cert <file> too';
  if (keyFile === undefined) return '--tls-cert needs --tls-key <file> too';
  return { certFile, keyFile };
}
