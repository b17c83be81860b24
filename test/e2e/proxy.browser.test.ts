/**
 * The development proxy as a browser uses it: Chromium loads a page from docroot whose script calls
 * `/api` with fetch (a cookie set by the backend comes back on the next call) and opens a WebSocket
 * through docroot to the same backend (an http.Server with a `ws` server on it).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { WebSocketServer } from 'ws';
import { browserUnavailableReason, launchChromium } from '../helpers/browser.js';
import { type RunningDocroot, startDocroot } from '../helpers/servers.js';

const skip = browserUnavailableReason();

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>proxy test</title>
<pre id="out"></pre>
<script type="module">
const out = document.getElementById('out');
const first = await (await fetch('/api/hello?name=chromium')).json();
const second = await (await fetch('/api/hello?name=again')).json();
const ws = new WebSocket(\`ws://\${location.host}/ws/live\`);
const echoes = [];
await new Promise((resolve, reject) => {
  ws.onerror = () => reject(new Error('websocket failed'));
  ws.onopen = () => { for (let i = 0; i < 50; i++) ws.send('ping ' + i); };
  ws.onmessage = (event) => { echoes.push(event.data); if (echoes.length === 50) resolve(); };
});
ws.close();
out.textContent = JSON.stringify({ first, second, echoes: echoes.length, last: echoes.at(-1) });
document.title = 'done';
</script>
`;

describe('the proxy in headless Chromium', { skip: skip ?? false }, () => {
  let root: string;
  let backend: http.Server;
  let wss: WebSocketServer;
  let docroot: RunningDocroot;
  let browser: Browser;

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'docroot-proxy-'));
    writeFileSync(path.join(root, 'index.html'), PAGE);
    backend = http.createServer((req, res) => {
      const url = new URL(req.url!, 'http://backend');
      res.writeHead(200, { 'Content-Type': 'application/json', 'Set-Cookie': 'seen=1; Path=/' });
      res.end(
        JSON.stringify({
          hello: url.searchParams.get('name'),
          path: url.pathname,
          cookie: req.headers.cookie ?? null,
        }),
      );
    });
    wss = new WebSocketServer({ server: backend });
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo ${data}`)));
    backend.listen(0, '127.0.0.1');
    await once(backend, 'listening');
    const port = (backend.address() as net.AddressInfo).port;
    docroot = await startDocroot({
      root,
      proxy: {
        routes: [`/api=http://127.0.0.1:${port}/`, `/ws=http://127.0.0.1:${port}`],
        rewriteHeaders: true,
        log: () => {},
      },
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await docroot?.close();
    wss?.close();
    backend?.closeAllConnections();
    backend?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('fetch to /api and a WebSocket through docroot, from a page docroot served', async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${docroot.port}/`);
    await page.waitForFunction(() => document.title === 'done' || document.title === 'failed');
    const result = JSON.parse((await page.locator('#out').textContent()) ?? '{}');
    assert.deepEqual(result.first, { hello: 'chromium', path: '/hello', cookie: null });
    assert.deepEqual(result.second, { hello: 'again', path: '/hello', cookie: 'seen=1' });
    assert.equal(result.echoes, 50);
    assert.equal(result.last, 'echo ping 49');
    await page.close();
  });
});
