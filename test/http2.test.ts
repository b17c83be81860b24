/**
 * HTTP/2 over TLS: node's own http2 client, trusting exactly the test's self-signed certificate, gets
 * files, ranges, 304s and listings from the same handler as HTTP/1.1 clients on the same port.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { createHttp2Serving } from '../src/http2/serve.js';
import { SERVER_SOFTWARE } from '../src/server.js';
import { generateSelfSignedCertificate } from '../src/tls/self-signed.js';
import { createAccessLogObserver } from '../src/wire/access-log.js';
import { DEFAULT_LIMITS } from '../src/wire/limits.js';
import type { ExchangeRecord } from '../src/wire/observer.js';
import { ErrorLog, FIXTURE_ROOT, type RunningDocroot, readAll, startDocroot } from './helpers/servers.js';
import { gate, waitFor } from './helpers/wait.js';

const execFileAsync = promisify(execFile);

interface H2Answer {
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

function h2Request(
  session: http2.ClientHttp2Session,
  path: string,
  extra: http2.OutgoingHttpHeaders = {},
  method = 'GET',
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':method': method, ...extra }, { endStream: true });
    let headers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (received) => {
      headers = received;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ headers, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
  });
}

/** Sends `body` in pieces (no content-length unless given in `extra`) and collects the answer. */
function h2Upload(
  session: http2.ClientHttp2Session,
  path: string,
  body: Buffer,
  extra: http2.OutgoingHttpHeaders = {},
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':method': 'POST', ...extra });
    let headers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (received) => {
      headers = received;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ headers, body: Buffer.concat(chunks) }));
    // A reset after the full response (RST_STREAM NO_ERROR) still leaves the response intact.
    stream.on('close', () => resolve({ headers, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    for (let at = 0; at < body.length; at += 500) stream.write(body.subarray(at, at + 500));
    stream.end();
  });
}

/** A bare HTTP/2 serving (no docroot around it) behind TLS on an ephemeral port, with its error log. */
async function startH2Serving(
  options: Omit<Parameters<typeof createHttp2Serving>[0], 'serverSoftware' | 'logError'>,
): Promise<{ port: number; log: ErrorLog; streamCount(): number; close(): Promise<void> }> {
  const log = new ErrorLog();
  const certificate = generateSelfSignedCertificate();
  const serving = createHttp2Serving({ ...options, serverSoftware: 'docroot/test', logError: log.record });
  const server = tls.createServer(
    { cert: certificate.cert, key: certificate.key, ALPNProtocols: ['h2'] },
    (socket) => serving.accept(socket),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as import('node:net').AddressInfo).port,
    log,
    streamCount: () => serving.streamCount,
    async close() {
      await serving.close(100);
      await new Promise((resolve) => server.close(resolve));
      log.check();
    },
  };
}

function connect(port: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://localhost:${port}`, {
    rejectUnauthorized: false,
    host: '127.0.0.1',
  });
  return new Promise((resolve, reject) => {
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

describe('HTTP/2 over TLS', () => {
  let docroot: RunningDocroot;
  let ca: string;
  let session: http2.ClientHttp2Session;
  before(async () => {
    docroot = await startDocroot({ tls: { selfSigned: true } });
    ca = docroot.server.certificate!.cert;
    session = http2.connect(`https://localhost:${docroot.port}`, { ca, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
  });
  after(async () => {
    session.close();
    await docroot.close();
  });

  test('ALPN picked h2', () => {
    assert.equal(session.alpnProtocol, 'h2');
  });

  test('a file, byte for byte, with its length and validators', async () => {
    const expected = readFileSync(`${FIXTURE_ROOT}images/photo.jpg`);
    const answer = await h2Request(session, '/images/photo.jpg');
    assert.equal(answer.headers[':status'], 200);
    assert.equal(answer.headers['content-type'], 'image/jpeg');
    assert.equal(answer.headers['content-length'], String(expected.length));
    assert.match(String(answer.headers.etag), /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.equal(answer.headers.server, SERVER_SOFTWARE);
    assert.equal(answer.headers.connection, undefined);
    assert.deepEqual(answer.body, expected);
  });

  test('a range is 206 with the bytes asked for', async () => {
    const expected = readFileSync(`${FIXTURE_ROOT}text.txt`);
    const answer = await h2Request(session, '/text.txt', { range: 'bytes=6-9' });
    assert.equal(answer.headers[':status'], 206);
    assert.equal(answer.headers['content-range'], `bytes 6-9/${expected.length}`);
    assert.deepEqual(answer.body, expected.subarray(6, 10));
  });

  test('If-None-Match with the ETag is 304 with no body (hot cache and disk path alike)', async () => {
    const first = await h2Request(session, '/a_web_page.html');
    const etag = String(first.headers.etag);
    for (let i = 0; i < 2; i++) {
      const answer = await h2Request(session, '/a_web_page.html', { 'if-none-match': etag });
      assert.equal(answer.headers[':status'], 304);
      assert.equal(answer.headers.etag, etag);
      assert.equal(answer.body.length, 0);
    }
  });

  test('compression is negotiated as on HTTP/1.1', async () => {
    const answer = await h2Request(session, '/docs/?format=text', { 'accept-encoding': 'gzip' });
    assert.equal(answer.headers[':status'], 200);
    assert.match(answer.body.toString(), /^guide\/$/m);
    const page = await h2Request(session, '/a_web_page.html', { 'accept-encoding': 'gzip' });
    assert.equal(page.headers.vary, 'Accept-Encoding');
  });

  test('HEAD has the headers and no body; errors are one line; many streams share one connection', async () => {
    const head = await h2Request(session, '/text.txt', {}, 'HEAD');
    assert.equal(head.headers[':status'], 200);
    assert.ok(Number(head.headers['content-length']) > 0);
    assert.equal(head.body.length, 0);
    const missing = await h2Request(session, '/nope.txt');
    assert.equal(missing.headers[':status'], 404);
    assert.equal(missing.body.toString(), '404 Not Found: no file or folder of that name\n');
    const answers = await Promise.all(Array.from({ length: 20 }, () => h2Request(session, '/text.txt')));
    assert.ok(answers.every((answer) => Number(answer.headers[':status']) === 200));
  });

  test('an HTTP/1.1 client is still served on the same port', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      https
        .get(
          { host: '127.0.0.1', port: docroot.port, path: '/text.txt', ca, servername: 'localhost' },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              body += chunk;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        )
        .on('error', reject);
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, readFileSync(`${FIXTURE_ROOT}text.txt`, 'utf8'));
  });

  test('the health check counts the HTTP/2 connection', async () => {
    const answer = await h2Request(session, '/.well-known/docroot/health');
    const document = JSON.parse(answer.body.toString()) as { connections: number };
    assert.ok(document.connections >= 1);
  });

  test('curl --http2 -k gets the file over HTTP/2', async (t) => {
    const version = spawnSync('curl', ['--version'], { encoding: 'utf8' });
    if (version.status !== 0) return t.skip('curl is not installed');
    if (!/HTTP2/.test(version.stdout)) return t.skip('this curl was built without HTTP/2');
    // Not spawnSync: the server runs in this process and must keep answering meanwhile.
    const { stdout } = await execFileAsync(
      'curl',
      ['-sk', '--http2', '-o', '-', '-w', '\n%{http_version}', `https://127.0.0.1:${docroot.port}/text.txt`],
      { encoding: 'utf8', timeout: 10_000 },
    );
    assert.equal(stdout, `${readFileSync(`${FIXTURE_ROOT}text.txt`, 'utf8')}\n2`);
  });
});

describe('http2: false', () => {
  test('offers only http/1.1 in ALPN', async () => {
    const docroot = await startDocroot({ tls: { selfSigned: true }, http2: false });
    try {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: docroot.port,
        rejectUnauthorized: false,
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      assert.equal(socket.alpnProtocol, 'http/1.1');
      socket.destroy();
    } finally {
      await docroot.close();
    }
  });
});

describe('HTTP/2 access log and limits', () => {
  test('an HTTP/2 request is in the access log as HTTP/2.0', async () => {
    const lines: string[] = [];
    const docroot = await startDocroot({
      tls: { selfSigned: true },
      observer: createAccessLogObserver({ format: 'common', writeLine: (line) => lines.push(line) }),
    });
    const session = await connect(docroot.port);
    try {
      const answer = await h2Request(session, '/text.txt');
      assert.equal(answer.headers[':status'], 200);
      await waitFor(() => lines.length > 0, 'the access-log line');
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, new RegExp(`"GET /text\\.txt HTTP/2\\.0" 200 ${answer.body.length} \\d+$`));
    } finally {
      session.close();
      await docroot.close();
    }
  });

  test('a declared content-length over maxBodyBytes is 413 before the handler runs', async () => {
    const docroot = await startDocroot({ tls: { selfSigned: true }, limits: { maxBodyBytes: 1000 } });
    const session = await connect(docroot.port);
    try {
      const answer = await h2Upload(session, '/text.txt', Buffer.alloc(5000, 'x'), {
        'content-length': 5000,
      });
      assert.equal(answer.headers[':status'], 413);
      // The connection is still usable.
      assert.equal((await h2Request(session, '/text.txt')).headers[':status'], 200);
    } finally {
      session.close();
      await docroot.close();
    }
  });

  describe('with a handler that never reads the body', () => {
    let serving: Awaited<ReturnType<typeof startH2Serving>>;
    let port: number;
    const answerLater = gate();
    const records: ExchangeRecord[] = [];
    before(async () => {
      serving = await startH2Serving({
        // `/late` answers only when the test opens the gate; anything else at once. Neither reads the body.
        handler: async (request) => {
          if (request.path === '/late') await answerLater.promise;
          return { status: 200, body: { kind: 'bytes', data: 'answered' } };
        },
        limits: { ...DEFAULT_LIMITS, bodyTimeoutMs: 200 },
        observer: { onExchange: (record) => records.push(record) },
      });
      port = serving.port;
    });
    after(async () => {
      answerLater.open();
      await serving.close();
    });

    /** Starts a POST, sends a few bytes and then nothing; resolves with the status once the stream closes. */
    function stalledUpload(session: http2.ClientHttp2Session, path: string): Promise<unknown> {
      return new Promise((resolve) => {
        const stream = session.request({ ':path': path, ':method': 'POST' });
        let status: unknown;
        stream.on('response', (headers) => {
          status = headers[':status'];
        });
        stream.on('data', () => {});
        stream.on('error', () => {});
        stream.on('close', () => resolve(status));
        stream.write(Buffer.alloc(10, 'x'));
      });
    }

    // The body's stall error must not be an unhandled 'error' event, which would take the process down
    // (found by `npm run fuzz`); this test process would then die with it.
    test('a body that stalls after the answer is cut, and the server stays up', async () => {
      const session = await connect(port);
      try {
        assert.equal(await stalledUpload(session, '/now'), 200);
        assert.equal((await h2Request(session, '/again')).headers[':status'], 200);
      } finally {
        session.close();
      }
    });

    test('a body that stalls before the answer gets 408, and the server stays up', async () => {
      const session = await connect(port);
      try {
        assert.equal(await stalledUpload(session, '/late'), 408);
        assert.equal((await h2Request(session, '/again')).headers[':status'], 200);
        // The record says why, as HTTP/1.1's does (test/body-stall.test.ts).
        const stalled = await waitFor(
          () => records.find((record) => record.request?.path === '/late'),
          'the record of the stalled stream',
        );
        assert.equal(stalled.status, 408);
        assert.equal(stalled.errorCode, 'BODY_TIMEOUT');
      } finally {
        session.close();
      }
    });
  });

  // Found by the body fuzz: Node resets a stream once its answer is sent, but a readable side paused
  // with unread content in it never ended, so the stream never closed; enough of them, and every new
  // stream was refused.
  test('content answered unread does not keep its stream open', async () => {
    const serving = await startH2Serving({
      handler: async () => ({ status: 415, body: { kind: 'bytes', data: 'not this' } }),
      limits: DEFAULT_LIMITS,
    });
    const session = await connect(serving.port);
    try {
      for (const size of [80_000, 200_000]) {
        const status = await new Promise<unknown>((resolve) => {
          const stream = session.request({ ':path': '/', ':method': 'POST' });
          let got: unknown;
          stream.on('response', (headers) => {
            got = headers[':status'];
          });
          stream.on('data', () => {});
          stream.on('error', () => {});
          stream.on('close', () => resolve(got));
          stream.end(Buffer.alloc(size, 'x'));
        });
        assert.equal(status, 415);
      }
      // Well within the body timeout (30 s), which would close them otherwise.
      await waitFor(() => serving.streamCount() === 0, 'the server to close the answered streams', 10_000);
    } finally {
      session.close();
      await serving.close();
    }
  });

  describe('with a handler that reads the body', () => {
    let serving: Awaited<ReturnType<typeof startH2Serving>>;
    let port: number;
    before(async () => {
      serving = await startH2Serving({
        handler: async (request) => {
          try {
            const body = await readAll(request);
            return { status: 200, body: { kind: 'bytes', data: `got ${body.length}` } };
          } catch {
            return { status: 400, body: { kind: 'bytes', data: 'body failed' } };
          }
        },
        limits: { ...DEFAULT_LIMITS, maxBodyBytes: 1000, keepAliveTimeoutMs: 300, headersTimeoutMs: 300 },
      });
      port = serving.port;
    });
    after(() => serving.close());

    test('a body within the limit reaches the handler', async () => {
      const session = await connect(port);
      try {
        const answer = await h2Upload(session, '/', Buffer.alloc(900, 'x'));
        assert.equal(answer.headers[':status'], 200);
        assert.equal(answer.body.toString(), 'got 900');
      } finally {
        session.close();
      }
    });

    test('a streamed body over the limit is cut with 413', async () => {
      const session = await connect(port);
      try {
        const answer = await h2Upload(session, '/', Buffer.alloc(5000, 'x'));
        assert.equal(answer.headers[':status'], 413);
      } finally {
        session.close();
      }
    });

    test('an idle connection is closed after keepAliveTimeoutMs', async () => {
      const session = await connect(port);
      const startedAt = Date.now();
      await h2Request(session, '/');
      await new Promise((resolve) => session.once('close', resolve));
      assert.ok(Date.now() - startedAt < 5000);
    });
  });
});
