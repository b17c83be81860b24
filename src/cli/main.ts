#!/usr/bin/env node
/**
 * The `docroot` command. The only module that writes to the terminal and calls process.exit.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import {
  createServer,
  type MetricsSnapshot,
  type ProxyServerOptions,
  RootError,
  resolveRoot,
} from '../server.js';
import type { TlsOptions } from '../tls/server.js';
import { VERSION } from '../version.js';
import type { ListenTarget, UnixSocketOptions } from '../wire/endpoints.js';
import type { ExchangeRecord, WireObserver } from '../wire/observer.js';
import { type CliOptions, DEFAULT_CONFIG_FILE, type ParsedCommand, parseCommandLine, USAGE } from './args.js';
import { usesListenTargets } from './listening.js';
import type { Notifier } from './notify.js';

type WorkersModule = typeof import('./workers.js');

function fail(message: string): never {
  process.stderr.write(`docroot: ${message}\n`);
  process.exit(1);
}

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

/** Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
function wantsColor(stream: NodeJS.WriteStream): boolean {
  const noColor = process.env.NO_COLOR;
  return stream.isTTY === true && (noColor === undefined || noColor === '');
}

/** Re-parses with the config file when there is one; the file's module is only loaded then. */
async function withConfigFile(argv: readonly string[], command: ParsedCommand): Promise<ParsedCommand> {
  if (command.kind !== 'serve') return command;
  const file =
    command.options.configPath ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (file === undefined) return command;
  const { ConfigError, loadConfigFile } = await import('./config.js');
  try {
    // Only a file the user named is trusted with options that widen what is exposed or run.
    return parseCommandLine(
      argv,
      loadConfigFile(file, { trusted: command.options.configPath !== undefined }),
    );
  } catch (error) {
    if (error instanceof ConfigError) return { kind: 'error', message: error.message };
    throw error;
  }
}

/** The trace and access-log observers the options ask for; their modules load only when wanted. */
async function createObserver(options: CliOptions): Promise<WireObserver | undefined> {
  const observers: WireObserver[] = [];
  if (options.trace) {
    const { createTraceObserver } = await import('../wire/trace.js');
    observers.push(
      createTraceObserver({
        writeLine: (line) => process.stderr.write(`${line}\n`),
        color: wantsColor(process.stderr),
      }),
    );
  }
  const log = options.log ?? (process.stdout.isTTY === true ? 'dev' : 'combined');
  if (log !== 'off') {
    const [{ createAccessLogObserver }, { createBufferedLineSink }] = await Promise.all([
      import('../wire/access-log.js'),
      import('../wire/buffered-sink.js'),
    ]);
    const sink = createBufferedLineSink((text) => process.stdout.write(text));
    // Writes to terminals, files and pipes are synchronous on Linux, so the last lines get out on exit.
    process.once('exit', () => sink.close());
    let clientAddress: ((record: ExchangeRecord) => string) | undefined;
    if (options.trustProxy.length > 0) {
      const { clientAddressOf, parseProxyTrust } = await import('../http/forwarded.js');
      const trust = parseProxyTrust(options.trustProxy);
      if (typeof trust !== 'string') {
        clientAddress = (record) => clientAddressOf(record.remoteAddress, record.request?.headers, trust);
      }
    }
    observers.push(
      createAccessLogObserver({
        format: log,
        writeLine: sink.writeLine,
        color: wantsColor(process.stdout),
        ...(clientAddress !== undefined ? { clientAddress } : {}),
      }),
    );
  }
  if (observers.length <= 1) return observers[0];
  const { combineObservers } = await import('../wire/observers.js');
  return combineObservers(...observers);
}

/** --proxy options for createServer; with --trace the upstream leg of each exchange is traced too. */
async function proxyServerOptions(options: CliOptions): Promise<ProxyServerOptions> {
  const proxy = options.proxy!;
  let onUpstreamHead: ProxyServerOptions['onUpstreamHead'];
  if (options.trace) {
    const { createUpstreamTracer } = await import('../wire/trace.js');
    onUpstreamHead = createUpstreamTracer({
      writeLine: (line) => process.stderr.write(`${line}\n`),
      color: wantsColor(process.stderr),
    });
  }
  return {
    routes: proxy.routes,
    timeoutMs: proxy.timeoutMs,
    insecure: proxy.insecure,
    keepHost: proxy.keepHost,
    rewriteHeaders: proxy.rewriteHeaders,
    log: (line) => process.stderr.write(`docroot: proxy: ${line}\n`),
    ...(onUpstreamHead !== undefined ? { onUpstreamHead } : {}),
  };
}

/** The PEM files named by --tls-cert and --tls-key, or a one-line error. */
function readTlsFiles(files: { certFile: string; keyFile: string }): { cert: string; key: string } {
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      fail(`cannot read the ${flag} file ${file}${code === undefined ? '' : ` (${code})`}`);
    }
  };
  return { cert: read(files.certFile, '--tls-cert'), key: read(files.keyFile, '--tls-key') };
}

function tlsFailure(error: unknown): string {
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return `cannot use the TLS certificate and key: ${message}`;
}

async function serve(options: CliOptions): Promise<void> {
  // Only the process systemd started talks to it (a worker's environment no longer has the socket).
  const notifier =
    process.env.NOTIFY_SOCKET === undefined
      ? null
      : (await import('./notify.js')).takeNotifier((line) => process.stderr.write(`docroot: ${line}\n`));
  if (options.workers === undefined) return serveInThisProcess(options, null, notifier);
  const workers = await import('./workers.js');
  if (workers.isWorkerProcess()) return serveInThisProcess(options, workers, null);
  return serveWithWorkers(options, workers, notifier);
}

/** The server in this process: the plain command, or one worker of --workers (then `workers` is set). */
async function serveInThisProcess(
  options: CliOptions,
  workers: WorkersModule | null,
  notifier: Notifier | null,
): Promise<void> {
  // A worker told to stop while still starting (SIGTERM right after start-up) stops once it listens.
  let shutdownRequested = false;
  let stopWhenAsked: (() => void) | null = null;
  workers?.onShutdownRequest(() => {
    shutdownRequested = true;
    stopWhenAsked?.();
  });
  let tls: TlsOptions | undefined;
  if (options.tls !== undefined) {
    if (workers !== null) tls = await workers.requestTlsFromPrimary();
    else tls = 'selfSigned' in options.tls ? { selfSigned: true } : readTlsFiles(options.tls);
  }
  const observer = await createObserver(options);
  const listening = usesListenTargets(options) ? await import('./listening.js') : null;
  const role = workers === null ? 'single' : 'worker';
  let targets: ListenTarget[] = [];
  let unixSocket: UnixSocketOptions = {};
  if (listening !== null) {
    try {
      targets = await listening.listenTargets(options, role);
      unixSocket = listening.unixSocketOptions(options, role);
    } catch (error) {
      fail((error as Error).message);
    }
  }
  let server: ReturnType<typeof createServer>;
  const aggregateMetrics =
    workers !== null && options.metricsPath !== undefined
      ? workers.shareMetricsWithPrimary(() => server.metricsSnapshot())
      : (local: MetricsSnapshot) => Promise.resolve(local);
  try {
    server = createServer({
      root: options.root,
      port: options.port,
      host: options.host,
      ...(targets.length > 0 ? { listen: targets, unixSocket } : {}),
      listing: options.listing,
      dotfiles: options.dotfiles,
      followSymlinks: options.followSymlinks,
      compress: options.compress,
      ...(options.cacheControl !== undefined ? { cacheControl: options.cacheControl } : {}),
      cacheControlRules: options.cacheControlRules,
      headers: workers === null ? options.headers : { ...options.headers, ...workers.workerHeaders() },
      cors: options.cors,
      spa: options.spa,
      ...(options.notFoundPage !== undefined ? { notFoundPage: options.notFoundPage } : {}),
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
      ...(options.cgi !== undefined ? { cgi: options.cgi } : {}),
      ...(observer !== undefined ? { observer } : {}),
      ...(tls !== undefined ? { tls } : {}),
      watch: options.watch,
      http2: options.http2,
      healthPath: options.healthPath,
      archives: options.archives,
      ...(options.search ? {} : { search: false }),
      ...(options.upload !== undefined ? { upload: options.upload } : {}),
      webdav: options.webdav,
      // Each worker would hold its own locks, enforced on a share of the requests only: no class 2 then.
      webdavLocks: workers === null,
      ...(options.auth.length > 0 ? { auth: options.auth } : {}),
      ...(options.authRate !== undefined ? { authRate: options.authRate } : {}),
      allowedHosts: options.allowedHosts,
      ...(options.proxy !== undefined ? { proxy: await proxyServerOptions(options) } : {}),
      ...(options.trustProxy.length > 0 ? { trustProxy: options.trustProxy } : {}),
      ...(options.metricsPath !== undefined
        ? {
            metrics: {
              path: options.metricsPath,
              // With --workers, one scrape shows every worker's counters, summed by the primary.
              ...(workers !== null ? { aggregate: (local) => aggregateMetrics(local) } : {}),
            },
          }
        : {}),
    });
  } catch (error) {
    if (error instanceof RootError) fail(error.message);
    if (tls !== undefined) fail(tlsFailure(error));
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
  const where =
    listening === null || targets.length === 0
      ? null
      : listening.listeningLines(server.addresses(), targets, server.secure ? 'https' : 'http');
  if (workers !== null) {
    // The primary printed the banner and owns the signals; this worker stops when it is told to.
    let stopping = false;
    const stopWorker = () => {
      if (stopping) return;
      stopping = true;
      server
        .close()
        .then(() => workers.sendFinalMetrics(server.metricsSnapshot()))
        .then(() => process.exit(0));
    };
    stopWhenAsked = stopWorker;
    if (shutdownRequested) stopWorker();
    process.on('SIGINT', stopWorker);
    process.on('SIGTERM', stopWorker);
    process.on('SIGHUP', () => {});
    return;
  }
  printBanner(options, server.root, address.port, server.certificate?.fingerprint256, undefined, where);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`docroot: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`docroot: ${signal}, finishing open responses\n`);
    Promise.all([server.close(), notifier?.send('STOPPING=1')]).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // `systemctl reload` sends SIGHUP, whose default action would end the server.
  process.on('SIGHUP', () => {
    process.stderr.write(
      'docroot: SIGHUP: one process has nothing to reload; --workers restarts its workers\n',
    );
  });
  announceReady(notifier, `STATUS=serving ${server.root}`);
}

/**
 * READY=1 once the signal handlers are in force: Node arms them when the event loop next turns, and a
 * SIGTERM that systemd sends as soon as it reads READY=1 must not find the default action (death).
 */
function announceReady(notifier: Notifier | null, status: string): void {
  if (notifier !== null) setImmediate(() => void notifier.send('READY=1', status));
}

/** --workers: this process is the primary; it forks the servers, prints, and handles the signals. */
async function serveWithWorkers(
  options: CliOptions,
  workers: WorkersModule,
  notifier: Notifier | null,
): Promise<void> {
  let root: string;
  try {
    root = resolveRoot(options.root);
  } catch (error) {
    if (error instanceof RootError) fail(error.message);
    throw error;
  }
  // Read or make the certificate once, so every worker serves the same one.
  let tls: { cert: string; key: string } | undefined;
  let fingerprint: string | undefined;
  if (options.tls !== undefined) {
    if ('selfSigned' in options.tls) {
      const { generateSelfSignedCertificate } = await import('../tls/self-signed.js');
      const generated = generateSelfSignedCertificate();
      tls = { cert: generated.cert, key: generated.key };
      fingerprint = generated.fingerprint256;
    } else {
      tls = readTlsFiles(options.tls);
      const { createSecureContext } = await import('node:tls');
      try {
        createSecureContext(tls);
      } catch (error) {
        fail(tlsFailure(error));
      }
    }
  }
  let where: string[] | null = null;
  if (usesListenTargets(options)) {
    const listening = await import('./listening.js');
    try {
      const targets = await listening.listenTargets(options, 'primary');
      // No targets after all (LISTEN_FDS meant for another process): --host and --port, as usual.
      if (targets.length > 0) {
        where = listening.listeningLines([], targets, options.tls === undefined ? 'http' : 'https');
      }
    } catch (error) {
      fail((error as Error).message);
    }
  }
  const count = workers.workerCount(options.workers ?? 1);
  const primary = workers.startPrimary({
    count,
    ...(tls !== undefined ? { tls } : {}),
    log: (line) => process.stderr.write(`docroot: ${line}\n`),
  });
  primary.done.then((code) => process.exit(code));
  let address: { port: number };
  try {
    address = await primary.ready;
  } catch {
    return; // The worker printed why; `done` exits with 1 once the others are gone.
  }
  printBanner(options, root, address.port, fingerprint, count, where);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`docroot: ${signal} again, exiting now\n`);
      primary.kill();
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`docroot: ${signal}, workers are finishing open responses\n`);
    void notifier?.send('STOPPING=1');
    primary.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => {
    if (stopping) return;
    // RELOADING=1 then READY=1, so `systemctl reload` waits for the new workers (sd_notify(3)).
    void notifier?.send('RELOADING=1', `MONOTONIC_USEC=${monotonicMicroseconds()}`);
    void primary.restart().then(() => notifier?.send('READY=1'));
  });
  announceReady(notifier, `STATUS=serving ${root} with ${count} workers`);
}

/** CLOCK_MONOTONIC in microseconds, which systemd 253+ wants with RELOADING=1. */
function monotonicMicroseconds(): string {
  return String(process.hrtime.bigint() / 1000n);
}

/** What is being served and where, once, by the process the user started. */
function printBanner(
  options: CliOptions,
  root: string,
  port: number,
  fingerprint: string | undefined,
  workerCount?: number,
  listeningOn: string[] | null = null,
): void {
  const urls = listeningOn ?? displayUrls(options.host, port, options.tls === undefined ? 'http' : 'https');
  const processes = workerCount === undefined ? '' : ` with ${workerCount} workers`;
  process.stdout.write(
    `docroot ${VERSION} serving ${root}${processes}\n${urls.map((u) => `  ${u}`).join('\n')}\n`,
  );
  if (fingerprint !== undefined) {
    process.stdout.write(
      '  HTTPS with a self-signed development certificate (localhost, 127.0.0.1, ::1)\n' +
        `  SHA-256 fingerprint ${fingerprint}\n`,
    );
  }
  if (options.watch) process.stdout.write('  live reload is on: HTML pages reload when a file changes\n');
  if (options.upload !== undefined) {
    process.stdout.write(
      options.auth.length === 0
        ? '  uploads are on: anyone who can reach this server can write and delete files here\n'
        : '  uploads are on for the --auth rules that grant rw\n',
    );
  }
  if (options.webdav && options.upload !== undefined) {
    process.stdout.write('  WebDAV is on: mount the URL as a network drive (off with --no-webdav)\n');
  }
  if (options.auth.length > 0 && options.tls === undefined) {
    process.stdout.write(
      '  WARNING: --auth without TLS sends passwords readable by anyone on the network;\n' +
        '  add --tls-cert/--tls-key, or --tls-self-signed at least\n',
    );
  }
  for (const route of options.proxy?.routes ?? []) {
    const equals = route.indexOf('=');
    process.stdout.write(`  proxy: ${route.slice(0, equals)} → ${route.slice(equals + 1)}\n`);
  }
  if (options.cgi !== undefined) {
    const where = [
      options.cgi.dir === null ? null : `executables in /${options.cgi.dir}/`,
      ...Object.entries(options.cgi.interpreters).map(([ext, cmd]) => `*${ext} files (with ${cmd})`),
    ].filter((x) => x !== null);
    process.stdout.write(`  CGI is on: ${where.join(', ')} run as programs on this machine\n`);
  }
  const lanUrl = urls.find((url) => url.startsWith('http') && !isLoopbackUrl(url));
  // Only a person at a terminal can point a phone at it; logs and pipes get no block art.
  if (options.qr && lanUrl !== undefined && process.stdout.isTTY === true) printQrCode(lanUrl);
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

/** The first LAN URL as a QR code; the encoder (qrcode-terminal, no dependencies) loads only here. */
function printQrCode(url: string): void {
  try {
    const requireModule = createRequire(import.meta.url);
    const qrcode = requireModule('qrcode-terminal') as {
      generate(text: string, options: { small: boolean }, done: (code: string) => void): void;
    };
    qrcode.generate(url, { small: true }, (code) => {
      process.stdout.write(`  scan to open ${url}\n${code}\n`);
    });
  } catch {
    // A missing optional nicety never stops the server.
  }
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'request') {
    const { runRequestCommand } = await import('./request.js');
    process.exitCode = await runRequestCommand(argv.slice(1), {
      out: (text) => process.stdout.write(text),
      error: (message) => process.stderr.write(`docroot: ${message}\n`),
      color: wantsColor(process.stdout),
    });
    return;
  }
  const command = await withConfigFile(argv, parseCommandLine(argv));
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
