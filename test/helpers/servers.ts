import { createServer, type DocrootServer, type ServerOptions } from '../../src/server.js';
import type { WireLimits } from '../../src/wire/limits.js';
import { WireServer } from '../../src/wire/listener.js';
import type { HttpRequest, RequestHandler, ResponseDescription } from '../../src/wire/message.js';

export interface RunningWire {
  server: WireServer;
  port: number;
  errors: unknown[];
  close(): Promise<void>;
}

/** Starts a bare wire server on 127.0.0.1 and an ephemeral port. */
export async function startWire(
  handler: RequestHandler,
  limits: Partial<WireLimits> = {},
): Promise<RunningWire> {
  const errors: unknown[] = [];
  const server = new WireServer({
    handler,
    limits,
    serverSoftware: 'docroot/test',
    logError: (e) => errors.push(e),
  });
  const address = await server.listen(0, '127.0.0.1');
  return { server, port: address.port, errors, close: () => server.close(1000) };
}

export function readAll(request: HttpRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const body = request.body;
    if (body === null) {
      resolve(Buffer.alloc(0));
      return;
    }
    const parts: Buffer[] = [];
    body.on('data', (d: Buffer) => parts.push(d));
    body.on('end', () => resolve(Buffer.concat(parts)));
    body.on('error', reject);
  });
}

/** Echoes method, path and body; `/throw` throws, `/reject` rejects, `/stream` streams, `/slow` waits. */
export const echoHandler: RequestHandler = async (request): Promise<ResponseDescription> => {
  if (request.path === '/throw') throw new Error('handler threw on purpose');
  const body = await readAll(request);
  const text = `${request.method} ${request.path} ${request.query} body=${body.toString('latin1')}`;
  return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: { kind: 'bytes', data: text } };
};

export const FIXTURE_ROOT = new URL('../../../test/fixtures/root/', import.meta.url).pathname;

export interface RunningDocroot {
  server: DocrootServer;
  port: number;
  errors: unknown[];
  close(): Promise<void>;
}

/** Starts docroot itself (file handler on the wire) on 127.0.0.1 and an ephemeral port. */
export async function startDocroot(options: ServerOptions = {}): Promise<RunningDocroot> {
  const errors: unknown[] = [];
  const server = createServer({
    root: FIXTURE_ROOT,
    ...options,
    port: 0,
    host: '127.0.0.1',
    logError: (e) => errors.push(e),
  });
  const address = await server.listen();
  return { server, port: address.port, errors, close: () => server.close(1000) };
}
