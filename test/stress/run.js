#!/usr/bin/env node
// `npm run stress`: the long versions of the many-client and fault tests, against docroot running in a
// child process on 127.0.0.1 (its own fd table, `--expose-gc` for heap figures). Every phase is bounded
// in count and time; the whole run takes a few minutes. Prints a summary; exits 1 if a check failed.
// Sizes: STRESS_SLOWLORIS (5000), STRESS_IDLE (10000), STRESS_REQUESTS (100000).

const { startChildServer, openSockets, openFileLimit, soak, waitUntil } = await import(
  '../../build/test/helpers/load.js'
);
const { exchange, get, parseResponses } = await import('../../build/test/helpers/raw-client.js');
const { FIXTURE_ROOT } = await import('../../build/test/helpers/servers.js');

const SLOWLORIS = Number(process.env.STRESS_SLOWLORIS ?? 5_000);
const IDLE = Number(process.env.STRESS_IDLE ?? 10_000);
const REQUESTS = Number(process.env.STRESS_REQUESTS ?? 100_000);
const summary = [];
let failed = false;

function check(ok, label) {
  if (!ok) failed = true;
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${label}`);
}

/** How many client sockets this process may open (the server is in a child with its own limit). */
function clientBudget(want) {
  const limit = openFileLimit();
  const n = Math.min(want, limit - 200);
  if (n < want)
    console.log(`  scaled down from ${want} to ${n} sockets: this process's soft fd limit is ${limit}`);
  return n;
}

async function timed(port, target) {
  const started = Date.now();
  const { responses, timedOut } = await exchange(port, get(target), { timeoutMs: 5_000 });
  return { status: timedOut ? 0 : (responses[0]?.status ?? 0), ms: Date.now() - started };
}

async function slowloris() {
  console.log(`\nslowloris: ${SLOWLORIS} sockets trickling a header byte each 500 ms`);
  const n = clientBudget(SLOWLORIS);
  const server = await startChildServer({ root: FIXTURE_ROOT, limits: { headersTimeoutMs: 15_000 } }, 65_536);
  try {
    const opened = Date.now();
    const sockets = await openSockets(server.port, n);
    const closed = new Set();
    const got408 = new Set();
    sockets.forEach((socket, i) => {
      socket.on('data', (chunk) => {
        if (chunk.toString('latin1', 0, 12) === 'HTTP/1.1 408') got408.add(i);
      });
      socket.on('close', () => closed.add(i));
    });
    const prefix = 'GET /text.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ';
    let step = 0;
    const trickle = () => {
      const byte = step < prefix.length ? prefix[step] : 'a';
      step++;
      for (const socket of sockets) if (!socket.destroyed) socket.write(byte);
    };
    trickle();
    const timer = setInterval(trickle, 500);
    const latencies = [];
    while (Date.now() - opened < 10_000) latencies.push(await timed(server.port, '/text.txt'));
    const stats = await server.stats();
    await waitUntil(() => closed.size === sockets.length, 20_000, 200);
    clearInterval(timer);
    for (const socket of sockets) socket.destroy();
    const worst = Math.max(...latencies.map((l) => l.ms));
    const answered = latencies.filter((l) => l.status === 200).length;
    check(
      sockets.length === n,
      `${sockets.length} slow sockets open at once (server held ${stats.connections})`,
    );
    check(
      answered === latencies.length,
      `a normal client got ${answered}/${latencies.length} answers meanwhile`,
    );
    check(worst < 5_000, `slowest normal answer ${worst} ms (bound 5000)`);
    check(got408.size === n, `${got408.size} slow sockets got 408 and were closed after the head timeout`);
    summary.push(['slowloris sockets held', sockets.length], ['normal answers while held', answered]);
  } finally {
    await server.stop();
  }
}

async function idleKeepAlive() {
  console.log(`\nidle keep-alive: ${IDLE} connections`);
  const n = clientBudget(IDLE);
  const server = await startChildServer(
    { root: FIXTURE_ROOT, limits: { keepAliveTimeoutMs: 120_000 } },
    65_536,
  );
  try {
    const sockets = await openSockets(server.port, n, 500);
    const data = sockets.map(() => []);
    sockets.forEach((socket, i) => {
      socket.on('data', (chunk) => data[i].push(chunk));
    });
    const count = (i) => parseResponses(Buffer.concat(data[i])).responses.length;
    for (const socket of sockets) socket.write(get('/text.txt'));
    await waitUntil(() => sockets.every((_, i) => count(i) >= 1), 60_000, 200);
    const stats = await server.stats();
    const normal = await timed(server.port, '/a_web_page.html');
    for (const socket of sockets) socket.write(get('/text.txt'));
    await waitUntil(() => sockets.every((_, i) => count(i) >= 2), 60_000, 200);
    const reused = sockets.filter((_, i) => count(i) >= 2).length;
    for (const socket of sockets) socket.destroy();
    await waitUntil(async () => (await server.stats()).connections === 0, 30_000, 200);
    const after = await server.stats();
    check(
      stats.connections === n,
      `${stats.connections} idle keep-alive connections held (${stats.fds} fds in the server)`,
    );
    check(
      normal.status === 200 && normal.ms < 5_000,
      `a normal request meanwhile: ${normal.status} in ${normal.ms} ms`,
    );
    check(reused === n, `${reused} of them reused for a second request`);
    check(after.connections === 0, `all closed afterwards (server fds ${after.fds})`);
    summary.push(['idle keep-alive connections held', stats.connections]);
  } finally {
    await server.stop();
  }
}

async function maxConnections() {
  console.log('\nmaxConnections: 1000 held, 500 over the limit');
  const server = await startChildServer({ root: FIXTURE_ROOT, maxConnections: 1000 }, 65_536);
  try {
    const held = await openSockets(server.port, 1000);
    await waitUntil(async () => (await server.stats()).connections === 1000, 10_000);
    let clean503 = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 50; i++) {
          const r = await exchange(server.port, get('/text.txt'), { waitForClose: true });
          if (r.closed && r.responses.length === 1 && r.responses[0].status === 503) clean503++;
        }
      }),
    );
    for (const socket of held) socket.destroy();
    await waitUntil(async () => (await server.stats()).connections === 0, 10_000);
    const again = await timed(server.port, '/text.txt');
    check(clean503 === 500, `${clean503}/500 extra connections got a clean 503 and a close`);
    check(again.status === 200, `served again after the load dropped (${again.status})`);
    summary.push(['clean 503s over maxConnections', clean503]);
  } finally {
    await server.stop();
  }
}

async function randomAborts() {
  console.log(`\nrandom aborts: ${REQUESTS} requests, 64 at a time (bounded to 150 s)`);
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const root = mkdtempSync(`${tmpdir()}/docroot-stress-`);
  writeFileSync(`${root}/small.txt`, 'small\n');
  writeFileSync(`${root}/large.bin`, Buffer.alloc(8 * 1024 * 1024, 0x61));
  const server = await startChildServer({ root, compress: false });
  try {
    const options = { concurrency: 64, smallPath: '/small.txt', largePath: '/large.bin' };
    await soak(server.port, { ...options, requests: 1_000 }, 3);
    await waitUntil(async () => (await server.stats()).connections === 0, 10_000);
    const start = await server.stats();
    const result = await soak(server.port, { ...options, requests: REQUESTS, deadlineMs: 150_000 }, 5);
    await waitUntil(async () => (await server.stats()).connections === 0, 30_000);
    const end = await server.stats();
    console.log(
      `  ${result.requests} actions in ${(result.ms / 1000).toFixed(1)} s: ${JSON.stringify(result.outcomes)}`,
    );
    check(result.stuck === 0, `${result.stuck} clients left hanging`);
    check(end.connections === 0, 'every connection closed');
    check(end.fds <= start.fds + 2, `server fds ${start.fds} -> ${end.fds}`);
    check(
      end.heapUsed <= start.heapUsed + 16e6,
      `server heap after gc ${(start.heapUsed / 1e6).toFixed(1)} -> ${(end.heapUsed / 1e6).toFixed(1)} MB`,
    );
    const alive = await timed(server.port, '/small.txt');
    check(alive.status === 200, 'the server still serves');
    summary.push(['randomly aborted requests survived', result.requests]);
  } finally {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

const started = Date.now();
for (const phase of [slowloris, idleKeepAlive, maxConnections, randomAborts]) {
  try {
    await phase();
  } catch (error) {
    failed = true;
    console.log(`  FAIL ${phase.name}: ${error instanceof Error ? error.stack : error}`);
  }
}
console.log(`\nsummary (${((Date.now() - started) / 1000).toFixed(0)} s, 127.0.0.1 only):`);
for (const [label, value] of summary) console.log(`  ${String(value).padStart(8)}  ${label}`);
console.log(failed ? 'FAILED' : 'all checks passed');
process.exitCode = failed ? 1 : 0;
// Sockets still open after a failure must not keep the process alive.
setTimeout(() => process.exit(process.exitCode), 1_000).unref(); // deadline
