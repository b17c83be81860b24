#!/usr/bin/env node
// CPU profile of docroot under a wrk load.
//   node bench/profile.js [--workload 1k|1k-close|100k|304|css-1k|browser-1k|browser-304] [--duration 8] [--top 25] [--no-build]
// Runs `node --cpu-prof --cpu-prof-dir bench/.work/prof dist/cli/main.js <root>` pinned to CPU 0,
// drives it with wrk pinned to CPU 1, stops it (a preloaded hook turns SIGTERM into
// process.exit so that the profile is written), then prints the top self-time functions
// (self time summed per functionName + url + line) from the .cpuprofile.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { FIXTURE_ROOT, option, REPO_DIR, WORK_DIR } from './lib/args.js';
import { BROWSER_HEADERS } from './lib/browser.js';
import { topSelfTime } from './lib/cpuprofile.js';
import { makeFixtures } from './lib/fixtures.js';
import {
  freePort,
  HOST,
  httpGet,
  installCleanup,
  run,
  startProcess,
  stopProcess,
  waitReady,
} from './lib/proc.js';
import { wrk } from './lib/wrk.js';

const repo = REPO_DIR;
const work = WORK_DIR;
const root = FIXTURE_ROOT;
const profDir = join(work, 'prof');

const argv = process.argv.slice(2);
const opt = option;
const workload = opt('--workload', '1k');
const duration = Number(opt('--duration', process.env.BENCH_DURATION ?? '8'));
const top = Number(opt('--top', '25'));

async function main() {
  installCleanup();
  makeFixtures(root);
  mkdirSync(profDir, { recursive: true });
  const main = join(repo, 'dist', 'cli', 'main.js');
  if (!argv.includes('--no-build')) {
    if (!existsSync(join(repo, 'src', 'cli', 'main.ts'))) {
      console.log('docroot CLI (src/cli/main.ts) is not on this branch yet: nothing to profile');
      process.exit(0);
    }
    const b = await run('npm', ['run', 'build'], { cwd: repo, timeoutMs: 300_000 });
    if (b.code !== 0) throw new Error(`npm run build failed: ${(b.stdout + b.stderr).slice(-500)}`);
  }
  if (!existsSync(main)) throw new Error('dist/cli/main.js is missing');
  const help = await run(process.execPath, [main, '--help'], { timeoutMs: 10_000 });
  const extra = /--log\b/.test(help.stdout + help.stderr) ? ['--log', 'off'] : [];

  const hook = join(work, 'prof-exit-hook.mjs');
  writeFileSync(
    hook,
    "process.on('SIGTERM', () => process.exit(0));\nprocess.on('SIGINT', () => process.exit(0));\n",
  );

  const before = new Set(readdirSync(profDir));
  const port = await freePort();
  const proc = startProcess(
    process.execPath,
    [
      '--cpu-prof',
      '--cpu-prof-dir',
      profDir,
      '--import',
      pathToFileURL(hook).href,
      main,
      root,
      '--port',
      String(port),
      '--host',
      HOST,
      ...extra,
    ],
    { cpus: '0', raiseNofile: true, cwd: repo, label: 'docroot-prof' },
  );
  try {
    await waitReady(port, { proc, timeoutMs: 20_000 });
    const wl = {
      '1k': { path: '/1k.bin', headers: [] },
      '1k-close': { path: '/1k.bin', headers: ['Connection: close'] },
      '100k': { path: '/100k.bin', headers: [] },
      304: { path: '/1k.bin', headers: [] },
      'css-1k': { path: '/b1k.css', headers: [] },
      'browser-1k': { path: '/b1k.css', headers: BROWSER_HEADERS },
      'browser-304': { path: '/b1k.css', headers: BROWSER_HEADERS },
    }[workload];
    if (!wl) throw new Error(`unknown workload ${workload}`);
    if (workload === 'browser-304') {
      const browser = Object.fromEntries(BROWSER_HEADERS.map((h) => h.split(/: (.*)/s).slice(0, 2)));
      const r = await httpGet(port, wl.path, { headers: browser });
      wl.headers = [...BROWSER_HEADERS, `If-None-Match: ${r.headers.etag}`];
    }
    if (workload === '304') {
      const r = await httpGet(port, '/1k.bin');
      if (r.headers.etag) wl.headers = [`If-None-Match: ${r.headers.etag}`];
      else if (r.headers['last-modified']) wl.headers = [`If-Modified-Since: ${r.headers['last-modified']}`];
    }
    const r = await wrk({
      url: `http://${HOST}:${port}${wl.path}`,
      conns: 64,
      seconds: duration,
      headers: wl.headers,
    });
    console.log(
      `wrk ${workload} ${duration}s under --cpu-prof: ${r.rps?.toFixed(0)} req/s, p99 ${r.p99?.toFixed(2)} ms`,
    );
  } finally {
    await stopProcess(proc, 10_000);
  }
  await sleep(200);
  const fresh = readdirSync(profDir)
    .filter((f) => f.endsWith('.cpuprofile') && !before.has(f))
    .map((f) => join(profDir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (fresh.length === 0)
    throw new Error(`no .cpuprofile written in ${profDir} (server output: ${proc.output.slice(-400)})`);
  for (const file of fresh) {
    const { rows, totalMs } = topSelfTime(JSON.parse(readFileSync(file, 'utf8')), top, repo);
    console.log(
      `\n${file.replace(`${repo}/`, '')}: ${totalMs.toFixed(0)} ms sampled; top ${rows.length} by self time`,
    );
    console.log('| # | self ms | self % | function | location |');
    console.log('| ---: | ---: | ---: | --- | --- |');
    rows.forEach((row, i) => {
      console.log(`| ${i + 1} | ${row.ms.toFixed(1)} | ${row.pct.toFixed(1)} | ${row.name} | ${row.where} |`);
    });
  }
}

main()
  .then(() => process.exit(0))
  .catch((e) => {
    console.error(`profile failed: ${e?.stack ?? e}`);
    process.exit(1);
  });
