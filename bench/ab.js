#!/usr/bin/env node
// An A/B comparison of two builds of docroot that a busy shared machine disturbs as little as possible:
// both servers run side by side (pinned to CPU 0, wrk to CPU 1), every round runs each workload against
// each build in turn (alternating which goes first), and besides req/s each run reports the *server's
// own CPU time per request* from /proc/<pid>/stat. The bare node:net ceiling runs in the same rounds.
//   node bench/ab.js [--base <dist dir>] [--workload 1k,css-1k,browser-1k,browser-304]
//   (env: ROUNDS=4, SECONDS=3). `--base` defaults to bench/.work/dist-base: copy dist/ there before
//   changing the code (`cp -r dist bench/.work/dist-base`), then `npm run build` and run this.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BENCH_DIR, FIXTURE_ROOT, option, REPO_DIR, WORK_DIR } from './lib/args.js';
import { BROWSER_HEADERS } from './lib/browser.js';
import { makeFixtures } from './lib/fixtures.js';
import {
  cpuSeconds,
  freePort,
  HOST,
  httpGet,
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
const opt = option;
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const SECONDS = Number(process.env.SECONDS ?? 3);
const base = resolve(opt('--base', join(work, 'dist-base')));
const workloadIds = opt('--workload', '1k,css-1k,browser-1k,browser-304').split(',');

const WORKLOADS = {
  '1k': { path: '/1k.bin', headers: [] },
  'css-1k': { path: '/b1k.css', headers: [] },
  'browser-1k': { path: '/b1k.css', headers: BROWSER_HEADERS },
  'browser-304': { path: '/b1k.css', headers: BROWSER_HEADERS, revalidate: true },
};

installCleanup();
mkdirSync(work, { recursive: true });
makeFixtures(root);
if (!existsSync(join(base, 'cli', 'main.js'))) throw new Error(`no base build at ${base}`);

const servers = [
  { name: 'base', main: join(base, 'cli', 'main.js') },
  { name: 'new', main: join(repo, 'dist', 'cli', 'main.js') },
];
for (const server of servers) {
  server.port = await freePort();
  server.proc = startProcess(
    process.execPath,
    [server.main, root, '--port', String(server.port), '--host', HOST, '--log', 'off'],
    { cpus: '0', raiseNofile: true, label: server.name },
  );
  await waitReady(server.port, { proc: server.proc });
}
const ceiling = { name: 'ceiling', port: await freePort() };
ceiling.proc = startProcess(
  process.execPath,
  [join(BENCH_DIR, 'servers', 'ceiling.js'), '--port', String(ceiling.port)],
  { cpus: '0', raiseNofile: true, label: 'ceiling' },
);
await waitReady(ceiling.port, { proc: ceiling.proc });

/** The request headers of a workload for one server (a revalidation carries that server's ETag). */
async function headersFor(id, server) {
  const wl = WORKLOADS[id];
  const asObject = Object.fromEntries(wl.headers.map((h) => h.split(/: (.*)/s).slice(0, 2)));
  // Twice: the first browser GET may still be compressing the variant.
  await httpGet(server.port, wl.path, { headers: asObject });
  const r = await httpGet(server.port, wl.path, { headers: asObject });
  if (!wl.revalidate) return wl.headers;
  const all = [...wl.headers, `If-None-Match: ${r.headers.etag}`];
  const check = await httpGet(server.port, wl.path, {
    headers: { ...asObject, 'If-None-Match': r.headers.etag },
  });
  if (check.status !== 304) throw new Error(`${server.name} answers ${check.status} to ${id}`);
  return all;
}

const results = {};
async function measure(id, server, headers, path) {
  const pid = server.proc.child?.pid ?? server.proc.pid;
  const before = cpuSeconds(pid);
  const r = await wrk({ url: `http://${HOST}:${server.port}${path}`, seconds: SECONDS, headers });
  const used = cpuSeconds(pid) - before;
  if (r.failure || !r.requests) throw new Error(r.failure ?? 'wrk made no requests');
  const key = `${id} ${server.name}`;
  results[key] ??= { rps: [], cpuUs: [] };
  results[key].rps.push(r.rps);
  results[key].cpuUs.push((used * 1e6) / r.requests);
  return `${server.name} ${Math.round(r.rps)} req/s ${((used * 1e6) / r.requests).toFixed(2)} µs`;
}

const prepared = {};
for (const id of workloadIds) {
  if (!WORKLOADS[id]) throw new Error(`unknown workload ${id}`);
  for (const server of servers) prepared[`${id} ${server.name}`] = await headersFor(id, server);
}
for (let round = 1; round <= ROUNDS; round++) {
  const order = round % 2 === 1 ? servers : [...servers].reverse();
  const line = [`round ${round}:`];
  line.push(`ceiling ${await measure('ceiling', ceiling, [], '/1k.bin')}`);
  for (const id of workloadIds) {
    for (const server of order) {
      line.push(`${id} ${await measure(id, server, prepared[`${id} ${server.name}`], WORKLOADS[id].path)}`);
    }
  }
  console.log(line.join(' | '));
}
await stopAll();

const med = (key, what) => median(results[key]?.[what] ?? []);
const ceilingRps = med('ceiling ceiling', 'rps');
console.log(
  `\nceiling: ${Math.round(ceilingRps)} req/s, ${med('ceiling ceiling', 'cpuUs').toFixed(2)} µs CPU/request`,
);
console.log(
  '| workload | base req/s | new req/s | base µs CPU/req | new µs CPU/req | new/base CPU | new / ceiling |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const id of workloadIds) {
  const b = `${id} base`;
  const n = `${id} new`;
  console.log(
    `| ${id} | ${Math.round(med(b, 'rps'))} | ${Math.round(med(n, 'rps'))} | ${med(b, 'cpuUs').toFixed(2)} | ${med(n, 'cpuUs').toFixed(2)} | ${(med(n, 'cpuUs') / med(b, 'cpuUs')).toFixed(3)} | ${(med(n, 'rps') / ceilingRps).toFixed(2)}× |`,
  );
}
if (results['browser-1k new'] && results['css-1k new']) {
  for (const server of servers) {
    const ratio = med(`browser-1k ${server.name}`, 'cpuUs') / med(`css-1k ${server.name}`, 'cpuUs');
    console.log(`${server.name}: browser-1k / css-1k CPU per request ${ratio.toFixed(3)}×`);
  }
}
