/**
 * Issue 8: docroot's handler on node:http, Express and Connect through src/adapters/node-http.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import connect from 'connect';
import express from 'express';
import { toConnectMiddleware, toNodeHttpHandler } from '../src/adapters/node-http.js';
import { createFileHandler } from '../src/handlers/static.js';
import { resolveRoot } from '../src/server.js';
import type { RequestHandler } from '../src/wire/message.js';
import { exchange, get } from './helpers/raw-client.js';
import { ErrorLog, FIXTURE_ROOT } from './helpers/servers.js';

const root = resolveRoot(FIXTURE_ROOT);
/** What the adapters log: checked once every test has run, so an unexpected error fails the file. */
const adapterLog = new ErrorLog();
const quiet = { logError: adapterLog.record };
after(() => adapterLog.check());

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('Express with toConnectMiddleware', () => {
  let server: http.Server;
  let port: number;

  before(async () => {
    const app = express();
    app.use(toConnectMiddleware(createFileHandler({ root }), quiet));
    app.use('/static', toConnectMiddleware(createFileHandler({ root }), quiet));
    app.get('/api/hello', (_req, res) => {
      res.json({ hello: 'from express' });
    });
    app.post('/text.txt', (_req, res) => {
      res.status(201).send('posted');
    });
    server = http.createServer(app);
    port = await listen(server);
  });
  after(() => closeServer(server));

  test('serves a file with its bytes and type', async () => {
    const { responses } = await exchange(port, get('/images/logo.png'));
    const response = responses[0]!;
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'image/png');
    assert.deepEqual(response.body, readFileSync(`${root}/images/logo.png`));
    assert.equal(response.headers['content-length'], String(response.body.length));
    assert.match(response.headers.etag ?? '', /^"/);
  });

  test('HEAD has the length a GET would have and no body', async () => {
    const { responses, raw } = await exchange(port, get('/text.txt', 'Connection: close\r\n', 'HEAD'), {
      headResponses: [0],
      waitForClose: true,
    });
    assert.equal(responses[0]!.status, 200);
    assert.equal(responses[0]!.headers['content-length'], '43');
    assert.ok(raw.toString('latin1').endsWith('\r\n\r\n'), 'nothing after the head');
  });

  test('lists a folder', async () => {
    const { responses } = await exchange(port, get('/docs/', 'Accept: text/plain\r\n'));
    assert.equal(responses[0]!.status, 200);
    assert.match(responses[0]!.headers['content-type'] ?? '', /^text\/plain/);
    assert.match(responses[0]!.body.toString(), /^big\.txt$/m);
    assert.match(responses[0]!.body.toString(), /^guide\/$/m);
  });

  test('answers a conditional GET with 304', async () => {
    const first = (await exchange(port, get('/text.txt'))).responses[0]!;
    const etag = first.headers.etag!;
    const { responses } = await exchange(port, get('/text.txt', `If-None-Match: ${etag}\r\n`));
    assert.equal(responses[0]!.status, 304);
    assert.equal(responses[0]!.body.length, 0);
  });

  test('answers a range with 206 from the file', async () => {
    const { responses } = await exchange(port, get('/text.txt', 'Range: bytes=0-4\r\n'));
    assert.equal(responses[0]!.status, 206);
    assert.equal(responses[0]!.headers['content-range'], 'bytes 0-4/43');
    assert.equal(responses[0]!.body.toString(), 'Hello');
  });

  test('a 404 falls through to the next Express route', async () => {
    const { responses } = await exchange(port, get('/api/hello'));
    assert.equal(responses[0]!.status, 200);
    assert.deepEqual(JSON.parse(responses[0]!.body.toString()), { hello: 'from express' });
  });

  test('a method static paths do not take falls through too', async () => {
    const { responses } = await exchange(
      port,
      'POST /text.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi',
    );
    assert.equal(responses[0]!.status, 201);
    assert.equal(responses[0]!.body.toString(), 'posted');
  });

  test('nothing matches anywhere: Express answers its own 404', async () => {
    const { responses } = await exchange(port, get('/nowhere'));
    assert.equal(responses[0]!.status, 404);
  });

  test('under a mount path, files resolve below it and folder redirects keep the prefix', async () => {
    const file = (await exchange(port, get('/static/text.txt'))).responses[0]!;
    assert.equal(file.status, 200);
    assert.equal(file.body.length, 43);
    const folder = (await exchange(port, get('/static/docs'))).responses[0]!;
    assert.equal(folder.status, 301);
    assert.equal(folder.headers.location, '/static/docs/');
  });
});

describe('Connect with fallthrough off', () => {
  test('answers 404 itself', async () => {
    const app = connect();
    app.use(toConnectMiddleware(createFileHandler({ root }), { ...quiet, fallthrough: false }));
    app.use((_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.end('not reached');
    });
    const server = http.createServer(app);
    const port = await listen(server);
    try {
      const { responses } = await exchange(port, get('/missing'));
      assert.equal(responses[0]!.status, 404);
      assert.match(responses[0]!.body.toString(), /^404 Not Found: /);
      const ok = (await exchange(port, get('/text.txt'))).responses[0]!;
      assert.equal(ok.status, 200);
    } finally {
      await closeServer(server);
    }
  });
});

describe('plain node:http with toNodeHttpHandler', () => {
  let server: http.Server;
  let port: number;
  const files = createFileHandler({ root });
  const handler: RequestHandler = async (request) => {
    if (request.path === '/echo') {
      const parts: Buffer[] = [];
      for await (const part of request.body ?? []) parts.push(part as Buffer);
      return {
        status: 200,
        headers: { 'Content-Type': 'text/plain' },
        body: { kind: 'stream', stream: Readable.from([`${request.method} `, Buffer.concat(parts)]) },
      };
    }
    if (request.path === '/throw') throw new Error('on purpose');
    return files(request);
  };

  before(async () => {
    server = http.createServer(toNodeHttpHandler(handler, quiet));
    port = await listen(server);
  });
  after(() => closeServer(server));

  test('serves files, hot-cached ones included', async () => {
    for (let i = 0; i < 3; i++) {
      const { responses } = await exchange(port, get('/a_web_page.html'));
      assert.equal(responses[0]!.status, 200);
      assert.equal(responses[0]!.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(responses[0]!.headers['content-length'], '316');
      assert.equal(responses[0]!.body.length, 316);
    }
  });

  test('passes a request body as a stream and streams a response of unknown length (chunked)', async () => {
    const { responses } = await exchange(
      port,
      'PUT /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello',
    );
    assert.equal(responses[0]!.status, 200);
    assert.equal(responses[0]!.headers['transfer-encoding'], 'chunked');
    assert.equal(responses[0]!.body.toString(), 'PUT hello');
  });

  test('a handler that throws is a 500 with the one-line body', async () => {
    adapterLog.expect(/: Error: on purpose$/);
    const { responses } = await exchange(port, get('/throw'));
    assert.equal(responses[0]!.status, 500);
    assert.match(responses[0]!.body.toString(), /^500 Internal Server Error: /);
  });

  test('compression is negotiated as on the wire', async () => {
    const { responses } = await exchange(port, get('/docs/big.txt', 'Accept-Encoding: gzip\r\n'));
    assert.equal(responses[0]!.status, 200);
    assert.equal(responses[0]!.headers['content-encoding'], 'gzip');
    assert.equal(responses[0]!.headers.vary, 'Accept-Encoding');
  });
});
