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
    },
  };
}
