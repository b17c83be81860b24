/** Site options: Cache-Control rules, CORS, extra headers, SPA fallback, custom 404 page; big ranged files. */
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exchange, get } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

describe('site options', () => {
  let dir: string;
  let docroot: RunningDocroot;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'docroot-site-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>app</title><div id=app></div>');
    writeFileSync(path.join(dir, 'assets', 'app.3f9a1c.js'), 'console.log(1)');
    writeFileSync(path.join(dir, 'style.css'), 'body{}');
    writeFileSync(path.join(dir, 'missing.html'), '<!doctype html><h1>Nothing here</h1>');
    docroot = await startDocroot({
      root: dir,
      cacheControl: 'max-age=60',
      cacheControlRules: [{ pattern: '/assets/**', value: 'public, max-age=31536000, immutable' }],
      headers: { 'X-Frame-Options': 'DENY', 'X-Powered-By': 'curiosity' },
      cors: true,
      spa: true,
      notFoundPage: '/missing.html',
    });
  });
  after(async () => {
    await docroot.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('HTML gets no-cache, other files the default, matching paths their rule', async () => {
    const { responses } = await exchange(
      docroot.port,
      get('/index.html') + get('/style.css') + get('/assets/app.3f9a1c.js'),
      {
        responses: 3,
      },
    );
    assert.deepEqual(
      responses.map((r) => r.headers['cache-control']),
      ['no-cache', 'max-age=60', 'public, max-age=31536000, immutable'],
    );
  });

  test('--header fields and CORS reach every file response', async () => {
    const { responses } = await exchange(docroot.port, get('/style.css'));
    assert.equal(responses[0]?.headers['x-frame-options'], 'DENY');
    assert.equal(responses[0]?.headers['x-powered-by'], 'curiosity');
    assert.equal(responses[0]?.headers['access-control-allow-origin'], '*');
  });

  test('a CORS preflight is answered with the allowed methods and headers', async () => {
    const { responses } = await exchange(
      docroot.port,
      get(
        '/style.css',
        'Origin: http://other.test\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: x-custom\r\n',
        'OPTIONS',
      ),
    );
    const r = responses[0]!;
    assert.equal(r.status, 204);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers['access-control-allow-methods'], 'GET, HEAD, OPTIONS, PROPFIND');
    assert.equal(r.headers['access-control-allow-headers'], 'x-custom');
    assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS, PROPFIND');
  });

  test('--spa serves /index.html for unknown paths without an extension', async () => {
    const { responses } = await exchange(docroot.port, get('/users/42/profile'));
    assert.equal(responses[0]?.status, 200);
    assert.match(responses[0]?.body.toString() ?? '', /<title>app<\/title>/);
  });

  test('--404 serves the custom page with status 404 for unknown files', async () => {
    const { responses } = await exchange(docroot.port, get('/nothing.png'));
    assert.equal(responses[0]?.status, 404);
    assert.match(responses[0]?.body.toString() ?? '', /Nothing here/);
    assert.equal(responses[0]?.headers['content-type'], 'text/html; charset=utf-8');
  });
});

describe('a 1 GiB sparse file', () => {
  let dir: string;
  let docroot: RunningDocroot;
  const size = 1024 ** 3;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'docroot-sparse-'));
    const fd = openSync(path.join(dir, 'huge.bin'), 'w');
    closeSync(fd);
    const { truncateSync } = await import('node:fs');
    truncateSync(path.join(dir, 'huge.bin'), size);
    docroot = await startDocroot({ root: dir });
  });
  after(async () => {
    await docroot.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a 256 MiB range near its end streams with flat memory', async () => {
    const start = size - 256 * 1024 * 1024;
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const received = await new Promise<{ head: string; bytes: number }>((resolve, reject) => {
      const socket = net.connect(docroot.port, '127.0.0.1');
      let head = '';
      let bytes = 0;
      let inBody = false;
      socket.on('data', (chunk: Buffer) => {
        if (!inBody) {
          const text = chunk.toString('latin1');
          const end = text.indexOf('\r\n\r\n');
          head += text.slice(0, end === -1 ? undefined : end);
          if (end === -1) return;
          inBody = true;
          bytes += chunk.length - end - 4;
        } else {
          bytes += chunk.length;
        }
        peak = Math.max(peak, process.memoryUsage().rss);
      });
      socket.on('end', () => resolve({ head, bytes }));
      socket.on('error', reject);
      socket.write(
        `GET /huge.bin HTTP/1.1\r\nHost: localhost\r\nRange: bytes=${start}-\r\nConnection: close\r\n\r\n`,
      );
    });
    assert.match(received.head, /^HTTP\/1.1 206 /);
    assert.match(received.head, new RegExp(`Content-Range: bytes ${start}-${size - 1}/${size}`));
    assert.equal(received.bytes, size - start);
    const growth = peak - before;
    assert.ok(
      growth < 64 * 1024 * 1024,
      `memory grew by ${Math.round(growth / 1024 / 1024)} MiB while streaming 256 MiB`,
    );
  });
});
