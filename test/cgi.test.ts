/**
 * CGI over real sockets: a WireServer on an ephemeral port whose handler finds and runs the fixture scripts
 * in test/fixtures/root, checked with a raw client (exact bytes) or node:http (large bodies).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parseCommandLine } from '../src/cli/args.js';
import { decodeRequestPath } from '../src/files/resolve.js';
import { parseAuthRule } from '../src/handlers/auth-rules.js';
import { cgiErrorResponse } from '../src/handlers/cgi/failure.js';
import { createCgiScriptHandler, runCgiScript } from '../src/handlers/cgi/handler.js';
import { findCgiScript } from '../src/handlers/cgi/locate.js';
import { CGI_METHODS, type CgiOptions } from '../src/handlers/cgi/options.js';
import { createFileHandler } from '../src/handlers/static.js';
import type { RequestHandler } from '../src/wire/message.js';
import { isAlive, waitForDeath } from './helpers/processes.js';
import { exchange, get } from './helpers/raw-client.js';
import { getRequest } from './helpers/requests.js';
import { ErrorLog, type RunningWire, startDocroot, startWire } from './helpers/servers.js';
import { gate, turn, waitFor } from './helpers/wait.js';

const ROOT = realpathSync(fileURLToPath(new URL('../../test/fixtures/root', import.meta.url)));
/** Short enough that the hang test is quick, long enough for a cold python3 under a loaded test run. */
const HANG_TIMEOUT_MS = 1500;
const NORMAL_TIMEOUT_MS = 20_000;
/** How long a killed script may take to disappear (SIGTERM, then SIGKILL after the 1 s grace). */
const BIG_BODY_BYTES = 50 * 1024 * 1024;
/**
 * Allowed growth of this process (server and client) measured while the client is paused. Buffering the
 * script's output would show as ~50 MiB; the bound leaves room for heap growth and not-yet-collected
 * garbage from the first MiB without approaching the body size.
 */
const BIG_BODY_RSS_GROWTH_LIMIT_BYTES = 24 * 1024 * 1024;
/**
 * The same for Buffer memory alone: live data is a few stream and socket buffers of 64 KiB (about
 * 0.3 MiB is typical), against the 50 MiB that buffering the output would add.
 */
const BIG_BODY_BUFFER_GROWTH_LIMIT_BYTES = 8 * 1024 * 1024;
/** Where a process sleeps (`/proc/<pid>/wchan`) while its stdout (a pipe or a socket pair) is full. */
const SENDING_BLOCKED = /pipe_write|sock_alloc_send|sk_stream_wait_memory|unix_wait_for_peer/;
/** Longest the paused big-output client waits for memory to come back under the bounds. */
const MEMORY_SETTLE_DEADLINE_MS = 5000;
const CONCURRENT_REQUESTS = 50;

/** Garbage collection on demand, so memory is measured as live data rather than not-yet-collected garbage. */
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

/** A variable of the server's own environment that must not reach scripts. */
process.env.DOCROOT_SECRET = '1';

interface CgiServer extends RunningWire {
  logged: Array<{ error: unknown; context: string }>;
}

async function startCgiServer(overrides: Partial<CgiOptions> = {}): Promise<CgiServer> {
  const logged: Array<{ error: unknown; context: string }> = [];
  let running: RunningWire | null = null;
  const options: CgiOptions = {
    root: ROOT,
    cgiDir: 'cgi-bin',
    interpreters: {},
    timeoutMs: NORMAL_TIMEOUT_MS,
    serverSoftware: 'docroot/0.1.0',
    logError: (error, context) => {
      logged.push({ error, context });
      // Also where close() checks: a test declares the script errors it provokes.
      running?.log.record(error, context);
    },
    redispatch: (request) => Promise.resolve(handler(request)),
    ...overrides,
  };
  const handler: RequestHandler = async (request) => {
    const decoded = decodeRequestPath(request.path);
    if (decoded.kind === 'error') return cgiErrorResponse(400, decoded.message);
    const script = await findCgiScript(decoded.segments, options, decoded.trailingSlash);
    if (script === null) return cgiErrorResponse(404, 'not a CGI script');
    if (!CGI_METHODS.includes(request.method)) return cgiErrorResponse(405, 'not for CGI');
    return runCgiScript(request, script, options);
  };
  running = await startWire(handler, { maxBodyBytes: 64 * 1024 * 1024, maxHeaderCount: 200 });
  return Object.assign(running, { logged });
}

const GENERIC_502 =
  '502 Bad Gateway: the script did not produce a valid response (the server log says why)\n';
const GENERIC_504 = '504 Gateway Timeout: the script did not answer in time\n';

/**
 * A script failure tells the client nothing about the script (a generic body) and logs one line, a string
 * without a stack, tagged with the script, that says why.
 */
function assertScriptFailure(
  response: { status: number; body: Buffer },
  logged: CgiServer['logged'],
  status: 502 | 504,
  scriptName: string,
  reason: RegExp,
): void {
  assert.equal(response.status, status);
  assert.equal(response.body.toString(), status === 502 ? GENERIC_502 : GENERIC_504);
  const lines = logged.filter((entry) => entry.context === `cgi: ${scriptName}`).map((entry) => entry.error);
  const line = lines.find((entry) => typeof entry === 'string' && reason.test(entry));
  assert.ok(line !== undefined, `no log line matching ${reason} for ${scriptName}: ${JSON.stringify(lines)}`);
  assert.ok(!(line as string).includes('\n'), 'one line');
  assert.ok(
    lines.every((entry) => typeof entry === 'string'),
    'every log entry is a line, never an Error with a stack',
  );
}

function post(target: string, body: Buffer | string, contentType = 'application/x-test'): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  const head = `POST ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${contentType}\r\nContent-Length: ${data.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), data]);
}

function chunkedPost(target: string, pieces: Buffer[], contentType = 'application/x-test'): Buffer {
  const parts: Buffer[] = [
    Buffer.from(
      `POST ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${contentType}\r\nTransfer-Encoding: chunked\r\n\r\n`,
      'latin1',
    ),
  ];
  for (const piece of pieces) {
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`, 'latin1'), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** Every script pid a test learnt; whatever still runs when the file ends is killed so the run cannot hang. */
const scriptPids = new Set<number>();
after(() => {
  for (const pid of scriptPids) {
    try {
      // Only a process that is still one of ours (the pid may have been reused by now).
      const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (commandLine.includes('fixtures/root/cgi-bin/') || commandLine === 'sleep\u00001000\u0000') {
        process.kill(pid, 'SIGKILL');
      }
    } catch {}
  }
});

/** The pids a fixture script wrote (space-separated) to a file, once it exists. */
async function readPids(file: string): Promise<number[]> {
  const pids = await waitFor(() => {
    try {
      const text = readFileSync(file, 'utf8').trim();
      return text !== '' && text.split(/\s+/).map(Number);
    } catch {
      return false;
    }
  }, `a pid in ${file}`);
  for (const pid of pids) scriptPids.add(pid);
  return pids;
}

async function readPid(file: string): Promise<number> {
  return (await readPids(file))[0]!;
}

describe('CGI scripts over a real server', () => {
  let server: CgiServer;
  let scratch: string;
  before(async () => {
    server = await startCgiServer({ interpreters: { '.py': 'python3', '.js': 'node' } });
    // Script failures are logged as one line each; the tests below cause some on purpose.
    server.expectErrors(/^cgi: \/cgi-bin\/(loop|hang)\.py: /);
    scratch = await mkdtemp(path.join(tmpdir(), 'docroot-cgi-test-'));
  });
  after(async () => {
    await server.close();
    await rm(scratch, { recursive: true, force: true });
  });

  test('the environment holds exactly the RFC 3875 and Apache meta-variables, and nothing of the server', async () => {
    const { responses } = await exchange(
      server.port,
      get(
        '/cgi-bin/env.py/extra/p%20ath?a=1&b=%41+c',
        'User-Agent: cgi-test\r\nX-Custom: one\r\nX-Custom: two\r\nProxy: http://evil.example/\r\nAuthorization: Basic eDp5\r\nCookie: a=1\r\nCookie: b=2\r\n',
      ),
    );
    const response = responses[0]!;
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/json');
    const env = JSON.parse(response.body.toString('utf8')) as Record<string, string>;
    const expected: Record<string, string> = {
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_SOFTWARE: 'docroot/0.1.0',
      SERVER_NAME: 'localhost',
      SERVER_PORT: String(server.port),
      SERVER_PROTOCOL: 'HTTP/1.1',
      REQUEST_METHOD: 'GET',
      REQUEST_SCHEME: 'http',
      SCRIPT_NAME: '/cgi-bin/env.py',
      PATH_INFO: '/extra/p ath',
      PATH_TRANSLATED: path.join(ROOT, 'extra/p ath'),
      QUERY_STRING: 'a=1&b=%41+c',
      REMOTE_ADDR: '127.0.0.1',
      SERVER_ADDR: '127.0.0.1',
      SCRIPT_FILENAME: path.join(ROOT, 'cgi-bin/env.py'),
      REQUEST_URI: '/cgi-bin/env.py/extra/p%20ath?a=1&b=%41+c',
      DOCUMENT_ROOT: ROOT,
      CONTEXT_DOCUMENT_ROOT: ROOT,
      CONTEXT_PREFIX: '',
      REDIRECT_STATUS: '200',
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HTTP_HOST: 'localhost',
      HTTP_USER_AGENT: 'cgi-test',
      HTTP_X_CUSTOM: 'one, two',
      HTTP_COOKIE: 'a=1; b=2',
    };
    for (const [name, value] of Object.entries(expected)) assert.equal(env[name], value, name);
    assert.match(env.REMOTE_PORT ?? '', /^\d+$/);
    for (const name of [
      'HTTP_PROXY',
      'HTTP_AUTHORIZATION',
      'DOCROOT_SECRET',
      'CONTENT_LENGTH',
      'CONTENT_TYPE',
      // The Authorization header was sent, but nobody checked it: no user.
      'REMOTE_USER',
      'AUTH_TYPE',
      'HTTPS',
    ]) {
      assert.equal(env[name], undefined, `${name} must not be set`);
    }
    // Python itself adds LC_CTYPE when it coerces the C locale (PEP 538); nothing else may appear.
    const allowed = new Set([...Object.keys(expected), 'REMOTE_PORT', 'LC_CTYPE']);
    assert.deepEqual(
      Object.keys(env).filter((name) => !allowed.has(name)),
      [],
    );
  });

  test('a POST body with Content-Length reaches stdin and comes back', async () => {
    const body = Buffer.alloc(200_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const { responses } = await exchange(server.port, post('/cgi-bin/echo.py', body, 'application/x-bytes'));
    const response = responses[0]!;
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/x-bytes');
    assert.equal(response.headers['x-received-length'], String(body.length));
    assert.ok(response.body.equals(body));
  });

  test('a chunked POST is buffered so the script gets CONTENT_LENGTH, and round-trips', async () => {
    const pieces = [Buffer.from('hello, '), Buffer.from('chunked '), Buffer.from('world')];
    const { responses } = await exchange(
      server.port,
      chunkedPost('/cgi-bin/echo.py', pieces, 'text/x-chunks'),
    );
    const response = responses[0]!;
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'text/x-chunks');
    assert.equal(response.headers['x-received-length'], '20');
    assert.equal(response.body.toString(), 'hello, chunked world');
  });

  test('a large chunked POST goes through a temporary file and round-trips', async () => {
    const pieces: Buffer[] = [];
    for (let i = 0; i < 40; i++) pieces.push(Buffer.alloc(16 * 1024, 97 + (i % 26)));
    const whole = Buffer.concat(pieces);
    const { responses } = await exchange(server.port, chunkedPost('/cgi-bin/echo.py', pieces), {
      timeoutMs: 10_000,
    });
    const response = responses[0]!;
    assert.equal(response.headers['x-received-length'], String(whole.length));
    assert.ok(response.body.equals(whole));
  });

  test('Status: 404 sets the status line and the body passes through', async () => {
    const { responses } = await exchange(server.port, get('/cgi-bin/status.py'));
    const response = responses[0]!;
    assert.equal(response.head.split('\r\n')[0], 'HTTP/1.1 404 Not Found');
    assert.equal(response.headers['content-type'], 'text/plain');
    assert.equal(response.body.toString(), 'no such thing here\n');
  });

  test('a local Location is answered from the server for that path (RFC 3875 §6.2.2)', async () => {
    const { responses } = await exchange(server.port, get('/cgi-bin/redirect-local.py'));
    const response = responses[0]!;
    assert.equal(response.status, 200);
    assert.equal(response.headers.location, undefined);
    assert.equal(response.body.toString(), 'Hello from CGI\n');
  });

  test('a local redirect loop stops with 502', async () => {
    server.expectErrors(/^cgi: \/cgi-bin\/loop\.py: Error: more than 10 local redirects in a row/);
    const { responses } = await exchange(server.port, get('/cgi-bin/loop.py'), { timeoutMs: 20_000 });
    assertScriptFailure(
      responses[0]!,
      server.logged,
      502,
      '/cgi-bin/loop.py',
      /more than 10 local redirects/,
    );
  });

  test('an absolute Location becomes a 302 with the Location passed on (RFC 3875 §6.2.3)', async () => {
    const { responses } = await exchange(server.port, get('/cgi-bin/redirect-remote.py'));
    const response = responses[0]!;
    assert.equal(response.status, 302);
    assert.equal(response.headers.location, 'http://example.com/');
  });

  test('a script that exits 1 without output gives a generic 502; its exit code is logged', async () => {
    server.expectErrors(/crash\.py/);
    const { responses } = await exchange(server.port, get('/cgi-bin/crash.py'));
    const response = responses[0]!;
    assert.equal(response.headers['content-type'], 'text/plain; charset=utf-8');
    assertScriptFailure(
      response,
      server.logged,
      502,
      '/cgi-bin/crash.py',
      /^the script exited with code 1 before writing a response$/,
    );
  });

  test('a malformed head gives a generic 502; the log names the rule in one line', async () => {
    server.expectErrors(/bad-head\.py/);
    const { responses } = await exchange(server.port, get('/cgi-bin/bad-head.py'));
    assertScriptFailure(
      responses[0]!,
      server.logged,
      502,
      '/cgi-bin/bad-head.py',
      /^line 1 of the script's header block has no colon/,
    );
  });

  test('an nph- script passes its status line and fields through', async () => {
    const { responses } = await exchange(server.port, get('/cgi-bin/nph-raw.py'));
    const response = responses[0]!;
    assert.equal(response.head.split('\r\n')[0], 'HTTP/1.1 203 Straight From The Script');
    assert.equal(response.headers['x-nph'], 'yes');
    assert.equal(response.headers['content-type'], 'text/plain');
    assert.equal(response.body.toString(), 'raw nph body\n');
    server.expectErrors(/nph-bad\.py: (Error: )?an nph- script must start its output with a status line/);
    const bad = (await exchange(server.port, get('/cgi-bin/nph-bad.py'))).responses[0]!;
    assertScriptFailure(bad, server.logged, 502, '/cgi-bin/nph-bad.py', /status line/);
  });

  test('HEAD runs the script and sends its head only; the connection stays usable', async () => {
    const request = `${get('/cgi-bin/hello.py', '', 'HEAD')}${get('/cgi-bin/hello.py')}`;
    const { responses, closed } = await exchange(server.port, request, { responses: 2, headResponses: [0] });
    assert.equal(responses.length, 2);
    const head = responses[0]!;
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-type'], 'text/plain');
    assert.equal(head.body.length, 0);
    assert.equal(responses[1]!.body.toString(), 'Hello from CGI\n');
    assert.equal(closed, false);
  });

  test('stderr lines are logged with the script path', async () => {
    server.expectErrors(/^cgi: \/cgi-bin\/stderr\.py: (first|second) warning$/);
    const { responses } = await exchange(server.port, get('/cgi-bin/stderr.py'));
    assert.equal(responses[0]!.body.toString(), 'logged\n');
    await waitFor(
      () => server.logged.filter((e) => e.context === 'cgi: /cgi-bin/stderr.py').length >= 2,
      'two stderr lines',
    );
    const lines = server.logged.filter((e) => e.context === 'cgi: /cgi-bin/stderr.py').map((e) => e.error);
    assert.deepEqual(lines, ['first warning', 'second warning']);
  });

  test('a script that does not read its upload does not break the server (stdin EPIPE)', async () => {
    // Bigger than a pipe buffer (so stdin blocks, then fails), smaller than the wire's 1 MiB discard bound.
    const body = Buffer.alloc(768 * 1024, 120);
    const request = Buffer.concat([post('/cgi-bin/hello.py', body), Buffer.from(get('/cgi-bin/hello.py'))]);
    const { responses, closed } = await exchange(server.port, request, { responses: 2, timeoutMs: 10_000 });
    assert.equal(responses.length, 2, 'the same connection answers the next request');
    for (const response of responses) {
      assert.equal(response.status, 200);
      assert.equal(response.body.toString(), 'Hello from CGI\n');
    }
    assert.equal(closed, false);
  });

  test('scripts anywhere in the root run through the interpreter of their extension', async () => {
    const time = (await exchange(server.port, get('/make_time.py'))).responses[0]!;
    assert.equal(time.status, 200);
    assert.equal(time.headers['content-type'], 'text/html');
    assert.match(time.body.toString(), /<html>.*The time is \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/s);

    const form = (
      await exchange(server.port, post('/form.py', 'name=Ada+%3CL%3E', 'application/x-www-form-urlencoded'))
    ).responses[0]!;
    assert.equal(form.status, 200);
    assert.match(form.body.toString(), /Hello, Ada &lt;L&gt;!/);

    const node = (await exchange(server.port, get('/hello.js/more'))).responses[0]!;
    assert.equal(node.status, 200);
    assert.equal(node.body.toString(), 'Hello from Node, GET /hello.js/more\n');
  });

  test(`${CONCURRENT_REQUESTS} concurrent CGI requests all complete with their own bodies`, async () => {
    const results = await Promise.all(
      Array.from({ length: CONCURRENT_REQUESTS }, (_, i) =>
        exchange(server.port, post('/cgi-bin/echo.py', `request number ${i}`), { timeoutMs: 30_000 }),
      ),
    );
    results.forEach((result, i) => {
      assert.equal(result.responses[0]?.status, 200, `request ${i}`);
      assert.equal(result.responses[0]?.body.toString(), `request number ${i}`);
    });
  });

  test('50 MiB of script output streams to the client with backpressure and flat memory', async () => {
    // The client stops reading after the first MiB. A server that buffered script output would take in
    // the rest (python writes 50 MiB in well under a second) and grow by about 50 MiB during the pause;
    // with backpressure the script blocks and only socket and stream buffers (a few MiB) are held.
    collectGarbage();
    const before = process.memoryUsage();
    const pidFile = path.join(scratch, 'big-memory.pid');
    let received = 0;
    const pausedAfterFirstMiB = gate();
    let response: http.IncomingMessage | null = null;
    let pausedOnce = false;
    const finished = new Promise<number>((resolve, reject) => {
      const request = http.get(
        { port: server.port, host: '127.0.0.1', path: `/cgi-bin/big.py?${pidFile}`, agent: false },
        (res) => {
          response = res;
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received >= 1024 * 1024 && !pausedOnce) {
              pausedOnce = true;
              res.pause();
              pausedAfterFirstMiB.open();
            }
          });
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      request.on('error', reject);
    });
    await pausedAfterFirstMiB.promise;
    const pid = await readPid(pidFile);
    // The server had every chance to buffer once the script is stuck writing into a full pipe, and
    // still is after the server's event loop has turned (a buffering server would have drained it).
    const blocked = () => SENDING_BLOCKED.test(readFileSync(`/proc/${pid}/wchan`, 'utf8'));
    await waitFor(async () => {
      if (!blocked()) return false;
      await turn(3);
      return blocked();
    }, 'the script to block on a full pipe');
    // Freed Buffer memory is returned by a concurrent sweeper: measure until it has caught up (or the
    // deadline passes with memory still high, which is the failure this test is for).
    let paused = process.memoryUsage();
    await waitFor(
      () => {
        collectGarbage();
        paused = process.memoryUsage();
        return (
          paused.rss - before.rss < BIG_BODY_RSS_GROWTH_LIMIT_BYTES &&
          paused.arrayBuffers - before.arrayBuffers < BIG_BODY_BUFFER_GROWTH_LIMIT_BYTES
        );
      },
      'memory to settle while the client is paused',
      MEMORY_SETTLE_DEADLINE_MS,
    ).catch(() => {});
    (response as http.IncomingMessage | null)?.resume();
    const status = await finished;
    assert.equal(status, 200);
    assert.equal(received, BIG_BODY_BYTES);
    const rssGrowth = paused.rss - before.rss;
    const bufferGrowth = paused.arrayBuffers - before.arrayBuffers;
    assert.ok(
      rssGrowth < BIG_BODY_RSS_GROWTH_LIMIT_BYTES,
      `RSS grew by ${(rssGrowth / 1024 / 1024).toFixed(1)} MiB while the client paused`,
    );
    assert.ok(
      bufferGrowth < BIG_BODY_BUFFER_GROWTH_LIMIT_BYTES,
      `Buffers grew by ${(bufferGrowth / 1024 / 1024).toFixed(1)} MiB while the client paused`,
    );
  });

  test('a client that disconnects mid-output gets its script killed', async () => {
    const pidFile = path.join(scratch, 'big.pid');
    const socket = net.connect(server.port, '127.0.0.1');
    let received = 0;
    const enough = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > 1024 * 1024) {
          socket.pause();
          resolve();
        }
      });
    });
    socket.on('error', () => {});
    socket.write(get(`/cgi-bin/big.py?${pidFile}`));
    await enough;
    const pid = await readPid(pidFile);
    assert.ok(isAlive(pid), 'the script is still writing (the socket is full)');
    socket.destroy();
    assert.ok(await waitForDeath(pid), `script ${pid} still runs after the client left`);
  });

  test('a client that leaves during its upload gets its script killed', async () => {
    const pidFile = path.join(scratch, 'upload.pid');
    const socket = net.connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    // hang.py never reads stdin and never answers; only the disconnect can end it (the timeout is 20 s).
    socket.write(
      `POST /cgi-bin/hang.py?${pidFile} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\nonly a little`,
    );
    const pid = await readPid(pidFile);
    assert.ok(isAlive(pid));
    socket.destroy();
    assert.ok(await waitForDeath(pid), `hang.py (${pid}) still runs after the client left`);
  });

  test('a missing interpreter gives a generic 502 and a one-line reason in the log', async () => {
    const broken = await startCgiServer({ cgiDir: null, interpreters: { '.py': 'no-such-interpreter-xyz' } });
    broken.expectErrors(
      /^cgi: \/make_time\.py: the interpreter "no-such-interpreter-xyz" could not be started/,
    );
    try {
      const { responses } = await exchange(broken.port, get('/make_time.py'));
      assertScriptFailure(
        responses[0]!,
        broken.logged,
        502,
        '/make_time.py',
        /^the interpreter "no-such-interpreter-xyz" could not be started: it was not found$/,
      );
      assert.equal(broken.logged.length, 1, 'logged once');
    } finally {
      await broken.close();
    }
  });
});

function basicAuth(user: string, password: string): string {
  return `Authorization: Basic ${Buffer.from(`${user}:${password}`).toString('base64')}\r\n`;
}

describe('CGI request bodies', () => {
  let scratch: string;
  let spoolDir: string;
  let server: CgiServer;
  /** Small enough to test quickly, larger than what is kept in memory (CGI_BODY_MEMORY_BYTES). */
  const LIMIT = 1024 * 1024;
  before(async () => {
    scratch = realpathSync(await mkdtemp(path.join(tmpdir(), 'docroot-cgi-bodies-')));
    spoolDir = path.join(scratch, 'spool');
    await mkdir(spoolDir);
    server = await startCgiServer({ maxBodyBytes: LIMIT, spoolDir });
  });
  after(async () => {
    await server.close();
    await rm(scratch, { recursive: true, force: true });
  });

  /** The spool folder empties once the script is done; the check repeats until then (or fails). */
  async function spoolEmptied(): Promise<string[]> {
    await waitFor(
      () => readdirSync(spoolDir).length === 0,
      'the spool folder to empty',
      NORMAL_TIMEOUT_MS,
    ).catch(() => {});
    return readdirSync(spoolDir);
  }

  test('a chunked body waits in a private temporary file with its CONTENT_LENGTH, removed after', async () => {
    const pieces: Buffer[] = [];
    for (let i = 0; i < 12; i++) pieces.push(randomBytes(64 * 1024));
    const { responses } = await exchange(server.port, chunkedPost(`/cgi-bin/spool.py?${spoolDir}`, pieces), {
      timeoutMs: NORMAL_TIMEOUT_MS,
    });
    assert.equal(responses[0]!.status, 200);
    const report = JSON.parse(responses[0]!.body.toString()) as {
      received: number;
      contentLength: number;
      files: Array<[string, number]>;
    };
    assert.equal(report.contentLength, 12 * 64 * 1024);
    assert.equal(report.received, 12 * 64 * 1024);
    assert.equal(report.files.length, 1);
    assert.match(report.files[0]![0], /^docroot-cgi-[^/]+\/body$/);
    assert.equal(report.files[0]![1], 12 * 64 * 1024);
    assert.deepEqual(await spoolEmptied(), []);
  });

  test('a chunked body over --cgi-max-body gets 413, the connection closes and nothing is kept', async () => {
    const pieces: Buffer[] = [];
    for (let i = 0; i < 20; i++) pieces.push(Buffer.alloc(64 * 1024, 97));
    const { responses, closed } = await exchange(
      server.port,
      chunkedPost(`/cgi-bin/spool.py?${spoolDir}`, pieces),
      { waitForClose: true, timeoutMs: NORMAL_TIMEOUT_MS },
    );
    assert.equal(responses[0]!.status, 413);
    assert.equal(
      responses[0]!.body.toString(),
      `413 Content Too Large: a request body for a CGI script may be at most ${LIMIT} bytes\n`,
    );
    assert.equal(closed, true);
    // Removed before the answer was sent.
    assert.deepEqual(readdirSync(spoolDir), []);
  });

  test('a client that leaves in the middle of a spooled chunked body leaves nothing behind', async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    const piece = Buffer.alloc(64 * 1024, 120);
    const pieces = Array.from({ length: 8 }, () => piece);
    // The whole body but its last chunk: the script never starts, the rest of the body is on disk.
    const request = chunkedPost(`/cgi-bin/spool.py?${spoolDir}`, pieces);
    socket.write(request.subarray(0, request.length - 5));
    await waitFor(() => readdirSync(spoolDir).length > 0, 'the body to be spooled', NORMAL_TIMEOUT_MS);
    assert.equal(readdirSync(spoolDir).length, 1, 'the body is being spooled');
    socket.destroy();
    assert.deepEqual(await spoolEmptied(), []);
  });

  test('a spool folder that cannot be written is a 500 for the client and one line in the log', async () => {
    const broken = await startCgiServer({ spoolDir: path.join(scratch, 'no-such-folder') });
    broken.expectErrors(/^cgi: \/cgi-bin\/spool\.py: the chunked request body could not be spooled/);
    try {
      const pieces = Array.from({ length: 6 }, () => Buffer.alloc(64 * 1024, 121));
      const { responses } = await exchange(broken.port, chunkedPost('/cgi-bin/spool.py', pieces), {
        waitForClose: true,
        timeoutMs: NORMAL_TIMEOUT_MS,
      });
      assert.equal(responses[0]!.status, 500);
      assert.equal(
        responses[0]!.body.toString(),
        '500 Internal Server Error: the request body could not be stored for the script\n',
      );
      assert.equal(broken.logged.length, 1);
      assert.equal(broken.logged[0]!.context, 'cgi: /cgi-bin/spool.py');
      assert.match(String(broken.logged[0]!.error), /^the chunked request body could not be spooled: ENOENT/);
    } finally {
      await broken.close();
    }
  });

  test('a Content-Length over --cgi-max-body gets 413 before a byte is read (no 100 Continue)', async () => {
    const { responses, raw } = await exchange(
      server.port,
      `POST /cgi-bin/spool.py HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`,
      { waitForClose: true },
    );
    assert.equal(responses[0]!.status, 413);
    assert.ok(!raw.toString('latin1').includes('100 Continue'), 'no 100 Continue before the refusal');
  });

  test('a Content-Length body waits for the script that does not read yet, instead of piling up', async () => {
    const total = 32 * 1024 * 1024;
    const goFile = path.join(scratch, 'go');
    let held = -1;
    const options: CgiOptions = {
      root: ROOT,
      cgiDir: 'cgi-bin',
      interpreters: {},
      timeoutMs: NORMAL_TIMEOUT_MS,
      serverSoftware: 'docroot/test',
      logError: () => {},
      maxBodyBytes: total,
    };
    const gated = await startWire(
      async (request) => {
        const script = await findCgiScript(['cgi-bin', 'gated-echo.py'], options);
        assert.ok(script !== null && request.body !== null);
        const response = runCgiScript(request, script, options);
        // The body is piped to stdin by now; count what the wire hands on until the pipe pushes back.
        let delivered = 0;
        const body = request.body;
        body.on('data', (chunk: Buffer) => {
          delivered += chunk.length;
        });
        body.once('pause', () => {
          held = delivered + body.readableLength;
          writeFileSync(goFile, 'go');
        });
        return response;
      },
      { maxBodyBytes: total },
    );
    try {
      const content = randomBytes(total);
      const { responses } = await exchange(gated.port, post(`/cgi-bin/gated-echo.py?${goFile}`, content), {
        timeoutMs: NORMAL_TIMEOUT_MS,
      });
      assert.equal(responses[0]!.status, 200);
      assert.equal(
        responses[0]!.body.toString(),
        `${total} ${createHash('md5').update(content).digest('hex')}\n`,
      );
      // A pipe's and a few streams' buffers, against the 32 MiB that reading ahead would hold.
      assert.ok(held > 0 && held < 4 * 1024 * 1024, `the server held ${held} bytes before the script read`);
    } finally {
      await gated.close();
    }
  });

  test('a Content-Length body up to the limit streams to stdin', async () => {
    const body = randomBytes(LIMIT);
    const { responses } = await exchange(server.port, post('/cgi-bin/echo.py', body), {
      timeoutMs: NORMAL_TIMEOUT_MS,
    });
    assert.equal(responses[0]!.status, 200);
    assert.equal(responses[0]!.headers['x-received-length'], String(LIMIT));
    assert.ok(responses[0]!.body.equals(body));
  });
});

test('--cgi-max-body takes a size with K, M or G (default 1G) and needs CGI', () => {
  const given = parseCommandLine(['--cgi-ext', '.php=php-cgi', '--cgi-max-body', '64M']);
  assert.ok(given.kind === 'serve');
  assert.equal(given.options.cgi?.maxBodyBytes, 64 * 1024 * 1024);
  const fallback = parseCommandLine(['--cgi']);
  assert.ok(fallback.kind === 'serve');
  assert.equal(fallback.options.cgi?.maxBodyBytes, 1024 * 1024 * 1024);
  const bad = parseCommandLine(['--cgi', '--cgi-max-body', 'lots']);
  assert.ok(bad.kind === 'error');
  assert.equal(bad.message, '--cgi-max-body needs bytes, or a number with K, M or G, got "lots"');
  const alone = parseCommandLine(['--cgi-max-body', '1M']);
  assert.ok(alone.kind === 'error');
  assert.match(alone.message, /only makes sense with --cgi/);
});

describe('CGI environment details', () => {
  let server: CgiServer;
  before(async () => {
    server = await startCgiServer();
  });
  after(() => server.close());

  test('REQUEST_URI of an absolute-form request is its path and query', async () => {
    const { responses } = await exchange(
      server.port,
      'GET http://localhost/cgi-bin/env.py/x?y=1 HTTP/1.1\r\nHost: localhost\r\n\r\n',
    );
    const env = JSON.parse(responses[0]!.body.toString()) as Record<string, string>;
    assert.equal(env.REQUEST_URI, '/cgi-bin/env.py/x?y=1');
    assert.equal(env.SCRIPT_NAME, '/cgi-bin/env.py');
    assert.equal(env.PATH_INFO, '/x');
  });

  test('a POST with Content-Length: 0 has CONTENT_LENGTH=0; a GET has none', async () => {
    const { responses } = await exchange(
      server.port,
      `${get('/cgi-bin/env.py', 'Content-Length: 0\r\nContent-Type: text/plain\r\n', 'POST')}${get('/cgi-bin/env.py')}`,
      { responses: 2 },
    );
    const posted = JSON.parse(responses[0]!.body.toString()) as Record<string, string>;
    assert.equal(posted.CONTENT_LENGTH, '0');
    assert.equal(posted.CONTENT_TYPE, 'text/plain');
    const got = JSON.parse(responses[1]!.body.toString()) as Record<string, string>;
    assert.equal(got.CONTENT_LENGTH, undefined);
  });
});

describe('CGI behind --auth: REMOTE_USER and AUTH_TYPE', () => {
  let docroot: Awaited<ReturnType<typeof startDocroot>>;
  before(async () => {
    const auth = ['@/:ro', 'dev:pw@/:rw'].map((text) => {
      const rule = parseAuthRule(text);
      assert.ok(typeof rule !== 'string', String(rule));
      return rule;
    });
    docroot = await startDocroot({ root: ROOT, cgi: { timeoutMs: NORMAL_TIMEOUT_MS }, auth });
  });
  after(() => docroot.close());

  const envOf = (body: Buffer) => JSON.parse(body.toString()) as Record<string, string>;

  test('a request whose credentials were checked runs with REMOTE_USER and AUTH_TYPE=Basic', async () => {
    const read = (await exchange(docroot.port, get('/cgi-bin/env.py', basicAuth('dev', 'pw')))).responses[0]!;
    assert.equal(read.status, 200);
    assert.equal(envOf(read.body).REMOTE_USER, 'dev');
    assert.equal(envOf(read.body).AUTH_TYPE, 'Basic');
    const write = (
      await exchange(
        docroot.port,
        `${get('/cgi-bin/env.py', `${basicAuth('dev', 'pw')}Content-Length: 2\r\n`, 'POST')}hi`,
      )
    ).responses[0]!;
    assert.equal(write.status, 200);
    assert.equal(envOf(write.body).REMOTE_USER, 'dev');
    assert.equal(envOf(write.body).CONTENT_LENGTH, '2');
  });

  test('anonymous readers and unchecked credentials get no REMOTE_USER; wrong passwords get 401', async () => {
    const anonymous = (await exchange(docroot.port, get('/cgi-bin/env.py'))).responses[0]!;
    assert.equal(anonymous.status, 200);
    assert.equal(envOf(anonymous.body).REMOTE_USER, undefined);
    assert.equal(envOf(anonymous.body).AUTH_TYPE, undefined);
    // A user no rule names reads as anyone may, but is nobody the server vouches for.
    const stranger = (await exchange(docroot.port, get('/cgi-bin/env.py', basicAuth('eve', 'x'))))
      .responses[0]!;
    assert.equal(stranger.status, 200);
    assert.equal(envOf(stranger.body).REMOTE_USER, undefined);
    const wrong = (await exchange(docroot.port, get('/cgi-bin/env.py', basicAuth('dev', 'nope'))))
      .responses[0]!;
    assert.equal(wrong.status, 401);
    const anonymousPost = (
      await exchange(docroot.port, `${get('/cgi-bin/env.py', 'Content-Length: 2\r\n', 'POST')}hi`)
    ).responses[0]!;
    assert.equal(anonymousPost.status, 401);
    assert.match(anonymousPost.headers['www-authenticate'] ?? '', /^Basic /);
  });
});

describe('CGI behind the static file handler', () => {
  let running: RunningWire;
  before(async () => {
    let fileHandler: RequestHandler | null = null;
    const scripts = createCgiScriptHandler({
      root: ROOT,
      cgiDir: 'cgi-bin',
      interpreters: { '.js': 'node' },
      timeoutMs: NORMAL_TIMEOUT_MS,
      serverSoftware: 'docroot/0.1.0',
      logError: (error, context) => running.log.record(error, context),
      redispatch: async (request) => fileHandler!(request),
    });
    fileHandler = createFileHandler({
      root: ROOT,
      scriptHandler: scripts,
      logError: (error, context) => running.log.record(error, context),
    });
    running = await startWire(fileHandler);
  });
  after(() => running.close());

  test('scripts run, documents are served, and the CGI folder is never listed', async () => {
    const script = (await exchange(running.port, get('/cgi-bin/hello.py'))).responses[0]!;
    assert.equal(script.body.toString(), 'Hello from CGI\n');
    const node = (await exchange(running.port, get('/hello.js'))).responses[0]!;
    assert.equal(node.body.toString(), 'Hello from Node, GET /hello.js\n');
    const page = (await exchange(running.port, get('/a_web_page.html'))).responses[0]!;
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'] ?? '', /^text\/html/);
    // No interpreter for .py outside the CGI folder here: the file is a document.
    const source = (await exchange(running.port, get('/make_time.py'))).responses[0]!;
    assert.equal(source.status, 200);
    assert.match(source.body.toString(), /^#!\/usr\/bin\/env python3/);
    for (const target of ['/cgi-bin/', '/cgi-bin', '/cgi-bin/missing.py']) {
      const response = (await exchange(running.port, get(target))).responses[0]!;
      assert.equal(response.status, 404, target);
    }
  });

  test('a local redirect is answered by the whole handler; methods outside CGI get 405', async () => {
    const redirected = (await exchange(running.port, get('/cgi-bin/redirect-local.py'))).responses[0]!;
    assert.equal(redirected.body.toString(), 'Hello from CGI\n');
    const patch = (await exchange(running.port, get('/cgi-bin/hello.py', '', 'PATCH'))).responses[0]!;
    assert.equal(patch.status, 405);
    assert.equal(patch.headers.allow, 'GET, HEAD, POST, PUT, DELETE');
  });
});

describe('CGI timeouts', () => {
  let server: CgiServer;
  let scratch: string;
  before(async () => {
    server = await startCgiServer({ timeoutMs: HANG_TIMEOUT_MS });
    server.expectErrors(
      /^response body stream: Error: the script did not finish within 1500 ms$/,
      /^cgi: \/cgi-bin\/(hang|stubborn|stall)\.py: Error: the script did not finish within 1500 ms$/,
      /^cgi: \/cgi-bin\/(hang|stubborn|stall)\.py: the script did not (write its response head|finish) within 1500 ms$/,
    );
    scratch = await mkdtemp(path.join(tmpdir(), 'docroot-cgi-hang-'));
  });
  after(async () => {
    await server.close();
    await rm(scratch, { recursive: true, force: true });
  });

  test('a script that never writes its head gets 504 and its process is gone', async () => {
    const pidFile = path.join(scratch, 'hang.pid');
    const started = Date.now();
    const { responses } = await exchange(server.port, get(`/cgi-bin/hang.py?${pidFile}`), {
      timeoutMs: 10_000,
    });
    const elapsed = Date.now() - started;
    const response = responses[0]!;
    assertScriptFailure(
      response,
      server.logged,
      504,
      '/cgi-bin/hang.py',
      /^the script did not write its response head within 1500 ms$/,
    );
    assert.ok(elapsed >= HANG_TIMEOUT_MS - 50, `answered after ${elapsed} ms`);
    const pid = await readPid(pidFile);
    assert.ok(await waitForDeath(pid), `hang.py (${pid}) still runs`);
  });

  test('a script that ignores SIGTERM is SIGKILLed after the grace period, with its whole group', async () => {
    const pidFile = path.join(scratch, 'stubborn.pid');
    const { responses } = await exchange(server.port, get(`/cgi-bin/stubborn.py?${pidFile}`), {
      timeoutMs: 10_000,
    });
    assert.equal(responses[0]!.status, 504);
    const [pid, grandchild] = await readPids(pidFile);
    assert.ok(pid !== undefined && grandchild !== undefined);
    assert.ok(await waitForDeath(grandchild), `the grandchild (${grandchild}) still runs`);
    assert.ok(await waitForDeath(pid), `stubborn.py (${pid}) still runs`);
  });

  test('a script that stalls after its head is killed and the connection is broken', async () => {
    const pidFile = path.join(scratch, 'stall.pid');
    const { raw, closed, timedOut } = await exchange(server.port, get(`/cgi-bin/stall.py?${pidFile}`), {
      waitForClose: true,
      timeoutMs: 10_000,
    });
    assert.equal(timedOut, false);
    assert.equal(closed, true);
    const text = raw.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /Transfer-Encoding: chunked\r\n/);
    assert.match(text, /the beginning of a body that never ends/);
    // No last-chunk: the client can tell the body is incomplete.
    assert.ok(!text.endsWith('0\r\n\r\n'));
    const pid = await readPid(pidFile);
    assert.ok(await waitForDeath(pid), `stall.py (${pid}) still runs`);
  });
});

describe('findCgiScript', () => {
  const findLog = new ErrorLog();
  let root: string;
  let outside: string;
  const base = (): CgiOptions => ({
    root,
    cgiDir: 'cgi-bin',
    interpreters: { '.py': 'python3' },
    timeoutMs: NORMAL_TIMEOUT_MS,
    serverSoftware: 'docroot/test',
    logError: findLog.record,
  });
  after(() => findLog.check());
  before(async () => {
    const scratch = realpathSync(await mkdtemp(path.join(tmpdir(), 'docroot-cgi-find-')));
    root = path.join(scratch, 'root');
    outside = path.join(scratch, 'outside');
    await mkdir(path.join(root, 'cgi-bin', 'sub'), { recursive: true });
    await mkdir(path.join(root, 'pages', '.hidden'), { recursive: true });
    await mkdir(outside);
    await writeFile(path.join(root, 'cgi-bin', 'run'), '#!/bin/sh\necho "Content-Type: text/plain"\necho\n');
    chmodSync(path.join(root, 'cgi-bin', 'run'), 0o755);
    await writeFile(path.join(root, 'cgi-bin', 'plain.txt'), 'not executable');
    await writeFile(path.join(root, 'cgi-bin', 'sub', 'tool.py'), 'print()');
    await writeFile(path.join(root, 'pages', 'app.py'), 'print()');
    await writeFile(path.join(root, 'pages', 'index.html'), '<p>');
    await writeFile(path.join(root, 'pages', '.hidden', 'x.py'), 'print()');
    await writeFile(path.join(outside, 'evil.py'), 'print()');
    await symlink(path.join(outside, 'evil.py'), path.join(root, 'pages', 'escape.py'));
    await symlink(path.join(root, 'pages', 'app.py'), path.join(root, 'pages', 'alias.py'));
  });
  after(async () => {
    await rm(path.dirname(root), { recursive: true, force: true });
  });

  const find = (urlPath: string, options: Partial<CgiOptions> = {}) => {
    const decoded = decodeRequestPath(urlPath);
    assert.equal(decoded.kind, 'ok');
    if (decoded.kind !== 'ok') throw new Error('bad path');
    return findCgiScript(decoded.segments, { ...base(), ...options }, decoded.trailingSlash);
  };

  const cases: Array<{
    url: string;
    expected:
      | (Partial<Record<'scriptRel' | 'scriptName' | 'pathInfo', string>> & { interpreter?: string | null })
      | null;
    options?: Partial<CgiOptions>;
  }> = [
    {
      url: '/cgi-bin/run',
      expected: { scriptRel: 'cgi-bin/run', scriptName: '/cgi-bin/run', pathInfo: '', interpreter: null },
    },
    { url: '/cgi-bin/run/a/b%20c', expected: { scriptName: '/cgi-bin/run', pathInfo: '/a/b c' } },
    { url: '/cgi-bin/run/a/', expected: { pathInfo: '/a/' } },
    {
      url: '/cgi-bin/sub/tool.py/x',
      expected: { scriptRel: 'cgi-bin/sub/tool.py', pathInfo: '/x', interpreter: 'python3' },
    },
    // Not executable, but in the CGI folder: still the script (it then fails to start) so its source is never served.
    { url: '/cgi-bin/plain.txt', expected: { scriptRel: 'cgi-bin/plain.txt', interpreter: null } },
    { url: '/cgi-bin/run', options: { cgiDir: null }, expected: null },
    { url: '/cgi-bin/', expected: null },
    { url: '/cgi-bin/missing', expected: null },
    {
      url: '/pages/app.py/info',
      expected: {
        scriptRel: 'pages/app.py',
        scriptName: '/pages/app.py',
        pathInfo: '/info',
        interpreter: 'python3',
      },
    },
    { url: '/pages/alias.py', expected: { scriptRel: 'pages/app.py', scriptName: '/pages/alias.py' } },
    { url: '/pages/index.html', expected: null },
    { url: '/pages/app.py', options: { interpreters: {} }, expected: null },
    { url: '/pages/escape.py', expected: null },
    { url: '/pages/.hidden/x.py', expected: null },
    {
      url: '/pages/.hidden/x.py',
      options: { dotfiles: true },
      expected: { scriptRel: 'pages/.hidden/x.py' },
    },
    { url: '/', expected: null },
  ];
  for (const { url, expected, options } of cases) {
    test(`${url}${options ? ` with ${JSON.stringify(options)}` : ''} → ${expected === null ? 'not CGI' : 'script'}`, async () => {
      const script = await find(url, options);
      if (expected === null) {
        assert.equal(script, null);
        return;
      }
      assert.ok(script !== null);
      if (expected.scriptRel !== undefined)
        assert.equal(script.scriptPath, path.join(root, expected.scriptRel));
      if (expected.scriptName !== undefined) assert.equal(script.scriptName, expected.scriptName);
      if (expected.pathInfo !== undefined) assert.equal(script.pathInfo, expected.pathInfo);
      if (expected.interpreter !== undefined) assert.equal(script.interpreter, expected.interpreter);
    });
  }

  test('a non-executable file in the CGI folder answers 502, not its source', async () => {
    findLog.expect(/^cgi: \/cgi-bin\/plain\.txt: Error: spawn .*plain\.txt EACCES \(EACCES\)$/);
    const script = await find('/cgi-bin/plain.txt');
    assert.ok(script !== null);
    const logged: unknown[] = [];
    const response = await runCgiScript(getRequest('/cgi-bin/plain.txt'), script, {
      ...base(),
      logError: (error) => logged.push(error),
    });
    assert.equal(response.status, 502);
    assert.equal(response.body?.kind === 'bytes' ? String(response.body.data) : '', GENERIC_502);
    assert.deepEqual(logged, ['the script could not be started: it is not executable (permission denied)']);
  });
});
