#!/usr/bin/env node
/**
 * The `docroot` command. The only module that writes to the terminal and calls process.exit.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type MetricsSnapshot, RootError, resolveRoot } from '../server.js';
import type { TlsOptions } from '../tls/server.js';
import { VERSION } from '../version.js';
import type { ListenTarget, UnixSocketOptions } from '../wire/endpoints.js';
import type { ExchangeRecord, WireObserver } from '../wire/observer.js';
import { type CliOptions, DEFAULT_CONFIG_FILE, type ParsedCommand, parseCommandLine } from './args.js';
import { type BannerFacts, banner, qrCodeText } from './banner.js';
import { renderHelp } from './flags.js';
import { usesListenTargets } from './listening.js';
import type { Notifier } from './notify.js';
import { type ProcessContext, serverOptionsFromCli } from './server-options.js';

type WorkersModule = typeof import('./workers.js');

function fail(message: string): never {
  process.stderr.write(`docroot: ${message}\n`);
  process.exit(1);
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

/** Where the proxy logs; with --trace the upstream leg of each exchange is traced too. */
async function proxyContext(options: CliOptions): Promise<ProcessContext['proxy']> {
  const log = (line: string) => process.stderr.write(`docroot: proxy: ${line}\n`);
  if (!options.trace) return { log };
  const { createUpstreamTracer } = await import('../wire/trace.js');
  const onUpstreamHead = createUpstreamTracer({
    writeLine: (line) => process.stderr.write(`${line}\n`),
    color: wantsColor(process.stderr),
  });
  return { log, onUpstreamHead };
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
    server = createServer(
      serverOptionsFromCli(options, {
        observer,
        tls,
        listen: { targets, unixSocket },
        worker:
          workers === null
            ? undefined
            : {
                headers: workers.workerHeaders(),
                aggregateMetrics: (local) => aggregateMetrics(local),
                ...(options.auth.length > 0 && options.authRate !== false
                  ? { authFailures: workers.shareAuthFailuresWithPrimary() }
                  : {}),
              },
        proxy: options.proxy === undefined ? undefined : await proxyContext(options),
      }),
    );
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
  printBanner(options, {
    root: server.root,
    port: address.port,
    fingerprint: server.certificate?.fingerprint256,
    listeningOn: where,
  });

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
  printBanner(options, { root, port: address.port, fingerprint, workerCount: count, listeningOn: where });

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

/** Prints the banner, and the QR code of the LAN URL when a person at a terminal could scan it. */
function printBanner(options: CliOptions, facts: BannerFacts): void {
  const { text, lanUrl } = banner(options, facts);
  process.stdout.write(text);
  if (options.qr && lanUrl !== null && process.stdout.isTTY === true) {
    const qr = qrCodeText(lanUrl);
    if (qr !== null) process.stdout.write(qr);
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
      process.stdout.write(renderHelp());
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
