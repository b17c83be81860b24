/**
 * Issue 12: the fast path for real browsers. A GET of a hot file with the headers a browser sends
 * (Accept-Encoding with q-values, Accept, User-Agent, cookies, Sec-Fetch-*) is answered from the cached
 * variants, and a revalidation (If-None-Match with the variant's ETag, or If-Modified-Since) gets the 304.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { createFileHandler } from '../src/handlers/static.js';
import { createServer, type DocrootServer } from '../src/server.js';
import type { HttpRequest, ResponseDescription } from '../src/wire/message.js';
import { exchange, type RawResponse } from './helpers/raw-client.js';

const CHROME_HEADERS: Readonly<Record<string, string>> = {
  'User-Agent':
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  Accept: 'text/css,*/*;q=0.1',
  'Accept-Encoding': 'gzip, deflate, br, zstd',
  'Accept-Language': 'en-GB,en;q=0.9,de;q=0.8',
  Cookie: 'session=abc123; theme=dark',
  'Sec-Fetch-Dest': 'style',
  'Sec-Fetch-Mode': 'no-cors',
  'Sec-Fetch-Site': 'same-origin',
  'Sec-Ch-Ua': '"Chromium";v="131", "Not_A Brand";v="24"',
  Referer: 'http://localhost/',
};

const CSS = Buffer.from(`${'body { margin: 0; padding: 0; color: #222; }\n'.repeat(30)}`.slice(0, 1024));
const JS = Buffer.from(
  Array.from({ length: 400 }, (_, i) => `export function f${i}(x) { return x * ${i} + 1; }\n`)
    .join('')
    .slice(0, 20 * 1024),
);

let dir: string;
let server: DocrootServer;
let port: number;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'docroot-fast-'));
  writeFileSync(path.join(dir, 'site.css'), CSS);
  writeFileSync(path.join(dir, 'app.js'), JS);
  server = createServer({ root: dir, port: 0, host: '127.0.0.1', logError: () => {} });
  port = (await server.listen()).port;
});
after(async () => {
  await server.close(1000);
  rmSync(dir, { recursive: true, force: true });
});

function browserGet(target: string, extra: Record<string, string> = {}): string {
  const fields = { Host: `localhost:${port}`, ...CHROME_HEADERS, ...extra };
  return `GET ${target} HTTP/1.1\r\n${Object.entries(fields)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;
}

async function ask(target: string, extra: Record<string, string> = {}): Promise<RawResponse> {
  const { responses } = await exchange(port, browserGet(target, extra));
  assert.equal(responses.length, 1);
  return responses[0]!;
}

function decoded(response: RawResponse): Buffer {
  switch (response.headers['content-encoding']) {
    case 'br':
      return brotliDecompressSync(response.body);
    case 'gzip':
      return gunzipSync(response.body);
    case undefined:
      return response.body;
    default:
      throw new Error(`unexpected coding ${response.headers['content-encoding']}`);
  }
}

describe('browser requests for hot files over sockets', () => {
  test('the prepared compressed variant, with Vary and the coding in the ETag', async () => {
    for (const [target, bytes] of [
      ['/site.css', CSS],
      ['/app.js', JS],
    ] as const) {
      const first = await ask(target);
      // The second request finds the file and its compressed body in the cache.
      const second = await ask(target);
      for (const response of [first, second]) {
        assert.equal(response.status, 200);
        assert.equal(response.headers['content-encoding'], 'br', target);
        assert.equal(response.headers.vary, 'Accept-Encoding');
        assert.match(response.headers.etag ?? '', /-br"$/);
        assert.equal(response.headers['content-length'], String(response.body.length));
        assert.deepEqual(decoded(response), bytes);
      }
      assert.equal(second.headers.etag, first.headers.etag);
    }
  });

  test('q-values choose the variant; identity when every coding is refused', async () => {
    await ask('/app.js', { 'Accept-Encoding': 'gzip;q=1.0, br;q=0.5' });
    const gzip = await ask('/app.js', { 'Accept-Encoding': 'gzip;q=1.0, br;q=0.5' });
    assert.equal(gzip.headers['content-encoding'], 'gzip');
    assert.match(gzip.headers.etag ?? '', /-gzip"$/);
    assert.deepEqual(decoded(gzip), JS);
    const identity = await ask('/app.js', { 'Accept-Encoding': 'br;q=0, gzip;q=0, zstd;q=0' });
    assert.equal(identity.headers['content-encoding'], undefined);
    assert.equal(identity.headers.vary, 'Accept-Encoding');
    assert.match(identity.headers.etag ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.deepEqual(identity.body, JS);
  });

  test('revalidation: If-None-Match with the variant ETag, and If-Modified-Since, get the 304', async () => {
    const fresh = await ask('/site.css');
    const etag = fresh.headers.etag!;
    const byTag = await ask('/site.css', { 'If-None-Match': etag });
    assert.equal(byTag.status, 304);
    assert.equal(byTag.headers.etag, etag);
    assert.equal(byTag.headers.vary, 'Accept-Encoding');
    // RFC 9110 §15.4.5: the stored br response keeps its own Content-Encoding and Content-Type.
    assert.equal(byTag.headers['content-encoding'], undefined);
    assert.equal(byTag.headers['content-type'], undefined);
    assert.equal(byTag.headers['content-length'], undefined);
    assert.equal(byTag.body.length, 0);
    const byDate = await ask('/site.css', { 'If-Modified-Since': fresh.headers['last-modified']! });
    assert.equal(byDate.status, 304);
    assert.equal(byDate.headers.etag, etag);
    // Another variant's tag does not match this one (RFC 9110 §8.8.3): the full answer.
    const otherTag = await ask('/site.css', { 'If-None-Match': etag.replace('-br"', '-gzip"') });
    assert.equal(otherTag.status, 200);
    assert.deepEqual(decoded(otherTag), CSS);
  });
});

describe('the fast path is taken', () => {
  function browserRequest(urlPath: string, extra: Record<string, string> = {}): HttpRequest {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries({ ...CHROME_HEADERS, ...extra }))
      headers[name.toLowerCase()] = value;
    return {
      method: 'GET',
      target: urlPath,
      path: urlPath,
      query: '',
      version: '1.1',
      headers,
      rawHeaders: Object.entries(headers),
      body: null,
      contentLength: null,
      authority: 'localhost',
      remoteAddress: '127.0.0.1',
      remotePort: 1,
      localAddress: '127.0.0.1',
      localPort: 2,
      secure: false,
    };
  }

  test('a hot browser GET and its revalidation are answered synchronously with frozen fields', async () => {
    const handler = createFileHandler({ root: dir, logError: () => {} });
    // Cold: the file is read and compressed.
    const cold = await handler(browserRequest('/app.js'));
    assert.equal(cold.status, 200);
    const hot = handler(browserRequest('/app.js'));
    assert.ok(!(hot instanceof Promise), 'a hot browser GET answers without a promise');
    const answer = hot as ResponseDescription;
    assert.equal(answer.status, 200);
    assert.ok(Object.isFrozen(answer.headers));
    assert.equal(answer.headers?.['Content-Encoding'], 'br');
    // The same frozen fields object every time: the wire serialises it once.
    assert.equal((handler(browserRequest('/app.js')) as ResponseDescription).headers, answer.headers);
    const revalidation = handler(
      browserRequest('/app.js', { 'If-None-Match': String(answer.headers?.ETag) }),
    );
    assert.ok(!(revalidation instanceof Promise));
    assert.equal((revalidation as ResponseDescription).status, 304);
  });
});
