/**
 * The start-up banner: what is served, where (every URL a user can open), and what is switched on that
 * a user should know about (uploads, CGI, passwords without TLS). Text only; main.ts prints it.
 * @module
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { VERSION } from '../version.js';
import type { CliOptions } from './args.js';

/** The URLs a user can open: localhost names, plus every LAN address when listening on all interfaces. */
export function displayUrls(host: string, port: number, scheme: 'http' | 'https' = 'http'): string[] {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  if (!wildcard) return [`${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}/`];
  const urls = [`${scheme}://localhost:${port}/`];
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.internal) continue;
      if (address.family === 'IPv4') urls.push(`${scheme}://${address.address}:${port}/`);
      else if (host === '::' && !address.address.startsWith('fe80'))
        urls.push(`${scheme}://[${address.address}]:${port}/`);
    }
  }
  return urls;
}

export interface BannerFacts {
  /** The real path being served. */
  root: string;
  port: number;
  /** SHA-256 fingerprint of a certificate made at start-up. */
  fingerprint?: string | undefined;
  /** With --workers, how many. */
  workerCount?: number | undefined;
  /** The `--listen` lines, instead of URLs built from --host and --port. */
  listeningOn?: readonly string[] | null | undefined;
}

export interface Banner {
  /** Lines for stdout, each ending in a newline. */
  text: string;
  /** The first URL reachable from other machines, for a QR code; null when there is none. */
  lanUrl: string | null;
}

/** What is being served and where, once, by the process the user started. */
export function banner(options: CliOptions, facts: BannerFacts): Banner {
  const urls =
    facts.listeningOn ?? displayUrls(options.host, facts.port, options.tls === undefined ? 'http' : 'https');
  const processes = facts.workerCount === undefined ? '' : ` with ${facts.workerCount} workers`;
  const lines = [`docroot ${VERSION} serving ${facts.root}${processes}`, ...urls.map((url) => `  ${url}`)];
  if (facts.fingerprint !== undefined) {
    lines.push(
      '  HTTPS with a self-signed development certificate (localhost, 127.0.0.1, ::1)',
      `  SHA-256 fingerprint ${facts.fingerprint}`,
    );
  }
  if (options.watch) lines.push('  live reload is on: HTML pages reload when a file changes');
  if (options.upload !== undefined) {
    lines.push(
      options.auth.length === 0
        ? '  uploads are on: anyone who can reach this server can write and delete files here'
        : '  uploads are on for the --auth rules that grant rw',
    );
  }
  if (options.webdav && options.upload !== undefined) {
    lines.push('  WebDAV is on: mount the URL as a network drive (off with --no-webdav)');
  }
  if (options.auth.length > 0 && options.tls === undefined) {
    lines.push(
      '  WARNING: --auth without TLS sends passwords readable by anyone on the network;',
      '  add --tls-cert/--tls-key, or --tls-self-signed at least',
    );
  }
  for (const route of options.proxy?.routes ?? []) {
    const equals = route.indexOf('=');
    lines.push(`  proxy: ${route.slice(0, equals)} → ${route.slice(equals + 1)}`);
  }
  if (options.cgi !== undefined) {
    const where = [
      options.cgi.dir === null ? null : `executables in /${options.cgi.dir}/`,
      ...Object.entries(options.cgi.interpreters).map(([ext, cmd]) => `*${ext} files (with ${cmd})`),
    ].filter((x) => x !== null);
    lines.push(`  CGI is on: ${where.join(', ')} run as programs on this machine`);
  }
  const lanUrl = urls.find((url) => url.startsWith('http') && !isLoopbackUrl(url)) ?? null;
  return { text: `${lines.join('\n')}\n`, lanUrl };
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

/**
 * The LAN URL as a QR code, or null when the encoder is missing. The encoder (qrcode-terminal, no
 * dependencies) loads only here; main.ts asks only for a terminal, since logs and pipes get no block art.
 */
export function qrCodeText(url: string): string | null {
  try {
    const requireModule = createRequire(import.meta.url);
    const qrcode = requireModule('qrcode-terminal') as {
      generate(text: string, options: { small: boolean }, done: (code: string) => void): void;
    };
    let text: string | null = null;
    qrcode.generate(url, { small: true }, (code) => {
      text = `  scan to open ${url}\n${code}\n`;
    });
    return text;
  } catch {
    // A missing optional nicety never stops the server.
    return null;
  }
}
