#!/usr/bin/env node
// What --metrics costs on the 1 KB keep-alive path, measured so that a busy shared machine disturbs it
// less than a throughput figure: docroot with and without --metrics, interleaved round by round, and
// for each run the *server's own CPU time per request* (from /proc/<pid>/stat) besides req/s; then the
// cost of the counting alone, timed in a loop.
// `node bench/metrics-cost.js` (env: ROUNDS=5, SECONDS=3). Needs wrk; run `npm run build` first.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_ROOT, REPO_DIR, WORK_DIR } from './lib/args.js';
import { makeFixtures } from './lib/fixtures.js';
import {
  cpuSeconds,
  freePort,
  HOST,
  installCleanup,
  median,
  startProcess,
  stopAll,
  waitReady,
} from './lib/proc.js';
import { wrk } from './lib/wrk.js';

const repo = REPO_DIR;
const work = WORK_DIR;
const root = FIXTURE_ROOT;
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECONDS = Number(process.env.SECONDS ?? 3);

installCleanup();
mkdirSync(work, { recursive: true });
makeFixtures(root);

const variants = [
  { name: 'off', extra: [] },
  { name: '--metrics', extra: ['--metrics', '/metrics'] },
];
for (const variant of variants) {
  variant.port = await freePort();
  const args = [join(repo, 'dist', 'cli', 'main.js'), root, '--port', String(variant.port), '--host', HOST];
  variant.proc = startProcess(process.execPath, [...args, '--log', 'off', ...variant.extra], {
    cpus: '0',
    raiseNofile: true,
    label: variant.name,
  });
  await waitReady(variant.port, { proc: variant.proc });
  variant.rps = [];
  variant.cpuUs = [];
}
const pidOf = (proc) => proc.child?.pid ?? proc.pid;

for (let round = 1; round <= ROUNDS; round++) {
  // Alternate which goes first, so a neighbour's load that grows or fades does not favour one side.
  const order = round % 2 === 1 ? variants : [...variants].reverse();
  for (const variant of order) {
    const pid = pidOf(variant.proc);
    const before = cpuSeconds(pid);
    const result = await wrk({ url: `http://${HOST}:${variant.port}/1k.bin`, seconds: SECONDS });
    const used = cpuSeconds(pid) - before;
    if (result.failure || !result.requests) throw new Error(result.failure ?? 'wrk made no requests');
    variant.rps.push(result.rps);
    variant.cpuUs.push((used * 1e6) / result.requests);
    console.log(
      `round ${round} ${variant.name.padEnd(9)} ${Math.round(result.rps)} req/s, ${((used * 1e6) / result.requests).toFixed(2)} µs CPU/request`,
    );
  }
}
const [off, on] = variants;
console.log(
  `\nmedian req/s: off ${Math.round(median(off.rps))}, --metrics ${Math.round(median(on.rps))} (ratio ${(median(on.rps) / median(off.rps)).toFixed(3)})`,
);
console.log(
  `median server CPU per request: off ${median(off.cpuUs).toFixed(2)} µs, --metrics ${median(on.cpuUs).toFixed(2)} µs (ratio ${(median(on.cpuUs) / median(off.cpuUs)).toFixed(3)})`,
);
await stopAll();

// The counting itself, in this process: what the wire's exchange record and the counters cost per
// request, which the load of a shared machine hardly moves. Compared with the CPU per request above.
const { ServerMetrics } = await import(join(repo, 'dist', 'metrics', 'counters.js'));
const metrics = new ServerMetrics();
const head = { method: 'GET', target: '/1k.bin', headers: {}, version: '1.1' };
const CALLS = 5_000_000;
const perCall = [];
for (let round = 0; round < 3; round++) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) {
    const now = Date.now();
    metrics.observer.onExchange({
      request: head,
      status: 200,
      bytesSent: 1024,
      sequence: i,
      startedAt: now,
      finishedAt: now,
      remoteAddress: HOST,
    });
  }
  perCall.push(Number(process.hrtime.bigint() - started) / CALLS);
}
const ns = median(perCall);
console.log(
  `counting one exchange (record, Date.now, counters): ${ns.toFixed(0)} ns = ${((ns / 1000 / median(off.cpuUs)) * 100).toFixed(2)}% of the CPU per request without metrics`,
);
