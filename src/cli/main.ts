#!/usr/bin/env node
/**
 * The `docroot` command. The only module that writes to the terminal and calls process.exit.
 * @module
 */
import os from 'node:os';
import { createServer, RootError } from '../server.js';
import { VERSION } from '../version.js';
import { type CliOptions, parseCommandLine, USAGE } from './args.js';

function fail(message: string): never {
  process.stderr.write(`docroot: ${message}\n`);
  process.exit(1);
}

/** The URLs a user can open: localhost names, plus every LAN address when listening on all interfaces. */
export function displayUrls(host: string, port: number): string[] {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  if (!wildcard) return [`http://${host.includes(':') ? `[${host}]` : host}:${port}/`];
  const urls = [`http://localhost:${port}/`];
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.internal) continue;
      if (address.family === 'IPv4') urls.push(`http://${address.address}:${port}/`);
      else if (host === '::' && !address.address.startsWith('fe80'))
        urls.push(`http://[${address.address}]:${port}/`);
    }
  }
  return urls;
}

async function serve(options: CliOptions): Promise<void> {
  let server: ReturnType<typeof createServer>;
  try {
    server = createServer({
      root: options.root,
      port: options.port,
      host: options.host,
      listing: options.listing,
      dotfiles: options.dotfiles,
      followSymlinks: options.followSymlinks,
      compress: options.compress,
      ...(options.cacheControl !== undefined ? { cacheControl: options.cacheControl } : {}),
      cacheControlRules: options.cacheControlRules,
      headers: options.headers,
      cors: options.cors,
      spa: options.spa,
      ...(options.notFoundPage !== undefined ? { notFoundPage: options.notFoundPage } : {}),
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    });
  } catch (error) {
    if (error instanceof RootError) fail(error.message);
    throw error;
  }
  let address: Awaited<ReturnType<typeof server.listen>>;
  try {
    address = await server.listen();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') fail(`port ${options.port} is already in use; try --port 0 for any free port`);
    if (code === 'EACCES') fail(`no permission to listen on port ${options.port}; try a port above 1023`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') fail(`cannot listen on host ${options.host}`);
    fail(`cannot listen: ${(error as Error).message}`);
  }
  const urls = displayUrls(options.host, address.port);
  process.stdout.write(
    `docroot ${VERSION} serving ${server.root}\n${urls.map((u) => `  ${u}`).join('\n')}\n`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`docroot: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`docroot: ${signal}, finishing open responses\n`);
    server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

async function main(argv: readonly string[]): Promise<void> {
  const command = parseCommandLine(argv);
  switch (command.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return;
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return;
    case 'error':
      fail(command.message);
      break;
    case 'serve':
      await serve(command.options);
      return;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(
    `docroot: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
