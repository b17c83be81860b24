/**
 * `createServer`: the document-root handler on docroot's own HTTP/1.1 wire, ready to listen.
 * @module
 */
import { realpathSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { errorResponse } from './handlers/errors.js';
import { createFileHandler, type FileHandlerOptions, type ScriptHandler } from './handlers/static.js';
import { VERSION } from './version.js';
import type { WireObserver } from './wire/connection.js';
import type { WireLimits } from './wire/limits.js';
import { WireServer } from './wire/listener.js';
import type { RequestHandler } from './wire/message.js';

export interface ServerOptions extends Omit<FileHandlerOptions, 'root' | 'scriptHandler' | 'serverSoftware'> {
  /** The folder to serve. @default process.cwd() */
  root?: string;
  /** TCP port; 0 picks a free one. @default 8080 */
  port?: number;
  /** Interface to listen on. @default 'localhost' */
  host?: string;
  /** Wire limits and timeouts (see WireLimits). */
  limits?: Partial<WireLimits>;
  /** Most simultaneous connections; more get a 503. @default unlimited */
  maxConnections?: number;
  /** Observers of the wire (access log, trace). */
  observer?: WireObserver;
  /** A handler for script paths (CGI). */
  scriptHandler?: ScriptHandler;
}

export interface DocrootServer {
  /** The transport-free handler this server runs; usable with any transport. */
  readonly handler: RequestHandler;
  readonly root: string;
  readonly wire: WireServer;
  listen(): Promise<AddressInfo>;
  address(): AddressInfo | null;
  /** Graceful: stop accepting, finish in-flight responses, close idle connections. */
  close(graceMs?: number): Promise<void>;
}

export const SERVER_SOFTWARE = `docroot/${VERSION}`;

/** Thrown for a root that does not exist or is not a folder, with a message fit for a CLI user. */
export class RootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RootError';
  }
}

/** The real absolute path of a document root, or a RootError saying what is wrong with it. */
export function resolveRoot(root: string): string {
  const absolute = path.resolve(root);
  let real: string;
  try {
    real = realpathSync(absolute);
  } catch {
    throw new RootError(`the folder ${absolute} does not exist`);
  }
  if (!statSync(real).isDirectory()) throw new RootError(`${absolute} is a file, not a folder`);
  return real;
}

/**
 * Creates a docroot server for a folder.
 * @example
 * const server = createServer({ root: './site', port: 0 });
 * const { port } = await server.listen();
 */
export function createServer(options: ServerOptions = {}): DocrootServer {
  const root = resolveRoot(options.root ?? process.cwd());
  const handler = createFileHandler({
    ...options,
    root,
    serverSoftware: SERVER_SOFTWARE,
    ...(options.scriptHandler ? { scriptHandler: options.scriptHandler } : {}),
  });
  const wire = new WireServer({
    handler,
    serverSoftware: SERVER_SOFTWARE,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.logError ? { logError: options.logError } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
    renderError: (status, message, head) => errorResponse(status, message, head?.headers.accept),
  });
  const port = options.port ?? 8080;
  const host = options.host ?? 'localhost';
  return {
    handler,
    root,
    wire,
    listen: () => wire.listen(port, host),
    address: () => wire.address(),
    close: (graceMs?: number) => wire.close(graceMs),
  };
}
