/**
 * The flags that come in groups (CGI, uploads, the proxy, TLS) and the value syntaxes several flags
 * share (whole numbers, byte sizes), each checked into its part of CliOptions or a one-line error.
 * @module
 */
import {
  DEFAULT_CGI_DIR,
  DEFAULT_CGI_MAX_BODY_BYTES,
  DEFAULT_CGI_TIMEOUT_MS,
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_PROXY_TIMEOUT_MS,
} from '../defaults.js';
import { parseProxyRoute } from '../proxy/routes.js';
import type { CliOptions } from './args.js';
import type { FlagValues } from './flags.js';

export function parseWholeNumber(text: string, flag: string, min: number, max: number): number | string {
  if (!/^\d+$/.test(text)) return `${flag} needs a whole number, got "${text}"`;
  const value = Number(text);
  if (value < min || value > max) return `${flag} must be between ${min} and ${max}, got ${value}`;
  return value;
}

/** --cgi, --cgi-dir, --cgi-ext, --cgi-timeout, --cgi-max-body → the CGI options, or a one-line error. */
export function parseCgiFlags(values: FlagValues): CliOptions['cgi'] | string {
  const interpreters: Record<string, string> = {};
  for (const mapping of values['cgi-ext'] ?? []) {
    const match = /^(\.[A-Za-z0-9_-]+)=(.+)$/.exec(mapping);
    if (!match) return `--cgi-ext needs .ext=command, got "${mapping}"`;
    interpreters[match[1]!.toLowerCase()] = match[2]!;
  }
  let cgiTimeoutMs = DEFAULT_CGI_TIMEOUT_MS;
  if (values['cgi-timeout'] !== undefined) {
    const seconds = Number(values['cgi-timeout']);
    if (!(seconds > 0 && seconds <= 86_400)) {
      return `--cgi-timeout needs seconds between 0 and 86400, got "${values['cgi-timeout']}"`;
    }
    cgiTimeoutMs = Math.round(seconds * 1000);
  }
  const cgiDir = values['cgi-dir'];
  if (cgiDir !== undefined && (cgiDir === '' || cgiDir.includes('/') || cgiDir.startsWith('.'))) {
    return `--cgi-dir needs a folder name directly under the root, got "${cgiDir}"`;
  }
  const cgiEnabled = values.cgi === true || cgiDir !== undefined || Object.keys(interpreters).length > 0;
  const cgiMaxBody = values['cgi-max-body'];
  const cgiMaxBodyBytes = cgiMaxBody === undefined ? DEFAULT_CGI_MAX_BODY_BYTES : parseByteSize(cgiMaxBody);
  if (cgiMaxBodyBytes === null) {
    return `--cgi-max-body needs bytes, or a number with K, M or G, got "${cgiMaxBody}"`;
  }
  if (cgiMaxBody !== undefined && !cgiEnabled) {
    return '--cgi-max-body only makes sense with --cgi, --cgi-dir or --cgi-ext';
  }
  return cgiEnabled
    ? {
        dir: values.cgi === true || cgiDir !== undefined ? (cgiDir ?? DEFAULT_CGI_DIR) : null,
        interpreters,
        timeoutMs: cgiTimeoutMs,
        maxBodyBytes: cgiMaxBodyBytes,
      }
    : undefined;
}

/** --upload and --max-upload-size → the upload options, or a one-line error. */
export function parseUploadFlags(values: FlagValues): CliOptions['upload'] | string {
  if (values.upload === true) {
    const maxBytes =
      values['max-upload-size'] === undefined
        ? DEFAULT_MAX_UPLOAD_BYTES
        : parseByteSize(values['max-upload-size']);
    if (maxBytes === null) {
      return `--max-upload-size needs bytes, or a number with K, M or G, got "${values['max-upload-size']}"`;
    }
    return { maxBytes };
  } else if (values['max-upload-size'] !== undefined) {
    return '--max-upload-size only makes sense with --upload';
  }
  return undefined;
}

export function parseProxyFlags(values: FlagValues): CliOptions['proxy'] | string {
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
  let timeoutMs = DEFAULT_PROXY_TIMEOUT_MS;
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
export const URL_PATH = /^\/[!$&'()*+,;=:@%/A-Za-z0-9._~-]*$/;

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
export const MAX_WORKERS = 1024;

export function parseTlsFlags(
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
