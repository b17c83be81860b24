/**
 * --watch: the reload script is added to HTML responses only, with a body length and ETag of its own; the
 * Server-Sent Events endpoint says `change` after a file under the root is edited, and an idle stream
 * outlives the wire's keep-alive and body deadlines.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { injectIntoHtml, LIVE_RELOAD_PATH, LIVE_RELOAD_SCRIPT } from '../src/handlers/livereload.js';
import { exchange, get } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';
import { nextEvent, waitFor } from './helpers/wait.js';

const PAGE = '<!doctype html>\n<html><head><title>t</title></head><body><h1>Hello</h1></body></html>\n';
/** Larger than the hot cache's 256 KiB file limit, so it is served from disk. */
const BIG_PAGE = `<!doctype html><p>${'x'.repeat(300 * 1024)}</p>\n`;

function makeSite(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'docroot-watch-'));
  writeFileSync(path.join(root, 'index.html'), PAGE);
  writeFileSync(path.join(root, 'fragment.html'), '<p>no body element</p>\n');
  writeFileSync(path.join(root, 'big.html'), BIG_PAGE);
  writeFileSync(path.join(root, 'style.css'), `body { color: red; }\n${'/* padding */\n'.repeat(200)}`);
  writeFileSync(path.join(root, 'data.json'), '{"a":1}\n');
  writeFileSync(path.join(root, 'notes.txt'), 'plain text\n');
  mkdirSync(path.join(root, 'sub'));
  writeFileSync(path.join(root, 'sub', 'page.html'), PAGE);
  return root;
}

/** Opens the event stream on a raw socket and collects what arrives. */
async function openEventStream(port: number): Promise<{ text(): string; socket: net.Socket }> {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  socket.write(get(LIVE_RELOAD_PATH));
  await waitFor(() => received.includes('docroot live reload'), 'the stream to open');
  return { text: () => received, socket };
}

/** Sends `request` and resolves with what came back once the server has closed the connection. */
async function closedByServer(port: number, request: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  socket.on('error', () => {});
  socket.write(request);
  await nextEvent(socket, 'close', 'the server to close a connection');
  return received;
}

describe('injectIntoHtml', () => {
  test('goes before the last </body>, in any letter case', () => {
    const out = injectIntoHtml(Buffer.from('<body>a</body><!-- </body> --></BODY>')).toString();
    assert.equal(out, `<body>a</body><!-- </body> -->${LIVE_RELOAD_SCRIPT}</BODY>`);
  });
  test('is appended when there is no </body>', () => {
    assert.equal(injectIntoHtml(Buffer.from('<p>x')).toString(), `<p>x${LIVE_RELOAD_SCRIPT}`);
  });
});

describe('--watch: the script in HTML responses', () => {
  let root: string;
  let docroot: RunningDocroot;
  before(async () => {
    root = makeSite();
    docroot = await startDocroot({ root, watch: true });
  });
  after(async () => {
    await docroot.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('an HTML page gets the script before </body>, with its own length and ETag', async () => {
    const { responses } = await exchange(docroot.port, get('/'));
    const response = responses[0]!;
    assert.equal(response.status, 200);
    const body = response.body.toString();
    assert.equal(body, PAGE.replace('</body>', `${LIVE_RELOAD_SCRIPT}</body>`));
    assert.equal(response.headers['content-length'], String(response.body.length));
    assert.match(response.headers.etag ?? '', /^"[^"]+-livereload"$/);
    assert.equal(response.headers['cache-control'], 'no-cache');
    assert.equal(response.headers['last-modified'], undefined);
    assert.equal(response.headers['accept-ranges'], undefined);
  });

  test('HEAD announces the same length as GET', async () => {
    const getAnswer = (await exchange(docroot.port, get('/sub/page.html'))).responses[0]!;
    const headAnswer = (
      await exchange(docroot.port, get('/sub/page.html', '', 'HEAD'), { headResponses: [0] })
    ).responses[0]!;
    assert.equal(headAnswer.headers['content-length'], getAnswer.headers['content-length']);
    assert.equal(headAnswer.headers.etag, getAnswer.headers.etag);
  });

  test('a page without </body> gets the script at the end', async () => {
    const { responses } = await exchange(docroot.port, get('/fragment.html'));
    assert.equal(responses[0]!.body.toString(), `<p>no body element</p>\n${LIVE_RELOAD_SCRIPT}`);
  });

  test('a large page read from disk gets the script after it, with the right length', async () => {
    const { responses } = await exchange(docroot.port, get('/big.html'), { timeoutMs: 10_000 });
    const response = responses[0]!;
    assert.equal(response.body.toString(), `${BIG_PAGE}${LIVE_RELOAD_SCRIPT}`);
    assert.equal(response.headers['content-length'], String(response.body.length));
  });

  test('a browser asking for gzip still gets the whole page, uncompressed, with the script', async () => {
    const { responses } = await exchange(docroot.port, get('/big.html', 'Accept-Encoding: gzip, br\r\n'), {
      timeoutMs: 10_000,
    });
    const response = responses[0]!;
    assert.equal(response.headers['content-encoding'], undefined);
    assert.ok(response.body.toString().endsWith(LIVE_RELOAD_SCRIPT));
  });

  test('a range request for a page gets the whole injected page', async () => {
    const { responses } = await exchange(docroot.port, get('/', 'Range: bytes=0-9\r\n'));
    assert.equal(responses[0]!.status, 200);
    assert.ok(responses[0]!.body.toString().includes(LIVE_RELOAD_SCRIPT));
  });

  test('304 only for the injected ETag; the plain page ETag gets the injected page again', async () => {
    const first = (await exchange(docroot.port, get('/'))).responses[0]!;
    const injectedTag = first.headers.etag!;
    const again = (await exchange(docroot.port, get('/', `If-None-Match: ${injectedTag}\r\n`))).responses[0]!;
    assert.equal(again.status, 304);
    assert.equal(again.headers.etag, injectedTag);
    const plainTag = injectedTag.replace('-livereload"', '"');
    const plain = (await exchange(docroot.port, get('/', `If-None-Match: ${plainTag}\r\n`))).responses[0]!;
    assert.equal(plain.status, 200);
    assert.ok(plain.body.toString().includes(LIVE_RELOAD_SCRIPT));
    const since = (
      await exchange(docroot.port, get('/', 'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n'))
    ).responses[0]!;
    assert.equal(since.status, 200);
  });

  test('an HTML listing gets the script too', async () => {
    const { responses } = await exchange(docroot.port, get('/sub/', 'Accept: text/html\r\n'));
    assert.equal(responses[0]!.status, 200);
    assert.ok(responses[0]!.body.toString().includes(LIVE_RELOAD_SCRIPT));
  });

  for (const [file, type] of [
    ['style.css', 'text/css'],
    ['data.json', 'application/json'],
    ['notes.txt', 'text/plain'],
  ] as const) {
    test(`${type} is untouched`, async () => {
      const { responses } = await exchange(docroot.port, get(`/${file}`, 'Accept-Encoding: gzip\r\n'));
      const response = responses[0]!;
      assert.ok(response.headers['content-type']?.startsWith(type));
      const body =
        response.headers['content-encoding'] === 'gzip' ? gunzipSync(response.body) : response.body;
      assert.ok(!body.toString().includes('EventSource'));
      assert.doesNotMatch(response.headers.etag ?? '', /livereload/);
    });
  }

  test('a stylesheet revalidated with its ETag still gets its 304 (a 304 names no type)', async () => {
    const first = (await exchange(docroot.port, get('/style.css'))).responses[0]!;
    const etag = first.headers.etag!;
    const again = (await exchange(docroot.port, get('/style.css', `If-None-Match: ${etag}\r\n`)))
      .responses[0]!;
    assert.equal(again.status, 304);
    assert.equal(again.headers.etag, etag);
    assert.equal(again.body.length, 0);
  });

  test('a page cached from a run without --watch gets the injected page, not a 304', async () => {
    const plainTag = (await exchange(docroot.port, get('/index.html'))).responses[0]!.headers.etag!.replace(
      '-livereload"',
      '"',
    );
    const answer = (await exchange(docroot.port, get('/index.html', `If-None-Match: ${plainTag}\r\n`)))
      .responses[0]!;
    assert.equal(answer.status, 200);
    assert.ok(answer.body.toString().includes(LIVE_RELOAD_SCRIPT));
  });

  test('an edited page is served fresh at once (no one-second cache while watching)', async () => {
    writeFileSync(path.join(root, 'fresh.html'), '<p>one</p>');
    assert.match((await exchange(docroot.port, get('/fresh.html'))).responses[0]!.body.toString(), /one/);
    writeFileSync(path.join(root, 'fresh.html'), '<p>two</p>');
    assert.match((await exchange(docroot.port, get('/fresh.html'))).responses[0]!.body.toString(), /two/);
    writeFileSync(path.join(root, 'sub', 'new.txt'), 'x');
    const listing = (await exchange(docroot.port, get('/sub/?format=text'))).responses[0]!;
    assert.match(listing.body.toString(), /^new\.txt$/m);
  });

  test('a text listing is untouched', async () => {
    const { responses } = await exchange(docroot.port, get('/sub/?format=text'));
    assert.doesNotMatch(responses[0]!.body.toString(), /EventSource/);
    assert.match(responses[0]!.body.toString(), /^page\.html$/m);
  });
});

describe('without --watch', () => {
  let docroot: RunningDocroot;
  let root: string;
  before(async () => {
    root = makeSite();
    docroot = await startDocroot({ root });
  });
  after(async () => {
    await docroot.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('HTML is served as it is on disk and the event path does not exist', async () => {
    const page = (await exchange(docroot.port, get('/'))).responses[0]!;
    assert.equal(page.body.toString(), PAGE);
    const events = (await exchange(docroot.port, get(LIVE_RELOAD_PATH))).responses[0]!;
    assert.equal(events.status, 404);
  });
});

describe('--watch: the event stream', () => {
  let root: string;
  let docroot: RunningDocroot;
  before(async () => {
    root = makeSite();
    // Short wire deadlines: the stream must outlive them while it is idle.
    docroot = await startDocroot({
      root,
      watch: true,
      limits: { keepAliveTimeoutMs: 200, bodyTimeoutMs: 300, headersTimeoutMs: 300 },
    });
  });
  after(async () => {
    await docroot.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('is text/event-stream, chunked, not cached', async () => {
    const stream = await openEventStream(docroot.port);
    const head = `${stream.text().split('\r\n\r\n')[0]!}\r\n`;
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, /\r\nContent-Type: text\/event-stream; charset=utf-8\r\n/);
    assert.match(head, /\r\nCache-Control: no-cache\r\n/);
    assert.match(head, /\r\nTransfer-Encoding: chunked\r\n/);
    stream.socket.destroy();
  });

  test('sends a change event after a file is edited, even after idling past the deadlines', async () => {
    const stream = await openEventStream(docroot.port);
    // The stream has idled past the keep-alive and head deadlines too once the wire has enforced them on
    // connections opened after it.
    const [idle, partial] = await Promise.all([
      closedByServer(docroot.port, get('/notes.txt')),
      closedByServer(docroot.port, 'GET /notes.txt HTTP/1.1\r\n'),
    ]);
    assert.match(idle, /^HTTP\/1\.1 200 OK/);
    assert.match(partial, /^HTTP\/1\.1 408 /);
    assert.ok(!stream.socket.destroyed && stream.socket.readyState === 'open', 'still open after idling');
    writeFileSync(path.join(root, 'sub', 'page.html'), `${PAGE}<!-- edited -->\n`);
    await waitFor(() => stream.text().includes('event: change'), 'a change event');
    assert.match(stream.text(), /event: change\r?\ndata: \[[^\]]*"\/sub\/page\.html"[^\]]*\]\n\n/);
    stream.socket.destroy();
  });

  test('hidden files do not trigger a reload', async () => {
    const stream = await openEventStream(docroot.port);
    writeFileSync(path.join(root, '.hidden'), 'x');
    // The watcher reports in order, so once the visible edit made after it arrives, the hidden one had
    // its chance: it must have been neither sent on its own nor listed with the visible one.
    writeFileSync(path.join(root, 'notes.txt'), 'edited after the hidden file\n');
    await waitFor(() => stream.text().includes('event: change'), 'a change event');
    const events = stream.text().match(/event: change\r?\ndata: .*\n/g) ?? [];
    assert.deepEqual(events.length, 1, stream.text());
    assert.match(events[0]!, /"\/notes\.txt"/);
    assert.doesNotMatch(events[0]!, /hidden/);
    stream.socket.destroy();
  });

  test('other methods are 405 with Allow', async () => {
    const { responses } = await exchange(
      docroot.port,
      get(LIVE_RELOAD_PATH, 'Content-Length: 0\r\n', 'POST'),
    );
    assert.equal(responses[0]!.status, 405);
    assert.equal(responses[0]!.headers.allow, 'GET, HEAD');
  });
});

test('graceful close ends open event streams at once', async () => {
  const root = makeSite();
  const docroot = await startDocroot({ root, watch: true });
  try {
    const stream = await openEventStream(docroot.port);
    const ended = new Promise<void>((resolve) => stream.socket.once('close', () => resolve()));
    const started = Date.now();
    await docroot.server.close(5000);
    await ended;
    assert.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms`);
    assert.ok(stream.text().endsWith('0\r\n\r\n'), 'the chunked body was ended properly');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
