import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { HttpRequest, RequestHandler } from '../src/wire/message.js';
import { connect, exchange, get, parseResponses } from './helpers/raw-client.js';
import { echoHandler, type RunningWire, readAll, startWire } from './helpers/servers.js';
import { type Gate, gate, nextEvent, waitFor } from './helpers/wait.js';

/** `/wait` answers once the running test opens this gate. */
let slowResponse: Gate = gate();

const handler: RequestHandler = async (request) => {
  if (request.path === '/sync-throw') throw new Error('sync');
  if (request.path === '/stream') {
    return {
      status: 200,
      headers: { 'Content-Type': 'text/plain' },
      body: { kind: 'stream', stream: Readable.from(['ab', 'cd', 'ef']) },
    };
  }
  if (request.path === '/bad-header') {
    return {
      status: 200,
      headers: { 'X-Evil': 'a\r\nSet-Cookie: x=1' },
      body: { kind: 'bytes', data: 'no' },
    };
  }
  if (request.path === '/wait') {
    await slowResponse.promise;
    return { status: 200, body: { kind: 'bytes', data: 'waited' } };
  }
  if (request.path === '/ignore-body') return { status: 200, body: { kind: 'bytes', data: 'ignored' } };
  if (request.path === '/no-body') return { status: 200, headers: { 'X-Empty': 'yes' } };
  if (request.path === '/count') {
    const body = await readAll(request);
    return { status: 200, body: { kind: 'bytes', data: String(body.length) } };
  }
  return echoHandler(request);
};

describe('wire over real sockets', () => {
  let server: RunningWire;
  before(async () => {
    server = await startWire(handler, { headersTimeoutMs: 400, keepAliveTimeoutMs: 800, maxBodyBytes: 1024 });
  });
  after(() => server.close());

  test('answers with a status line, Date in IMF-fixdate, Server and a correct Content-Length', async () => {
    const { responses } = await exchange(server.port, get('/hello?x=1'));
    const [r] = responses;
    assert.equal(r?.head.split('\r\n')[0], 'HTTP/1.1 200 OK');
    assert.match(
      r?.headers.date ?? '',
      /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/,
    );
    assert.equal(r?.headers.server, 'docroot/test');
    assert.equal(r?.body.toString(), 'GET /hello x=1 body=');
    assert.equal(Number(r?.headers['content-length']), r?.body.length);
  });

  test('keeps an HTTP/1.1 connection alive for several requests', async () => {
    const { responses, closed } = await exchange(server.port, get('/a') + get('/b') + get('/c'), {
      responses: 3,
    });
    assert.deepEqual(
      responses.map((r) => r.body.toString()),
      ['GET /a  body=', 'GET /b  body=', 'GET /c  body='],
    );
    assert.equal(closed, false);
  });

  test('answers pipelined requests in order even when the first is slower', async () => {
    slowResponse = gate();
    const answered = exchange(server.port, get('/wait') + get('/fast'), { responses: 2 });
    await server.requestHead('/wait');
    slowResponse.open();
    const { responses } = await answered;
    assert.deepEqual(
      responses.map((r) => r.body.toString()),
      ['waited', 'GET /fast  body='],
    );
  });

  test('answers pipelined requests sent one byte at a time', async () => {
    const { responses } = await exchange(server.port, get('/1') + get('/2'), { responses: 2, splitEvery: 1 });
    assert.deepEqual(
      responses.map((r) => r.body.toString()),
      ['GET /1  body=', 'GET /2  body='],
    );
  });

  test('closes after Connection: close', async () => {
    const { responses, closed } = await exchange(server.port, get('/x', 'Connection: close\r\n'), {
      waitForClose: true,
    });
    assert.equal(responses[0]?.headers.connection, 'close');
    assert.equal(closed, true);
  });

  test('closes after an HTTP/1.0 request unless keep-alive is asked for', async () => {
    const plain = await exchange(server.port, 'GET / HTTP/1.0\r\n\r\n', { waitForClose: true });
    assert.equal(plain.closed, true);
    assert.equal(plain.responses[0]?.status, 200);
    const kept = await exchange(
      server.port,
      'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n',
      {
        waitForClose: true,
      },
    );
    assert.equal(kept.responses.length, 2);
    assert.equal(kept.responses[0]?.headers.connection, 'keep-alive');
  });

  test('HEAD gets the headers GET gets, and no body', async () => {
    const { responses } = await exchange(server.port, get('/ignore-body', '', 'HEAD') + get('/ignore-body'), {
      responses: 2,
      headResponses: [0],
    });
    assert.equal(responses[0]?.headers['content-length'], responses[1]?.headers['content-length']);
    assert.equal(responses[1]?.body.toString(), 'ignored');
    // The next response must start right after the HEAD response's head: no stray body bytes.
    assert.match(responses[1]?.head ?? '', /^HTTP\/1.1 200 OK/);
  });

  test('a description without a body is sent with Content-Length: 0 and keeps the connection in sync', async () => {
    const { responses } = await exchange(server.port, get('/no-body') + get('/after'), { responses: 2 });
    assert.equal(responses[0]?.headers['content-length'], '0');
    assert.equal(responses[0]?.headers['transfer-encoding'], undefined);
    assert.equal(responses[1]?.body.toString(), 'GET /after  body=');
  });

  test('reads a Content-Length body', async () => {
    const { responses } = await exchange(
      server.port,
      `${get('/p', 'Content-Length: 5\r\n', 'POST')}hello${get('/next')}`,
      {
        responses: 2,
      },
    );
    assert.equal(responses[0]?.body.toString(), 'POST /p  body=hello');
    assert.equal(responses[1]?.body.toString(), 'GET /next  body=');
  });

  test('reads a chunked body, split at every byte', async () => {
    const raw = `${get('/c', 'Transfer-Encoding: chunked\r\n', 'POST')}3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n${get('/after')}`;
    const { responses } = await exchange(server.port, raw, { responses: 2, splitEvery: 1 });
    assert.equal(responses[0]?.body.toString(), 'POST /c  body=abcdefg');
    assert.equal(responses[1]?.body.toString(), 'GET /after  body=');
  });

  test('reads and discards the body of a GET so the next request stays in sync', async () => {
    const raw = `${get('/g', 'Content-Length: 11\r\n')}GET /smuggl${get('/next')}`;
    const { responses } = await exchange(server.port, raw, { responses: 2 });
    assert.equal(responses[0]?.body.toString(), 'GET /g  body=');
    assert.equal(responses[1]?.body.toString(), 'GET /next  body=');
  });

  test('skips a body the handler did not read, then answers the next request', async () => {
    const raw = `${get('/ignore-body', 'Content-Length: 4\r\n', 'POST')}abcd${get('/next')}`;
    const { responses } = await exchange(server.port, raw, { responses: 2 });
    assert.deepEqual(
      responses.map((r) => r.body.toString()),
      ['ignored', 'GET /next  body='],
    );
  });

  test('sends 100 Continue when the handler reads the body', async () => {
    const socket = await connect(server.port);
    const received: Buffer[] = [];
    socket.on('data', (d) => received.push(d));
    socket.write(get('/count', 'Content-Length: 4\r\nExpect: 100-continue\r\n', 'PUT'));
    await waitFor(() => Buffer.concat(received).length > 0, 'the interim response');
    assert.equal(Buffer.concat(received).toString(), 'HTTP/1.1 100 Continue\r\n\r\n');
    socket.write('data');
    const { responses } = await waitFor(() => {
      const parsed = parseResponses(Buffer.concat(received));
      return parsed.responses.length === 2 && parsed;
    }, 'the final response');
    assert.equal(responses[1]?.status, 200);
    assert.equal(responses[1]?.body.toString(), '4');
    socket.destroy();
  });

  test('does not send 100 Continue when the body is too large (413, close)', async () => {
    const { responses, closed } = await exchange(
      server.port,
      get('/count', 'Content-Length: 5000\r\nExpect: 100-continue\r\n', 'PUT'),
      { waitForClose: true },
    );
    assert.equal(responses.length, 1);
    assert.equal(responses[0]?.status, 413);
    assert.equal(closed, true);
  });

  test('a chunked body over the limit gets 413', async () => {
    const raw = `${get('/count', 'Transfer-Encoding: chunked\r\n', 'POST')}800\r\n${'a'.repeat(0x800)}\r\n0\r\n\r\n`;
    const { responses, closed } = await exchange(server.port, raw, { waitForClose: true });
    assert.equal(responses[0]?.status, 413);
    assert.equal(closed, true);
  });

  test('streams a body of unknown length with chunked coding', async () => {
    const { responses } = await exchange(server.port, get('/stream'));
    assert.equal(responses[0]?.headers['transfer-encoding'], 'chunked');
    assert.equal(responses[0]?.body.toString(), 'abcdef');
  });

  test('streams a body of unknown length to HTTP/1.0 by closing', async () => {
    const { responses, closed } = await exchange(server.port, 'GET /stream HTTP/1.0\r\n\r\n', {
      waitForClose: true,
    });
    assert.equal(responses[0]?.headers['transfer-encoding'], undefined);
    assert.equal(responses[0]?.body.toString(), 'abcdef');
    assert.equal(closed, true);
  });

  const errorCases: Array<[string, string, number, RegExp]> = [
    ['a malformed request line', 'GARBAGE\r\n\r\n', 400, /^400 Bad Request: /],
    [
      'whitespace before a colon',
      'GET / HTTP/1.1\r\nHost : x\r\n\r\n',
      400,
      /header line 2 has whitespace before the colon/,
    ],
    ['no Host', 'GET / HTTP/1.1\r\n\r\n', 400, /Host/],
    ['an unsupported version', 'GET / HTTP/3.0\r\nHost: x\r\n\r\n', 505, /HTTP\/3.0 is not supported/],
    [
      'a long request line',
      `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      414,
      /request line is longer than 8192 bytes/,
    ],
    [
      'too many header bytes',
      `GET / HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(17000)}\r\n\r\n`,
      431,
      /header section is larger/,
    ],
    [
      'too many fields',
      `GET / HTTP/1.1\r\nHost: x\r\n${'X: 1\r\n'.repeat(101)}\r\n`,
      431,
      /more than 100 header fields/,
    ],
    ['a too-large body', get('/p', 'Content-Length: 2048\r\n', 'POST'), 413, /larger than 1024 bytes/],
    ['TE with CL', get('/p', 'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n', 'POST'), 400, /both/],
    [
      'an unknown transfer coding',
      get('/p', 'Transfer-Encoding: zip, chunked\r\n', 'POST'),
      501,
      /not supported/,
    ],
    ['a bad chunk size', `${get('/p', 'Transfer-Encoding: chunked\r\n', 'POST')}zz\r\n`, 400, /chunk-size/],
  ];
  for (const [name, raw, status, reason] of errorCases) {
    test(`answers ${status} for ${name}, with a one-line reason, and closes`, async () => {
      const { responses, closed } = await exchange(server.port, raw, { waitForClose: true });
      assert.equal(responses[0]?.status, status);
      assert.match(responses[0]?.body.toString() ?? '', reason);
      assert.equal(responses[0]?.body.toString().trim().split('\n').length, 1);
      assert.equal(responses[0]?.headers.connection, 'close');
      assert.equal(closed, true);
    });
  }

  test('an exception in the handler becomes a 500 for that request only', async () => {
    server.expectErrors(/^handler for GET \/throw: Error: handler threw on purpose$/);
    const { responses } = await exchange(server.port, get('/throw') + get('/ok'), { responses: 2 });
    assert.equal(responses[0]?.status, 500);
    assert.match(responses[0]?.body.toString() ?? '', /^500 Internal Server Error: /);
    assert.equal(responses[1]?.status, 200);
  });

  test('a response field with CR/LF from a handler becomes a 500, never a split response', async () => {
    server.expectErrors(/^(handler|response) for GET \/bad-header: /);
    const { responses, raw } = await exchange(server.port, get('/bad-header'));
    assert.equal(responses[0]?.status, 500);
    assert.doesNotMatch(raw.toString(), /Set-Cookie/);
  });

  test('a slow sender gets 408 and a close after the headers timeout', async () => {
    const socket = await connect(server.port);
    const received: Buffer[] = [];
    socket.on('data', (d) => received.push(d));
    const closed = new Promise((r) => socket.on('close', r));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    await closed;
    const text = Buffer.concat(received).toString();
    assert.match(text, /^HTTP\/1.1 408 Request Timeout\r\n/);
    assert.match(text, /408 Request Timeout: the request head did not arrive within 400 ms/);
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const { responses, closed } = await exchange(server.port, get('/'), {
      waitForClose: true,
      timeoutMs: 4000,
    });
    assert.equal(responses[0]?.status, 200);
    assert.equal(closed, true);
  });

  test('keeps answering normally after a burst of garbage', async () => {
    const garbage = Buffer.alloc(64 * 1024);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919) % 256;
    await exchange(server.port, garbage, { waitForClose: true });
    const { responses } = await exchange(server.port, get('/still-here'));
    assert.equal(responses[0]?.body.toString(), 'GET /still-here  body=');
  });
});

describe('graceful shutdown', () => {
  test('a client that connected just before the shutdown still gets its first request answered', async () => {
    const server = await startWire(handler);
    const socket = await connect(server.port);
    const received: Buffer[] = [];
    socket.on('data', (d) => received.push(d));
    const closed = nextEvent(socket, 'close', 'the server to close the connection');
    await waitFor(() => server.server.connectionCount === 1, 'the server to accept the connection');
    const closing = server.close();
    socket.write(get('/late'));
    await closed;
    await closing;
    const { responses } = parseResponses(Buffer.concat(received), [], true);
    assert.equal(responses[0]?.body.toString(), 'GET /late  body=');
    assert.equal(responses[0]?.headers.connection, 'close');
  });

  test('an idle keep-alive connection is closed at once', async () => {
    const server = await startWire(handler);
    const socket = await connect(server.port);
    const received: Buffer[] = [];
    socket.on('data', (d) => received.push(d));
    socket.write(get('/first'));
    await waitFor(() => parseResponses(Buffer.concat(received)).responses.length === 1, 'the first answer');
    const closed = nextEvent(socket, 'close', 'the server to close the idle connection');
    await server.close();
    await closed;
    assert.equal(parseResponses(Buffer.concat(received), [], true).responses.length, 1);
  });

  test('finishes an in-flight response, then closes', async () => {
    const server = await startWire(handler);
    slowResponse = gate();
    const pending = exchange(server.port, get('/wait'), { waitForClose: true });
    await server.requestHead('/wait');
    const closing = server.close();
    slowResponse.open();
    await closing;
    const { responses, closed } = await pending;
    assert.equal(responses[0]?.body.toString(), 'waited');
    assert.equal(responses[0]?.headers.connection, 'close');
    assert.equal(closed, true);
  });
});

describe('request content and backpressure', () => {
  test('content that fills the stream with its last bytes still lets the next request in', async () => {
    // The handler reads only once the test opens the gate, so the whole content waits in its stream;
    // the last piece fills the stream to its high-water mark, which pauses the socket just as the
    // content completes. The next request on the connection must still be read.
    const reading = gate();
    let pending: HttpRequest | null = null;
    const server = await startWire(async (request) => {
      if (request.body === null) return { status: 200, body: { kind: 'bytes', data: 'next' } };
      pending = request;
      await reading.promise;
      const body = await readAll(request);
      return { status: 200, body: { kind: 'bytes', data: String(body.length) } };
    });
    try {
      const socket = await connect(server.port);
      const received: Buffer[] = [];
      socket.on('data', (d) => received.push(d));
      const size = 64 * 1024;
      socket.write(`PUT /full HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
      await server.requestHead('/full');
      socket.write(Buffer.alloc(size, 0x61));
      await waitFor(() => pending?.body?.readableLength === size, 'the whole content in the stream');
      reading.open();
      await waitFor(() => parseResponses(Buffer.concat(received)).responses.length === 1, 'the first answer');
      socket.write(get('/next'));
      await waitFor(
        () => parseResponses(Buffer.concat(received)).responses.length === 2,
        'the second answer',
      );
      const [first, second] = parseResponses(Buffer.concat(received)).responses;
      assert.equal(first?.body.toString(), String(size));
      assert.equal(second?.body.toString(), 'next');
      socket.destroy();
    } finally {
      await server.close();
    }
  });
});
