/**
 * The development proxy over real sockets: docroot in front of real upstreams started here — a node:http
 * backend (JSON, chunked, a 500, a reset, a hang, redirects, cookies, 100-continue), an https one with a
 * self-signed certificate, a raw node:net upstream that misbehaves on purpose (the hostile cases), and a
 * WebSocket echo server from the `ws` package.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { WebSocket, WebSocketServer } from 'ws';
import type { ProxyServerOptions } from '../src/server.js';
import { generateSelfSignedCertificate } from '../src/tls/self-signed.js';
import { createAccessLogObserver } from '../src/wire/access-log.js';
import { combineObservers } from '../src/wire/observers.js';
import { createTraceObserver, createUpstreamTracer } from '../src/wire/trace.js';
import { connect, exchange, get, parseResponses } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

interface Seen {
  url: string;
  method: string;
  headers: http.IncomingHttpHeaders;
  remotePort: number;
  body: string;
}

/** The node:http backend; every request it sees is recorded. */
async function startBackend(): Promise<{ server: http.Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString();
      seen.push({
        url: req.url!,
        method: req.method!,
        headers: req.headers,
        remotePort: req.socket.remotePort!,
        body,
      });
      const url = new URL(req.url!, 'http://x');
      switch (url.pathname) {
        case '/chunked':
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.write('one,');
          res.write('two,');
          res.end('three');
          return;
        case '/fail':
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end('backend broke');
          return;
        case '/reset':
          res.writeHead(200, { 'Content-Length': '100000', 'Content-Type': 'application/octet-stream' });
          res.write(Buffer.alloc(1000, 0x61), () => res.socket?.destroy());
          return;
        case '/hang':
          return;
        case '/slow': {
          // Five pieces, 20 ms apart: an answer that takes its time but keeps coming.
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          let piece = 0;
          let pacing: NodeJS.Timeout | undefined;
          res.on('close', () => clearTimeout(pacing));
          const sendPiece = () => {
            if (piece === 5) {
              res.end();
              return;
            }
            res.write(`piece ${piece++};`);
            // The upstream's pace is what this route is about (an answer that keeps coming), not a wait.
            pacing = setTimeout(sendPiece, 20);
          };
          sendPiece();
          return;
        }
        case '/redirect':
          res.writeHead(302, { Location: `http://127.0.0.1:${port}/login?next=%2F` });
          res.end();
          return;
        case '/cookie':
          res.writeHead(200, { 'Set-Cookie': ['sid=1; Path=/; Domain=127.0.0.1; HttpOnly', 'theme=dark'] });
          res.end('ok');
          return;
        case '/cors':
          res.writeHead(200, { 'Access-Control-Allow-Origin': 'https://app.test', Vary: 'Origin' });
          res.end('cors');
          return;
        case '/hop':
          res.writeHead(200, { Connection: 'X-Private', 'X-Private': 'secret', 'Keep-Alive': 'timeout=5' });
          res.end('hop');
          return;
        default: {
          const json = JSON.stringify({ url: req.url, method: req.method, body });
          res.writeHead(200, {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(json),
          });
          res.end(req.method === 'HEAD' ? undefined : json);
        }
      }
    });
  };
  const server = http.createServer(handle);
  server.on('checkContinue', (req, res) => {
    if (req.url === '/refuse') {
      seen.push({ url: req.url, method: req.method!, headers: req.headers, remotePort: 0, body: '' });
      res.writeHead(413, { 'Content-Type': 'text/plain' });
      res.end('too big for me');
      return;
    }
    res.writeContinue();
    handle(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return { server, port, seen };
}

/** A raw upstream that answers each request (one per connection read) with `answer(requestText)`. */
async function startRawUpstream(answer: (request: string, socket: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      while (buffered.includes('\r\n\r\n')) {
        const end = buffered.indexOf('\r\n\r\n') + 4;
        const request = buffered.slice(0, end);
        buffered = buffered.slice(end);
        answer(request, socket);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

async function startProxy(
  proxy: Omit<ProxyServerOptions, 'log'>,
  extra: Parameters<typeof startDocroot>[0] = {},
): Promise<{ docroot: RunningDocroot; logs: string[] }> {
  const logs: string[] = [];
  const docroot = await startDocroot({ ...extra, proxy: { ...proxy, log: (line) => logs.push(line) } });
  // An upstream body that breaks off cuts the client's response, which the wire logs; tests do that on purpose.
  docroot.expectErrors(/in the middle of the response body|malformed response body/);
  return { docroot, logs };
}

describe('proxy: a node:http backend', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let docroot: RunningDocroot;
  let logs: string[];

  before(async () => {
    backend = await startBackend();
    ({ docroot, logs } = await startProxy({
      routes: [`/api=http://127.0.0.1:${backend.port}/`, `/keep=http://127.0.0.1:${backend.port}`],
      rewriteHeaders: true,
    }));
  });
  after(async () => {
    await docroot.close();
    backend.server.closeAllConnections();
    backend.server.close();
  });

  test('a JSON GET: prefix stripped, forwarding fields added, Host rewritten, hop-by-hop dropped', async () => {
    const { responses } = await exchange(
      docroot.port,
      get(
        '/api/users?page=2',
        'Accept: application/json\r\nConnection: X-Mine\r\nX-Mine: hop\r\nTE: trailers\r\n',
      ),
    );
    const response = responses[0]!;
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body.toString()), { url: '/users?page=2', method: 'GET', body: '' });
    assert.equal(response.headers.via, '1.1 docroot');
    assert.equal(response.headers.server, 'docroot/0.1.0');
    assert.equal(response.fieldLines.filter((l) => /^date:/i.test(l)).length, 1);
    const seen = backend.seen.at(-1)!;
    assert.equal(seen.headers.host, `127.0.0.1:${backend.port}`);
    assert.equal(seen.headers['x-forwarded-host'], 'localhost');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers.forwarded, 'for=127.0.0.1;host=localhost;proto=http');
    assert.equal(seen.headers.via, '1.1 docroot');
    assert.equal(seen.headers['x-mine'], undefined);
    assert.equal(seen.headers.te, undefined);
  });

  test('a prefix without a path in its URL keeps the path; unrelated paths are served from the root', async () => {
    const { responses } = await exchange(docroot.port, get('/keep/a/b'));
    assert.equal(JSON.parse(responses[0]!.body.toString()).url, '/keep/a/b');
    const file = await exchange(docroot.port, get('/text.txt'));
    assert.equal(file.responses[0]!.status, 200);
    assert.equal(file.responses[0]!.headers.via, undefined);
    const near = await exchange(docroot.port, get('/apiary'));
    assert.equal(near.responses[0]!.status, 404);
  });

  test('upstream hop-by-hop fields (and those named in its Connection) never reach the client', async () => {
    const { responses } = await exchange(docroot.port, get('/api/hop'));
    assert.equal(responses[0]!.headers['x-private'], undefined);
    assert.equal(responses[0]!.headers['keep-alive'], undefined);
    assert.equal(responses[0]!.body.toString(), 'hop');
  });

  test('keep-alive: consecutive requests reuse one upstream connection', async () => {
    const socket = await connect(docroot.port);
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    const before = backend.seen.length;
    for (let i = 0; i < 3; i++) {
      socket.write(get(`/api/n${i}`));
      while (parseResponses(Buffer.concat(chunks)).responses.length < i + 1) await once(socket, 'data');
    }
    socket.destroy();
    const ports = new Set(backend.seen.slice(before).map((s) => s.remotePort));
    assert.equal(ports.size, 1);
  });

  test('a chunked answer arrives whole (re-framed by docroot)', async () => {
    const { responses } = await exchange(docroot.port, get('/api/chunked'));
    assert.equal(responses[0]!.headers['transfer-encoding'], 'chunked');
    assert.equal(responses[0]!.body.toString(), 'one,two,three');
  });

  test('request bodies: Content-Length and chunked both reach the upstream intact', async () => {
    const byLength = await exchange(
      docroot.port,
      'POST /api/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello',
    );
    assert.equal(JSON.parse(byLength.responses[0]!.body.toString()).body, 'hello');
    const chunked = await exchange(
      docroot.port,
      'POST /api/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n',
    );
    assert.equal(JSON.parse(chunked.responses[0]!.body.toString()).body, 'abcde');
    assert.equal(backend.seen.at(-1)!.headers['x-trailer'], undefined);
  });

  test('Expect: 100-continue is passed on: the upstream says 100, then the body goes', async () => {
    const socket = await connect(docroot.port);
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.write(
      'PUT /api/up HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n',
    );
    while (!Buffer.concat(chunks).toString().includes('100 Continue')) await once(socket, 'data');
    assert.equal(backend.seen.at(-1)?.url === '/up', false, 'no body was needed for the 100');
    socket.write('data');
    while (parseResponses(Buffer.concat(chunks)).responses.filter((r) => r.status >= 200).length < 1) {
      await once(socket, 'data');
    }
    socket.destroy();
    const final = parseResponses(Buffer.concat(chunks)).responses.at(-1)!;
    assert.equal(JSON.parse(final.body.toString()).body, 'data');
  });

  test('paths with dot segments are refused before anything goes upstream', async () => {
    const before = backend.seen.length;
    for (const path of ['/api/../x', '/keep/%2e%2e/%2E%2e/refuse', '/api/./x']) {
      const { responses } = await exchange(docroot.port, get(path));
      assert.equal(responses[0]!.status, 400, path);
    }
    assert.equal(backend.seen.length, before);
  });

  test('Expect: 100-continue refused by the upstream: its answer comes back and no body is sent', async () => {
    const direct = await exchange(
      docroot.port,
      'POST /api/refuse HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n',
    );
    assert.equal(direct.responses[0]!.status, 413);
    assert.equal(direct.responses[0]!.body.toString(), 'too big for me');
    assert.ok(!direct.raw.toString().includes('100 Continue'));
  });

  test('a slow answer streams through whole', async () => {
    const { responses } = await exchange(docroot.port, get('/api/slow'));
    assert.equal(responses[0]!.body.toString(), 'piece 0;piece 1;piece 2;piece 3;piece 4;');
  });

  test("a 500 is the upstream's own answer, passed through", async () => {
    const { responses } = await exchange(docroot.port, get('/api/fail'));
    assert.equal(responses[0]!.status, 500);
    assert.equal(responses[0]!.body.toString(), 'backend broke');
  });

  test('HEAD keeps the upstream Content-Length and sends no body', async () => {
    const { responses } = await exchange(docroot.port, get('/api/x', '', 'HEAD'), { headResponses: [0] });
    assert.equal(responses[0]!.status, 200);
    assert.ok(Number(responses[0]!.headers['content-length']) > 0);
  });

  test('a reset in the middle of the body closes the client connection: never a short body as complete', async () => {
    const before = logs.length;
    const { raw, closed } = await exchange(docroot.port, get('/api/reset'), { waitForClose: true });
    assert.ok(closed);
    const headEnd = raw.indexOf('\r\n\r\n');
    assert.match(raw.toString('latin1', 0, headEnd), /Content-Length: 100000/);
    assert.ok(raw.length - headEnd - 4 < 100000);
    assert.ok(
      logs.slice(before).some((l) => /in the middle of a response body/.test(l)),
      logs.join('\n'),
    );
  });

  test('with --proxy-rewrite-headers, Location and Set-Cookie are mapped to the prefix', async () => {
    const redirect = await exchange(docroot.port, get('/api/redirect'));
    assert.equal(redirect.responses[0]!.status, 302);
    assert.equal(redirect.responses[0]!.headers.location, '/api/login?next=%2F');
    const cookie = await exchange(docroot.port, get('/api/cookie'));
    const cookies = cookie.responses[0]!.fieldLines.filter((l) => /^set-cookie:/i.test(l));
    assert.deepEqual(cookies, ['Set-Cookie: sid=1; Path=/api; HttpOnly', 'Set-Cookie: theme=dark']);
  });

  test('a WebSocket request to a plain HTTP endpoint gets its ordinary answer', async () => {
    const { responses } = await exchange(
      docroot.port,
      get(
        '/api/plain',
        'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n',
      ),
    );
    assert.equal(responses[0]!.status, 200);
    assert.equal(backend.seen.at(-1)!.headers.upgrade, 'websocket');
  });
});

describe('proxy: failures', () => {
  test('refused → 502, timeout → 504, each with a one-line log reason', async () => {
    const closed = net.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const deadPort = portOf(closed);
    closed.close();
    const hang = await startRawUpstream(() => {});
    const { docroot, logs } = await startProxy({
      routes: [`/dead=http://127.0.0.1:${deadPort}`, `/hang=http://127.0.0.1:${portOf(hang)}`],
      timeoutMs: 150,
    });
    try {
      const refused = await exchange(docroot.port, get('/dead/x'));
      assert.equal(refused.responses[0]!.status, 502);
      assert.match(refused.responses[0]!.body.toString(), /refused the connection/);
      assert.ok(
        !refused.responses[0]!.body.toString().includes(String(deadPort)),
        'no upstream address to clients',
      );
      const timedOut = await exchange(docroot.port, get('/hang/x'));
      assert.equal(timedOut.responses[0]!.status, 504);
      assert.match(timedOut.responses[0]!.body.toString(), /did not answer within 150 ms/);
      assert.equal(logs.length, 2);
      assert.match(logs[0]!, new RegExp(`GET /dead/x → http://127.0.0.1:${deadPort}: 502 .*refused`));
      assert.match(logs[1]!, /GET \/hang\/x → .*: 504 /);
      for (const line of logs) assert.ok(!line.includes('\n'));
    } finally {
      await docroot.close();
      hang.close();
    }
  });

  test('an upstream that stalls mid-body past the timeout: the client connection is closed', async () => {
    const upstream = await startRawUpstream((_, socket) =>
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf', 'latin1'),
    );
    const { docroot, logs } = await startProxy({
      routes: [`/s=http://127.0.0.1:${portOf(upstream)}`],
      timeoutMs: 150,
    });
    try {
      const socket = await connect(docroot.port);
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.write(get('/s/x'));
      await once(socket, 'close');
      const raw = Buffer.concat(chunks).toString('latin1');
      assert.match(raw, /^HTTP\/1.1 200 /);
      assert.ok(raw.endsWith('\r\n\r\nhalf'), 'four of the ten declared bytes, then the close');
      assert.ok(
        logs.some((l) => /stalled for 150 ms/.test(l)),
        logs.join('\n'),
      );
    } finally {
      await docroot.close();
      upstream.close();
    }
  });

  test('an unresolvable host name → 502', async () => {
    const { docroot, logs } = await startProxy({ routes: ['/x=http://no-such-host.invalid:3000'] });
    try {
      const { responses } = await exchange(docroot.port, get('/x/y'), { timeoutMs: 20_000 });
      assert.equal(responses[0]!.status, 502);
      assert.equal(logs.length, 1);
    } finally {
      await docroot.close();
    }
  });
});

describe('proxy: a hostile upstream is never passed through', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a bad status line', 'HTTP/1.1 OK 200\r\nContent-Length: 2\r\n\r\nhi', /status code/],
    ['no status line at all', 'hello there\r\n\r\n', /status line/],
    ['two Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 20\r\n\r\nhi', /differ/],
    [
      'Content-Length with Transfer-Encoding',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n',
      /both Transfer-Encoding and Content-Length/,
    ],
    ['a bare LF', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nhi', /bare LF/],
    ['an obs-fold', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 2\r\n\r\nhi', /whitespace/],
    [
      'a 101 nobody asked for',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n',
      /switched protocols/,
    ],
    ['HTTP/2 bytes', 'HTTP/2 200\r\n\r\n', /status line/],
  ];
  for (const [name, answer, reason] of cases) {
    test(`${name} → 502`, async () => {
      const upstream = await startRawUpstream((_, socket) => socket.write(answer, 'latin1'));
      const { docroot, logs } = await startProxy({ routes: [`/u=http://127.0.0.1:${portOf(upstream)}`] });
      try {
        const { responses } = await exchange(docroot.port, get('/u/x'));
        assert.equal(responses[0]!.status, 502);
        assert.match(responses[0]!.body.toString(), reason);
        assert.equal(logs.length, 1);
      } finally {
        await docroot.close();
        upstream.close();
      }
    });
  }

  test('a response for a request never sent is dropped with its connection, not given to the next request', async () => {
    let requests = 0;
    const upstream = await startRawUpstream((request, socket) => {
      requests++;
      const path = request.split(' ')[1]!;
      // The first answer carries a second, unasked-for response behind it.
      const stray = requests === 1 ? 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTRAY' : '';
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}${stray}`, 'latin1');
    });
    const { docroot, logs } = await startProxy({ routes: [`/u=http://127.0.0.1:${portOf(upstream)}`] });
    try {
      const first = await exchange(docroot.port, get('/u/first'));
      assert.equal(first.responses[0]!.body.toString(), '/u/first');
      const second = await exchange(docroot.port, get('/u/second'));
      assert.equal(second.responses[0]!.body.toString(), '/u/second');
      assert.ok(
        logs.some((l) => /response to no request/.test(l)),
        logs.join('\n'),
      );
    } finally {
      await docroot.close();
      upstream.close();
    }
  });

  test('a pooled connection the upstream closes instead of answering: a bodiless request is retried once', async () => {
    const served = new Map<net.Socket, number>();
    const upstream = await startRawUpstream((request, socket) => {
      const count = (served.get(socket) ?? 0) + 1;
      served.set(socket, count);
      // Like a keep-alive timeout racing the reuse: the second request on a connection finds it closing.
      if (count === 2) {
        socket.destroy();
        return;
      }
      const path = request.split(' ')[1]!;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`, 'latin1');
    });
    const { docroot } = await startProxy({ routes: [`/u=http://127.0.0.1:${portOf(upstream)}`] });
    try {
      assert.equal((await exchange(docroot.port, get('/u/one'))).responses[0]!.body.toString(), '/u/one');
      const second = await exchange(docroot.port, get('/u/two'));
      assert.equal(second.responses[0]!.status, 200);
      assert.equal(second.responses[0]!.body.toString(), '/u/two');
      assert.equal(served.size, 2, 'the retry went out on a fresh connection');
    } finally {
      await docroot.close();
      upstream.close();
    }
  });

  test('bytes on an idle pooled connection end it; the next request gets a fresh one', async () => {
    const sockets: net.Socket[] = [];
    const upstream = await startRawUpstream((request, socket) => {
      if (!sockets.includes(socket)) sockets.push(socket);
      const path = request.split(' ')[1]!;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`, 'latin1');
    });
    const { docroot, logs } = await startProxy({ routes: [`/u=http://127.0.0.1:${portOf(upstream)}`] });
    try {
      await exchange(docroot.port, get('/u/a'));
      const closedByDocroot = once(sockets[0]!, 'close');
      sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTRAY');
      await closedByDocroot;
      const next = await exchange(docroot.port, get('/u/b'));
      assert.equal(next.responses[0]!.body.toString(), '/u/b');
      assert.equal(sockets.length, 2);
      assert.ok(logs.some((l) => /idle connection/.test(l)));
    } finally {
      await docroot.close();
      upstream.close();
    }
  });

  test('a malformed chunk already there before the head went out → 502', async () => {
    const upstream = await startRawUpstream((_, socket) =>
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\nzz\r\n', 'latin1'),
    );
    const { docroot, logs } = await startProxy({ routes: [`/u=http://127.0.0.1:${portOf(upstream)}`] });
    try {
      const { responses } = await exchange(docroot.port, get('/u/x'));
      assert.equal(responses[0]!.status, 502);
      assert.ok(logs.some((l) => /malformed response body/.test(l)));
    } finally {
      await docroot.close();
      upstream.close();
    }
  });

  test('a malformed chunk in the middle of the body closes the client connection', async () => {
    let held: net.Socket | null = null;
    const upstream = await startRawUpstream((_, socket) => {
      held = socket;
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n', 'latin1');
    });
    const { docroot } = await startProxy({ routes: [`/u=http://127.0.0.1:${portOf(upstream)}`] });
    try {
      const socket = await connect(docroot.port);
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.write(get('/u/x'));
      while (!Buffer.concat(chunks).toString().includes('hi')) await once(socket, 'data');
      held!.write('zz\r\n');
      await once(socket, 'close');
      const raw = Buffer.concat(chunks);
      assert.match(raw.toString('latin1'), /^HTTP\/1.1 200/);
      assert.equal(
        parseResponses(raw).responses.length,
        0,
        'the chunked answer to the client never completes',
      );
    } finally {
      await docroot.close();
      upstream.close();
    }
  });
});

describe('proxy: fuzzed upstream answers', () => {
  test('whatever an upstream sends, docroot answers 502/504 or forwards a well-framed message; never a 500, never a crash', async () => {
    let answer = Buffer.alloc(0);
    const upstream = await startRawUpstream((_, socket) => socket.end(answer));
    const { docroot } = await startProxy({
      routes: [`/u=http://127.0.0.1:${portOf(upstream)}`],
      timeoutMs: 500,
    });
    const valid = fc
      .tuple(
        fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/1.2', 'http/1.1', 'HTTP/2'),
        fc.integer({ min: 0, max: 700 }),
        fc.array(
          fc.constantFrom(
            'Content-Length: 5',
            'Content-Length: 3',
            'Content-Length: -1',
            'Transfer-Encoding: chunked',
            'Transfer-Encoding: gzip',
            'Connection: close',
            'X-A: b',
            ' folded',
            'Bad Name: x',
          ),
          { maxLength: 4 },
        ),
        fc.constantFrom('', 'hello', '5\r\nhello\r\n0\r\n\r\n', 'zz\r\n', 'HTTP/1.1 200 OK\r\n\r\n'),
        fc.constantFrom('\r\n', '\n'),
      )
      .map(([version, status, fields, body, eol]) =>
        Buffer.from(
          `${version} ${status} X${eol}${fields.map((f) => `${f}${eol}`).join('')}${eol}${body}`,
          'latin1',
        ),
      );
    const anyBytes = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a));
    try {
      await fc.assert(
        fc.asyncProperty(fc.oneof(valid, anyBytes), async (bytes) => {
          answer = bytes;
          const { raw, closed } = await exchange(docroot.port, get('/u/x', 'Connection: close\r\n'), {
            waitForClose: true,
            timeoutMs: 10_000,
          });
          assert.ok(closed, 'the client connection ends');
          const status = /^HTTP\/1\.1 (\d{3}) /.exec(raw.toString('latin1'))?.[1];
          assert.ok(
            status !== undefined,
            `an answer: ${JSON.stringify(raw.toString('latin1').slice(0, 80))}`,
          );
          assert.notEqual(status, '500');
          // A body the upstream cuts after its head went out closes the client connection and is logged
          // (the client saw a short body, never a complete one); anything else logged is a fault.
          const faults = docroot.errors
            .map(String)
            .filter((error) => !/in the middle of the response body|malformed response body/.test(error));
          assert.deepEqual(faults, []);
        }),
        { numRuns: 120 },
      );
    } finally {
      await docroot.close();
      upstream.close();
    }
  });
});

describe('proxy: server features apply to proxied requests', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  before(async () => {
    backend = await startBackend();
  });
  after(() => {
    backend.server.closeAllConnections();
    backend.server.close();
  });

  test('--auth guards proxied paths; --cors leaves the upstream CORS answers alone', async () => {
    const { docroot } = await startProxy(
      { routes: [`/api=http://127.0.0.1:${backend.port}/`] },
      {
        auth: [
          { user: 'u', password: 'p', pathPrefix: '/api', access: 'ro' },
          { pathPrefix: '/', access: 'ro' },
        ],
        cors: true,
      },
    );
    try {
      const before = backend.seen.length;
      const denied = await exchange(docroot.port, get('/api/cors'));
      assert.equal(denied.responses[0]!.status, 401);
      assert.equal(backend.seen.length, before, 'the upstream never saw the request');
      const auth = `Authorization: Basic ${Buffer.from('u:p').toString('base64')}\r\n`;
      const allowed = await exchange(docroot.port, get('/api/cors', auth));
      assert.equal(allowed.responses[0]!.status, 200);
      assert.equal(allowed.responses[0]!.headers['access-control-allow-origin'], 'https://app.test');
      const plain = await exchange(docroot.port, get('/api/json', auth));
      assert.equal(plain.responses[0]!.headers['access-control-allow-origin'], undefined);
      const file = await exchange(docroot.port, get('/text.txt'));
      assert.equal(file.responses[0]!.headers['access-control-allow-origin'], '*');
    } finally {
      await docroot.close();
    }
  });

  test('the access log and --trace show proxied exchanges, the trace with both legs', async () => {
    const lines: string[] = [];
    const trace: string[] = [];
    const observer = combineObservers(
      createAccessLogObserver({ format: 'common', writeLine: (line) => lines.push(line) }),
      createTraceObserver({ writeLine: (line) => trace.push(line) }),
    )!;
    const { docroot } = await startProxy(
      {
        routes: [`/api=http://127.0.0.1:${backend.port}/`],
        onUpstreamHead: createUpstreamTracer({ writeLine: (line) => trace.push(line) }),
      },
      { observer },
    );
    try {
      await exchange(docroot.port, get('/api/traced', 'Connection: close\r\n'), { waitForClose: true });
      assert.ok(
        lines.some((l) => /"GET \/api\/traced HTTP\/1.1" 200 /.test(l)),
        lines.join('\n'),
      );
      const text = trace.join('\n');
      assert.match(text, /C \(-->\): GET \/api\/traced HTTP\/1.1/);
      assert.match(text, /proxy → http:\/\/127.0.0.1:\d+/);
      assert.match(text, /C \(-->\): GET \/traced HTTP\/1.1/);
      assert.match(text, /proxy ← http:\/\/127.0.0.1:\d+/);
      assert.ok(text.indexOf('proxy ←') < text.lastIndexOf('S (<--): HTTP/1.1 200'), text);
    } finally {
      await docroot.close();
    }
  });

  test('HTTP/2 clients are proxied too (docroot over TLS with h2, the upstream on HTTP/1.1)', async () => {
    const { docroot } = await startProxy(
      { routes: [`/api=http://127.0.0.1:${backend.port}/`] },
      { tls: { selfSigned: true } },
    );
    const session = http2.connect(`https://127.0.0.1:${docroot.port}`, { rejectUnauthorized: false });
    session.on('error', () => {});
    try {
      const ask = (headers: http2.OutgoingHttpHeaders, body?: string) =>
        new Promise<{ status: number; via: unknown; text: string }>((resolve, reject) => {
          const stream = session.request(headers);
          const parts: Buffer[] = [];
          let status = 0;
          let via: unknown;
          stream.on('response', (h) => {
            status = Number(h[':status']);
            via = h.via;
          });
          stream.on('data', (d: Buffer) => parts.push(d));
          stream.on('end', () => resolve({ status, via, text: Buffer.concat(parts).toString() }));
          stream.on('error', reject);
          stream.end(body);
        });
      const got = await ask({ ':path': '/api/h2?x=1' });
      assert.equal(got.status, 200);
      assert.equal(got.via, '1.1 docroot');
      assert.equal(JSON.parse(got.text).url, '/h2?x=1');
      const posted = await ask({ ':path': '/api/h2', ':method': 'POST' }, 'over h2');
      assert.equal(JSON.parse(posted.text).body, 'over h2');
      assert.equal(backend.seen.at(-1)!.headers['x-forwarded-proto'], 'https');
    } finally {
      session.close();
      await docroot.close();
    }
  });

  test('https:// upstreams: a self-signed certificate is refused (502) unless --proxy-insecure', async () => {
    const { cert, key } = generateSelfSignedCertificate();
    const secure = https.createServer({ cert, key }, (_, res) => res.end('secret'));
    secure.listen(0, '127.0.0.1');
    await once(secure, 'listening');
    const url = `https://localhost:${portOf(secure)}`;
    const strict = await startProxy({ routes: [`/s=${url}`] });
    const lenient = await startProxy({ routes: [`/s=${url}`], insecure: true });
    try {
      const refused = await exchange(strict.docroot.port, get('/s/x'));
      assert.equal(refused.responses[0]!.status, 502);
      const accepted = await exchange(lenient.docroot.port, get('/s/x'));
      assert.equal(accepted.responses[0]!.status, 200);
      assert.equal(accepted.responses[0]!.body.toString(), 'secret');
    } finally {
      await strict.docroot.close();
      await lenient.docroot.close();
      secure.closeAllConnections();
      secure.close();
    }
  });
});

describe('proxy: WebSockets', () => {
  let wss: WebSocketServer;
  let wsPort: number;
  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    wsPort = (wss.address() as net.AddressInfo).port;
    wss.on('connection', (ws, request) => {
      ws.send(`hello ${request.url} via ${request.headers.via}`);
      ws.on('message', (data, binary) => ws.send(data, { binary }));
    });
  });
  after(() => wss.close());

  test('10,000 messages echoed through docroot, then a clean close from either side', async () => {
    const { docroot } = await startProxy({ routes: [`/ws=http://127.0.0.1:${wsPort}`] });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${docroot.port}/ws/echo`);
      const greeting = once(ws, 'message');
      await once(ws, 'open');
      assert.equal(String((await greeting)[0]), 'hello /ws/echo via 1.1 docroot');
      const count = 10_000;
      let received = 0;
      let mismatches = 0;
      const done = new Promise<void>((resolve) => {
        ws.on('message', (data) => {
          if (String(data) !== `message ${received}`) mismatches++;
          if (++received === count) resolve();
        });
      });
      for (let i = 0; i < count; i++) ws.send(`message ${i}`);
      await done;
      assert.equal(mismatches, 0);
      ws.close(1000, 'done');
      const [code] = (await once(ws, 'close')) as [number];
      assert.equal(code, 1000);
      while (docroot.server.wire.connectionCount > 0) await new Promise((r) => setImmediate(r));
    } finally {
      await docroot.close();
    }
  });

  test('the server side closing ends the tunnel too; --max-connections counts tunnels', async () => {
    const { docroot } = await startProxy(
      { routes: [`/ws=http://127.0.0.1:${wsPort}`] },
      { maxConnections: 1 },
    );
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${docroot.port}/ws/x`);
      await once(ws, 'open');
      const over = await exchange(docroot.port, get('/ws/x'));
      assert.equal(over.responses[0]!.status, 503);
      const closed = once(ws, 'close');
      for (const client of wss.clients) client.close(1001, 'going away');
      const [code] = (await closed) as [number];
      assert.equal(code, 1001);
    } finally {
      await docroot.close();
    }
  });

  test('graceful shutdown ends open tunnels at once', async () => {
    const { docroot } = await startProxy({ routes: [`/ws=http://127.0.0.1:${wsPort}`] });
    const ws = new WebSocket(`ws://127.0.0.1:${docroot.port}/ws/x`);
    await once(ws, 'open');
    const closed = once(ws, 'close');
    const started = Date.now();
    await docroot.server.close(60_000);
    await closed;
    assert.ok(Date.now() - started < 30_000, 'not held for the grace period');
  });

  test('bytes the client sent right behind the upgrade request reach the upstream', async () => {
    const upstream = await startRawUpstream((_, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nfirst;');
      socket.removeAllListeners('data');
      socket.on('data', (d) => socket.write(d));
    });
    const { docroot } = await startProxy({ routes: [`/e=http://127.0.0.1:${portOf(upstream)}`] });
    try {
      const socket = await connect(docroot.port);
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.write(`${get('/e/', 'Connection: Upgrade\r\nUpgrade: echo\r\n')}early;`);
      while (!Buffer.concat(chunks).toString().includes('early;')) await once(socket, 'data');
      const text = Buffer.concat(chunks).toString();
      assert.match(text, /^HTTP\/1.1 101 Switching Protocols\r\n/);
      assert.match(text, /\r\nConnection: upgrade\r\n/i);
      assert.match(text, /\r\n\r\nfirst;early;/);
      socket.end();
      await once(socket, 'close');
    } finally {
      await docroot.close();
      upstream.close();
    }
  });
});
