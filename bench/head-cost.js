#!/usr/bin/env node
// What docroot's own JavaScript costs per hot request, without sockets: parse the head, build the
// request as the wire does, and call the server's handler, in a loop. Compares a bare GET of a 1 KB
// .css, the same GET with Chrome's headers, and the browser's revalidation (If-None-Match). A busy
// machine moves this much less than a wrk run, so it shows what a parser or hot-path change is worth.
//   node bench/head-cost.js [--dist <dir>] (env: CALLS=300000). Run `npm run build` first.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FIXTURE_ROOT, option, REPO_DIR } from './lib/args.js';
import { BROWSER_HEADERS } from './lib/browser.js';
import { makeFixtures } from './lib/fixtures.js';
import { median } from './lib/proc.js';

const dist = resolve(option('--dist', join(REPO_DIR, 'dist')));
const CALLS = Number(process.env.CALLS ?? 300_000);
const root = FIXTURE_ROOT;
mkdirSync(root, { recursive: true });
makeFixtures(root);

const { createServer } = await import(pathToFileURL(join(dist, 'server.js')).href);
const { parseRequestHead } = await import(pathToFileURL(join(dist, 'wire', 'parser.js')).href);
const { DEFAULT_LIMITS } = await import(pathToFileURL(join(dist, 'wire', 'limits.js')).href);
// Entries stay fresh for the whole run, so every call takes the hot path (no disk re-check).
const server = createServer({ root, host: '127.0.0.1', port: 0, cache: { revalidateMs: 3_600_000 } });
const handler = server.handler;

// The request exactly as the wire builds it (same object shape, so the handler sees what it sees in production).
const { requestOf } = await import(pathToFileURL(join(dist, 'wire', 'exchange.js')).href);
const connection = {
  remoteAddress: '127.0.0.1',
  remotePort: 40000,
  localAddress: '127.0.0.1',
  localPort: 8080,
};
const request = (head) => requestOf(head, null, connection, false);

const headOf = (lines) =>
  Buffer.from(
    `GET /b1k.css HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`,
    'latin1',
  );
async function answer(bytes) {
  const parsed = parseRequestHead(bytes, DEFAULT_LIMITS);
  if (parsed.kind !== 'complete') throw new Error(`head: ${parsed.kind}`);
  return handler(request(parsed.head));
}
// Warm the cache and the compressed variant, and find the variant's ETag.
await answer(headOf(BROWSER_HEADERS));
const warm = await answer(headOf(BROWSER_HEADERS));
const etag = warm.headers.ETag ?? warm.headers.etag;
const cases = {
  '1k': headOf([], '/1k.bin'),
  'css-1k': headOf([]),
  'browser-1k': headOf(BROWSER_HEADERS),
  'browser-304': headOf([...BROWSER_HEADERS, `If-None-Match: ${etag}`]),
};
// ONLY=browser-1k runs one case (for a profile of just that one).
if (process.env.ONLY)
  for (const name of Object.keys(cases)) if (name !== process.env.ONLY) delete cases[name];
for (const [name, bytes] of Object.entries(cases)) {
  const r = await answer(bytes);
  if (r instanceof Promise || (name === 'browser-304' ? r.status !== 304 : r.status !== 200))
    throw new Error(`${name}: not answered from the hot path (${r.status ?? 'promise'})`);
}
const perCall = {};
for (let round = 0; round < 5; round++) {
  for (const [name, bytes] of Object.entries(cases)) {
    let sink = 0;
    const started = process.cpuUsage();
    for (let n = 0; n < CALLS; n++) {
      const parsed = parseRequestHead(bytes, DEFAULT_LIMITS);
      const answer = handler(request(parsed.head));
      if (answer instanceof Promise) throw new Error(`${name}: left the hot path`);
      sink += answer.status;
    }
    if (sink === 0) throw new Error('no answers');
    const used = process.cpuUsage(started);
    (perCall[name] ??= []).push(((used.user + used.system) * 1000) / CALLS);
  }
}
for (const [name, values] of Object.entries(perCall)) {
  console.log(`${name.padEnd(12)} ${median(values).toFixed(0)} ns of CPU per request (parse + handler)`);
}
process.exit(0);
