#!/usr/bin/env node
// Access-control figures for SECURITY.md (issue 17): `npm run build && node bench/auth.js`.
// Starts docroot (from dist/) on 127.0.0.1 and measures, with bcrypt cost 10 as `htpasswd -B` makes:
//  1. how many guesses one address gets checked per minute with the default --auth-rate;
//  2. the latency of a public file while 50 bcrypt guessers run (rate limit off);
//  3. median answer time for a wrong password of a real user vs an unknown user (rate limit off);
//  4. how long the event loop stalls on an 11.5 KB password against a $6$ hash.
// Stops by itself; only loopback is used. Figures vary with the machine's load (it is shared).
import { performance } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import { createServer } from '../dist/server.js';

const FIXTURE_ROOT = new URL('../test/fixtures/root/', import.meta.url).pathname;
const BCRYPT_COST = 10;

async function request(port, path, headers = {}) {
  const started = performance.now();
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

const basic = (user, password) => ({
  Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

async function start(options) {
  const server = createServer({
    root: FIXTURE_ROOT,
    port: 0,
    host: '127.0.0.1',
    logError: () => {},
    ...options,
  });
  const { port } = await server.listen();
  return { server, port };
}

const hash = bcrypt.hashSync('right-password', BCRYPT_COST);
const sha512 =
  '$6$saltsalt$gzY3OAolfMFSB9Ld7iMdOQlViFqO3IOPeU0zkHsD.58tcMxRAFD0Qjfi2sjus3i.8aqWarEvFPREqzp18Jm291';
const auth = [
  { user: 'admin', password: hash, pathPrefix: '/docs', access: 'rw' },
  { user: 'crypt', password: sha512, pathPrefix: '/images', access: 'rw' },
  { pathPrefix: '/', access: 'ro' },
];

// 1. The default limit.
{
  const { server, port } = await start({ auth });
  const statuses = [];
  const began = performance.now();
  for (let i = 0; i < 200; i++)
    statuses.push((await request(port, '/docs/x', basic('admin', `guess${i}`))).status);
  const seconds = (performance.now() - began) / 1000;
  const checked = statuses.filter((s) => s === 401).length;
  console.log(
    `1. default --auth-rate: 200 guesses in ${seconds.toFixed(1)} s: ${checked} checked (401), ${statuses.filter((s) => s === 429).length} refused (429)`,
  );
  await server.close();
}

// 2. A public file while 50 bcrypt guessers run.
{
  const { server, port } = await start({ auth, authRate: false });
  let running = true;
  const guessers = Array.from({ length: 50 }, async (_, i) => {
    let n = 0;
    while (running) await request(port, '/docs/x', basic('admin', `g${i}-${n++}`));
  });
  const latencies = [];
  const until = performance.now() + 5000;
  while (performance.now() < until) latencies.push((await request(port, '/text.txt')).ms);
  running = false;
  await Promise.all(guessers);
  console.log(
    `2. public file during 50 bcrypt guessers: ${latencies.length} requests, median ${median(latencies).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
  );
  await server.close();
}

// 3. Known vs unknown user.
{
  const { server, port } = await start({ auth, authRate: false });
  const known = [];
  const unknown = [];
  for (let i = 0; i < 40; i++) {
    known.push((await request(port, '/docs/x', basic('admin', `wrong${i}`))).ms);
    unknown.push((await request(port, '/docs/x', basic(`nobody${i}`, `wrong${i}`))).ms);
  }
  const k = median(known);
  const u = median(unknown);
  console.log(
    `3. wrong password, median of 40: real user ${k.toFixed(1)} ms, unknown user ${u.toFixed(1)} ms (${(((u - k) / k) * 100).toFixed(1)} %)`,
  );
  await server.close();
}

// 4. A huge password against $6$.
{
  const { server, port } = await start({ auth, authRate: false });
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 5);
    last = now;
  }, 5);
  const huge = await request(port, '/images/x', basic('crypt', 'x'.repeat(11_500)));
  const capped = await request(port, '/images/x', basic('crypt', 'x'.repeat(1024)));
  clearInterval(timer);
  console.log(
    `4. $6$: 11.5 KB password → ${huge.status} in ${huge.ms.toFixed(1)} ms; 1 KiB password → ${capped.status} in ${capped.ms.toFixed(1)} ms; worst event-loop stall ${worst.toFixed(1)} ms`,
  );
  await server.close();
}
