/**
 * The four transports of the contract suite, all answering with the same handler configuration: docroot's
 * HTTP/1.1 wire, HTTP/2 (TLS, ALPN h2), node:http (`toNodeHttpHandler`) and Express
 * (`toConnectMiddleware`), and one client call that speaks to each the way a user's client would.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { toConnectMiddleware, toNodeHttpHandler } from '../../src/adapters/node-http.js';
import { createCgiScriptHandler } from '../../src/handlers/cgi/handler.js';
import { errorResponse } from '../../src/handlers/errors.js';
import type { ScriptHandler } from '../../src/handlers/static.js';
import { createServer, type DocrootServer, resolveRoot, SERVER_SOFTWARE } from '../../src/server.js';
import { FIXTURE_ROOT } from '../helpers/servers.js';

export const TRANSPORTS = ['http/1.1', 'h2', 'node:http', 'express'] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** Files up to this size are cached, so the fixtures exercise both the cache (text.txt) and file bodies. */
export const CONTRACT_CACHE_MAX_FILE_BYTES = 1024;
/** A path whose answer names a file that is gone: what a file deleted between stat and open looks like. */
export const VANISHED_PATH = '/contract/vanished';
export const THROWING_PATH = '/contract/throws';
export const CRLF_FIELD_PATH = '/contract/crlf-field';

export interface ContractRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
}

export interface ContractResponse {
  status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export interface ContractTransports {
  request(transport: TransportName, request: ContractRequest): Promise<ContractResponse>;
  /** Everything any transport logged (handler failures are expected in some cases). */
  readonly errors: unknown[];
  close(): Promise<void>;
}

const root = resolveRoot(FIXTURE_ROOT);

/** The special paths, then CGI for cgi-bin: the same handler behind every transport. */
function contractScripts(logError: (error: unknown, context: string) => void): ScriptHandler {
  const cgi = createCgiScriptHandler({
    root,
    cgiDir: 'cgi-bin',
    interpreters: { '.py': 'python3' },
    timeoutMs: 30_000,
    serverSoftware: SERVER_SOFTWARE,
    logError,
  });
  return {
    methods: ['GET', 'HEAD', 'POST'],
    async handle(request, segments) {
      switch (request.path) {
        case THROWING_PATH:
          throw new Error('a handler that throws (contract suite)');
        case CRLF_FIELD_PATH:
          return {
            status: 200,
            headers: { 'Content-Type': 'text/plain', 'X-Split': 'a\r\nInjected: yes' },
            body: { kind: 'bytes', data: 'never sent\n' },
          };
        case VANISHED_PATH:
          return {
            status: 200,
            headers: { 'Content-Type': 'text/plain; charset=utf-8' },
            body: { kind: 'file', path: path.join(root, 'no-such-file.txt'), start: 0, end: 9 },
          };
      }
      return cgi.handle(request, segments);
    },
  };
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

export async function startContractTransports(): Promise<ContractTransports> {
  const errors: unknown[] = [];
  const logError = (error: unknown) => {
    errors.push(error);
  };
  const options = {
    root,
    cache: { maxFileBytes: CONTRACT_CACHE_MAX_FILE_BYTES },
    scriptHandler: contractScripts(logError),
    port: 0,
    host: '127.0.0.1',
    logError,
  };
  const wire: DocrootServer = createServer(options);
  const secure: DocrootServer = createServer({ ...options, tls: { selfSigned: true } });
  const wirePort = (await wire.listen()).port;
  const securePort = (await secure.listen()).port;

  const adapterOptions = { logError, renderError: errorResponse };
  const nodeServer = http.createServer(toNodeHttpHandler(wire.handler, adapterOptions));
  const app = express();
  app.use(toConnectMiddleware(wire.handler, { ...adapterOptions, fallthrough: false }));
  const expressServer = http.createServer(app);
  const nodePort = await listen(nodeServer);
  const expressPort = await listen(expressServer);

  const session = http2.connect(`https://localhost:${securePort}`, {
    rejectUnauthorized: false,
    host: '127.0.0.1',
  });
  session.on('error', (error) => errors.push(error));
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  const agent = new http.Agent({ keepAlive: true });
  const ports: Record<Exclude<TransportName, 'h2'>, number> = {
    'http/1.1': wirePort,
    'node:http': nodePort,
    express: expressPort,
  };

  return {
    errors,
    request(transport, request) {
      if (transport === 'h2') return h2Request(session, request);
      return http1Request(agent, ports[transport], request);
    },
    async close() {
      session.close();
      agent.destroy();
      nodeServer.closeAllConnections();
      expressServer.closeAllConnections();
      await Promise.all([
        wire.close(1000),
        secure.close(1000),
        new Promise((resolve) => nodeServer.close(resolve)),
        new Promise((resolve) => expressServer.close(resolve)),
      ]);
    },
  };
}

function http1Request(agent: http.Agent, port: number, request: ContractRequest): Promise<ContractResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      {
        host: '127.0.0.1',
        port,
        agent,
        method: request.method ?? 'GET',
        path: request.path,
        headers: request.headers ?? {},
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          resolve({ status: response.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

function h2Request(session: http2.ClientHttp2Session, request: ContractRequest): Promise<ContractResponse> {
  return new Promise((resolve, reject) => {
    const headers: http2.OutgoingHttpHeaders = { ':method': request.method ?? 'GET', ':path': request.path };
    for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
    const stream = session.request(headers, { endStream: true });
    let received: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (incoming) => {
      received = incoming;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('end', () => {
      const fields: Record<string, string> = {};
      let status = 0;
      for (const [name, value] of Object.entries(received)) {
        if (value === undefined) continue;
        if (name === ':status') status = Number(value);
        else if (!name.startsWith(':'))
          fields[name] = Array.isArray(value) ? value.join(', ') : String(value);
      }
      resolve({ status, headers: fields, body: Buffer.concat(chunks) });
    });
  });
}
