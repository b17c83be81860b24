/**
 * Command-line flags → server options, with a one-line error for anything wrong. No I/O here.
 * @module
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE, DEFAULT_HEALTH_PATH, DEFAULT_HOST, DEFAULT_PORT } from '../defaults.js';
import { type AuthRate, parseAuthRate } from '../handlers/auth-rate.js';
import { type AuthRule, parseAuthRule } from '../handlers/auth-rules.js';
import { type CacheControlRule, parseCacheControlOption } from '../handlers/policy.js';
import { parseProxyTrust } from '../http/forwarded.js';
import { isHttpToken } from '../wire/chars.js';
import { type ListenTarget, parseListenTarget } from '../wire/endpoints.js';
import {
  MAX_WORKERS,
  parseCgiFlags,
  parseProxyFlags,
  parseTlsFlags,
  parseUploadFlags,
  parseWholeNumber,
  UPLOAD_WITH_CGI_EXT,
  URL_PATH,
} from './flag-groups.js';
import { configKeyOf, FLAGS, type FlagValues, LOG_FORMAT_CHOICES, type LogFormatChoice } from './flags.js';

export { parseByteSize, UPLOAD_WITH_CGI_EXT } from './flag-groups.js';
export {
  COMMAND_LINE_ONLY_FLAGS,
  configKeyOf,
  FLAGS,
  LOG_FORMAT_CHOICES,
  type LogFormatChoice,
} from './flags.js';

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

export { DEFAULT_CONFIG_FILE };

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

function optionsFromValues(values: FlagValues, positionals: readonly string[]): ParsedCommand {
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (positionals.length > 1) {
    return {
      kind: 'error',
      message: `expected one folder, got ${positionals.length}: ${positionals.join(' ')}`,
    };
  }

  const port = parseWholeNumber(values.port ?? String(DEFAULT_PORT), '--port', 0, 65535);
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
    if (!isHttpToken(name) || /[\r\n\0]/.test(value)) {
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

  const cgi = parseCgiFlags(values);
  if (typeof cgi === 'string') return { kind: 'error', message: cgi };

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

  const upload = parseUploadFlags(values);
  if (typeof upload === 'string') return { kind: 'error', message: upload };
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
      host: values.host ?? DEFAULT_HOST,
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
      healthPath: healthPath === 'off' ? false : (healthPath ?? DEFAULT_HEALTH_PATH),
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
