/**
 * Clients that half-close (send FIN after the request, like `nc -N`) or leave mid-upload, against a handler
 * that answers after an await: every complete request is answered, nothing crashes the process.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { HttpRequest, RequestHandler } from '../src/wire/message.js';
import { parseResponses } from './helpers/raw-client.js';
import { echoHandler, type RunningWire, startWire } from './helpers/servers.js';
import { waitFor } from './helpers/wait.js';

/**
 * Remembers, per client port, when the server-side socket sees `event` (`end`: the client's FIN has been
 * read; `close`: the client is gone), so a handler can answer only after that has happened, as a handler
 * that stats a file or asks a CGI script may.
 */
function whenSocket(wire: RunningWire, event: 'end' | 'close'): (request: HttpRequest) => Promise<void> {
  const seen = new Map<number, Promise<void>>();
  wire.server.server.on('connection', (socket: net.Socket) => {
    seen.set(socket.remotePort!, new Promise((resolve) => socket.once(event, () => resolve())));
  });
  return (request) => seen.get(request.remotePort) ?? Promise.reject(new Error('unknown connection'));
}

/** A handler that answers once `wait` resolves for its request. */
function answerAfter(wait: () => (request: HttpRequest) => Promise<void>): RequestHandler {
  return async (request) => {
    await wait()(request);
    return echoHandler(request);
  };
}

/** Writes `data`, half-closes, and collects everything until the server closes. */
function sendAndShutdown(port: number, data: string): Promise<{ raw: Buffer; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.end(data, 'latin1'));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ raw: Buffer.concat(chunks), ms: Date.now() - started }));
  });
}

describe('half-closing clients', () => {
  let wire: RunningWire;
  let peerEnded: (request: HttpRequest) => Promise<void>;
  before(async () => {
    wire = await startWire(answerAfter(() => peerEnded));
    peerEnded = whenSocket(wire, 'end');
  });
  after(async () => {
    await wire.close();
  });

  test('a request followed by FIN is still answered', async () => {
    const { raw } = await sendAndShutdown(wire.port, 'GET /a HTTP/1.1\r\nHost: h\r\n\r\n');
    const { responses } = parseResponses(raw, [], true);
    assert.deepEqual(
      responses.map((r) => r.body.toString()),
      ['GET /a  body='],
    );
  });

  test('pipelined requests followed by FIN are all answered, in order', async () => {
    const { raw } = await sendAndShutdown(
      wire.port,
      'GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\nHost: h\r\n\r\n',
    );
    const { responses, rest } = parseResponses(raw, [], true);
    assert.deepEqual(
      responses.map((r) => r.body.toString()),
      ['GET /a  body=', 'POST /b  body=hi', 'GET /c  body='],
    );
    assert.equal(rest.length, 0);
  });

  test('a partial head after FIN closes without waiting for the head timeout', async () => {
    const { raw, ms } = await sendAndShutdown(
      wire.port,
      'GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHo',
    );
    const { responses } = parseResponses(raw, [], true);
    assert.equal(responses.length, 1);
    assert.ok(ms < 5_000, `closed after ${ms} ms`);
  });

  test('a body cut short by FIN closes the connection and the server lives', async () => {
    const { raw } = await sendAndShutdown(
      wire.port,
      'POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc',
    );
    assert.equal(raw.length, 0);
    const { raw: next } = await sendAndShutdown(wire.port, 'GET /z HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.match(next.toString(), /GET \/z/);
  });

  test('a later pipelined body cut short by FIN closes at once after the earlier answers', async () => {
    const { raw, ms } = await sendAndShutdown(
      wire.port,
      'GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc',
    );
    const { responses } = parseResponses(raw, [], true);
    assert.deepEqual(
      responses.map((r) => r.body.toString()),
      ['GET /a  body='],
    );
    assert.ok(ms < 5_000, `closed after ${ms} ms`);
  });

  test('a client leaving mid-upload before the handler reads the body does not crash the process', async () => {
    let gone: (request: HttpRequest) => Promise<void>;
    let started = 0;
    let handled = 0;
    // Listeners are attached only after the client is gone.
    const late = await startWire(async (request) => {
      if (request.path !== '/u') return echoHandler(request);
      started++;
      await gone(request);
      try {
        return await echoHandler(request);
      } finally {
        handled++;
      }
    });
    gone = whenSocket(late, 'close');
    let accepted = 0;
    late.server.server.on('connection', () => accepted++);
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const socket = net.connect(late.port, '127.0.0.1', () => {
          socket.write('POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789');
          setImmediate(() => {
            socket.destroy();
            resolve();
          });
        });
        socket.on('error', () => {});
      });
    }
    await waitFor(
      () => accepted === 5 && late.server.connectionCount === 0 && handled === started,
      'the server to be done with the five abandoned uploads',
    );
    const { raw } = await sendAndShutdown(late.port, 'GET /alive HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.match(raw.toString(), /GET \/alive/);
    await late.close();
  });
});
