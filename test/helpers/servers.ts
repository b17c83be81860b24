import assert from 'node:assert/strict';
import { createServer, type DocrootServer, type ServerOptions } from '../../src/server.js';
import type { WireLimits } from '../../src/wire/limits.js';
import { WireServer, type WireServerOptions } from '../../src/wire/listener.js';
import type { HttpRequest, RequestHandler, ResponseDescription } from '../../src/wire/message.js';
import type { WireObserver } from '../../src/wire/observer.js';
import { combineObservers } from '../../src/wire/observers.js';
import type { RequestHead } from '../../src/wire/parser.js';
import { withDeadline } from './wait.js';

/** One `logError` call of the server under test. */
export interface LoggedError {
  error: unknown;
  context: string;
}

/** `context: Name: message (CODE)`, the text an expected-error pattern is matched against. */
export function describeLoggedError({ error, context }: LoggedError): string {
  if (!(error instanceof Error)) return `${context}: ${String(error)}`;
  const code = (error as NodeJS.ErrnoException).code;
  return `${context}: ${error.name}: ${error.message}${code === undefined ? '' : ` (${code})`}`;
}

/**
 * Every error a test server logs. A test that provokes errors on purpose declares them with `expect`;
 * `check` (run by the helpers' `close()`) fails on any other, so a server error can never pass unseen.
 */
export class ErrorLog {
  readonly entries: LoggedError[] = [];
  private readonly expected: RegExp[] = [];

  readonly record = (error: unknown, context: string): void => {
    this.entries.push({ error, context });
  };

  /** The logged errors themselves, in order. */
  get errors(): unknown[] {
    return this.entries.map((entry) => entry.error);
  }

  /** Declares errors this test provokes: each pattern is matched against `describeLoggedError`. */
  expect(...patterns: RegExp[]): void {
    this.expected.push(...patterns);
  }

  /** Fails, listing them, if errors were logged that no declared pattern matches. */
  check(): void {
    const unexpected = this.entries
      .map(describeLoggedError)
      .filter((text) => !this.expected.some((pattern) => pattern.test(text)));
    assert.deepEqual(
      unexpected,
      [],
      `the server logged errors the test did not declare:\n${unexpected.join('\n')}`,
    );
  }
}

/** Records request heads as the wire parses them, so a test can wait until the server has seen one. */
class HeadWatch {
  private readonly seen: RequestHead[] = [];
  private readonly waiters: Array<{ path: string; resolve: (head: RequestHead) => void }> = [];

  readonly observer: WireObserver = {
    onRequestHead: (_connection, head) => {
      this.seen.push(head);
      for (const waiter of this.waiters.filter((w) => w.path === head.path)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(head);
      }
    },
  };

  /** Resolves once the server has parsed a request head for `path` (at any time since it started). */
  requestHead(path: string): Promise<RequestHead> {
    const earlier = this.seen.find((head) => head.path === path);
    if (earlier !== undefined) return Promise.resolve(earlier);
    return withDeadline(
      new Promise((resolve) => this.waiters.push({ path, resolve })),
      `the server to see a request for ${path}`,
    );
  }
}

interface RunningServer {
  port: number;
  /** The errors logged so far (`log.entries` has their contexts). */
  errors: unknown[];
  log: ErrorLog;
  /** Declares the errors this test provokes; `close()` fails on any other logged error. */
  expectErrors(...patterns: RegExp[]): void;
  /** Resolves once the server has parsed a request head for `path`. */
  requestHead(path: string): Promise<RequestHead>;
  /** Closes gracefully, then fails if an undeclared error was logged. */
  close(): Promise<void>;
}

export interface RunningWire extends RunningServer {
  server: WireServer;
}

/** Starts a bare wire server on 127.0.0.1 and an ephemeral port. */
export async function startWire(
  handler: RequestHandler,
  limits: Partial<WireLimits> = {},
  options: Partial<Omit<WireServerOptions, 'handler' | 'limits' | 'logError'>> = {},
): Promise<RunningWire> {
  const log = new ErrorLog();
  const heads = new HeadWatch();
  const server = new WireServer({
    serverSoftware: 'docroot/test',
    ...options,
    handler,
    limits,
    logError: log.record,
    observer: combineObservers(heads.observer, options.observer),
  });
  const address = await server.listen(0, '127.0.0.1');
  return runningServer(server, address.port, log, heads);
}

/** The handle a test holds: its port, its error log, and a close that fails on undeclared errors. */
function runningServer<S extends { close(graceMs: number): Promise<void> }>(
  server: S,
  port: number,
  log: ErrorLog,
  heads: HeadWatch,
): RunningServer & { server: S } {
  return {
    server,
    port,
    log,
    get errors() {
      return log.errors;
    },
    expectErrors: (...patterns) => log.expect(...patterns),
    requestHead: (path) => heads.requestHead(path),
    close: async () => {
      await server.close(1000);
      log.check();
    },
  };
}

/** The whole request body; rejects if it failed, even if it failed before this was called. */
export async function readAll(request: HttpRequest): Promise<Buffer> {
  if (request.body === null) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for await (const part of request.body) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** Echoes method, path and body; `/throw` throws. */
export const echoHandler: RequestHandler = async (request): Promise<ResponseDescription> => {
  if (request.path === '/throw') throw new Error('handler threw on purpose');
  const body = await readAll(request);
  const text = `${request.method} ${request.path} ${request.query} body=${body.toString('latin1')}`;
  return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: { kind: 'bytes', data: text } };
};

export const FIXTURE_ROOT = new URL('../../../test/fixtures/root/', import.meta.url).pathname;

export interface RunningDocroot extends RunningServer {
  server: DocrootServer;
}

/** Starts docroot itself (file handler on the wire) on 127.0.0.1 and an ephemeral port. */
export async function startDocroot(options: ServerOptions = {}): Promise<RunningDocroot> {
  const log = new ErrorLog();
  const heads = new HeadWatch();
  const observer = combineObservers(heads.observer, options.observer);
  const server = createServer({
    root: FIXTURE_ROOT,
    ...options,
    ...(observer === undefined ? {} : { observer }),
    port: 0,
    host: '127.0.0.1',
    logError: log.record,
  });
  const address = await server.listen();
  return runningServer(server, address.port, log, heads);
}
