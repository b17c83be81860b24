/**
 * Command-line flags → server options, with a one-line error for anything wrong. No I/O here.
 * @module
 */
import { parseArgs } from 'node:util';
import { type CacheControlRule, parseCacheControlOption } from '../handlers/policy.js';

export const USAGE = `Usage: docroot [dir] [options]

Serves the folder dir (default: the current folder) over HTTP/1.1.

Options:
  -p, --port <n>             port to listen on; 0 picks a free one (default 8080)
      --host <addr>          interface to listen on (default localhost; 0.0.0.0 for the LAN)
      --no-listing           answer 404 for folders without index.html instead of listing them
      --dotfiles             serve files and folders whose names start with "."
      --follow-symlinks      follow symbolic links that lead outside the root
      --no-compress          never compress responses (no gzip, brotli or zstd)
      --cache-control <v>    Cache-Control for files, or PATTERN:VALUE for matching paths
                             (repeatable; e.g. '*.js:public, max-age=31536000, immutable');
                             HTML pages and listings default to no-cache
      --header <'N: v'>      add a response header field (repeatable)
      --cors                 allow cross-origin requests (Access-Control-Allow-Origin: *)
      --spa                  serve /index.html for unknown paths without a file extension
      --404 <page>           serve this page (path under the root) with status 404
      --max-connections <n>  answer 503 beyond n simultaneous connections
      --cgi                  run executables in the cgi-bin/ folder as CGI scripts (RFC 3875);
                             only for folders whose scripts you trust
      --cgi-dir <dir>        the CGI folder under the root (default cgi-bin; implies --cgi)
      --cgi-ext <.ext=cmd>   run files with this extension anywhere in the root with an
                             interpreter (repeatable; e.g. --cgi-ext .py=python3)
      --cgi-timeout <s>      seconds before a script is killed and 504 sent (default 30)
      --tls-cert <file>      serve HTTPS with this PEM certificate (chain); needs --tls-key
      --tls-key <file>       the PEM private key for --tls-cert
      --tls-self-signed      serve HTTPS with a development certificate for localhost made at
                             start-up (prints its SHA-256 fingerprint)
      --workers <n|auto>     run n server processes on the same port (auto: one per CPU);
                             SIGHUP restarts them one by one
      --watch                reload open HTML pages when a file under the root changes
  -h, --help                 show this help
  -v, --version              print the version
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
  cgi: { dir: string | null; interpreters: Record<string, string>; timeoutMs: number } | undefined;
  /** HTTPS from PEM files, or a development certificate made at start-up. */
  tls: { certFile: string; keyFile: string } | { selfSigned: true } | undefined;
  /** Server processes (cluster workers); undefined runs the server in this process. */
  workers: number | 'auto' | undefined;
  watch: boolean;
}

export type ParsedCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'serve'; options: CliOptions }
  | { kind: 'error'; message: string };

const FLAGS = {
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
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
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-self-signed': { type: 'boolean' },
  workers: { type: 'string' },
  watch: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

function parseWholeNumber(text: string, flag: string, min: number, max: number): number | string {
  if (!/^\d+$/.test(text)) return `${flag} needs a whole number, got "${text}"`;
  const value = Number(text);
  if (value < min || value > max) return `${flag} must be between ${min} and ${max}, got ${value}`;
  return value;
}

export function parseCommandLine(argv: readonly string[]): ParsedCommand {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof FLAGS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: FLAGS, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown) return { kind: 'error', message: `unknown flag ${unknown[1]} (see docroot --help)` };
    return { kind: 'error', message: `${message.split('\n')[0]} (see docroot --help)` };
  }
  const { values, positionals } = parsed;
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
  const cgi = cgiEnabled
    ? {
        dir: values.cgi === true || cgiDir !== undefined ? (cgiDir ?? 'cgi-bin') : null,
        interpreters,
        timeoutMs: cgiTimeoutMs,
      }
    : undefined;

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
      tls,
      workers,
      watch: values.watch ?? false,
    },
  };
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
