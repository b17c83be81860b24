// The proxied row: a 1 KB GET, keep-alive, through docroot --proxy and through nginx proxy_pass (one
// worker, upstream keepalive) to the same upstream (bench/servers/ceiling.js, a bare node:net server).
// The proxy under test is pinned to CPU 0; the upstream and wrk share CPU 1. Prints a Markdown table
// with req/s and the proxy's CPU time per request (user+system of the proxy process(es) / requests).
// Usage: npm run build && node bench/proxy.js [--seconds 5] [--runs 3]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { option, REPO_DIR, WORK_DIR } from './lib/args.js';
import {
  childPids,
  cpuSeconds,
  freePort,
  HOST,
  installCleanup,
  median,
  startProcess,
  stopProcess,
  waitReady,
} from './lib/proc.js';
import { wrk } from './lib/wrk.js';

const _args = process.argv.slice(2);
const opt = option;
const SECONDS = Number(opt('--seconds', '5'));
const RUNS = Number(opt('--runs', '3'));
const CONNS = 64;
const repo = REPO_DIR;
const work = join(WORK_DIR, 'proxy');
mkdirSync(join(work, 'tmp'), { recursive: true });
installCleanup();

function nginxProxyConfig(port, upstreamPort) {
  const tmp = join(work, 'tmp');
  const user = process.getuid?.() === 0 ? 'user root root;\n' : '';
  return `${user}worker_processes 1;
daemon off;
master_process on;
pid ${join(work, 'nginx.pid')};
error_log ${join(work, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  upstream backend {
    server ${HOST}:${upstreamPort};
    keepalive 64;
  }
  server {
    listen ${HOST}:${port};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** CPU seconds of a process and its children (nginx's master and worker). */
function treeCpu(pid) {
  return cpuSeconds(pid) + childPids(pid).reduce((sum, child) => sum + treeCpu(child), 0);
}

async function measure(label, start) {
  const port = await freePort();
  const proc = start(port);
  await waitReady(port, { path: '/1k.bin', proc });
  const runs = [];
  const url = `http://${HOST}:${port}/1k.bin`;
  await wrk({ url, conns: CONNS, seconds: 1, cpus: '1' }); // warm-up
  for (let i = 0; i < RUNS; i++) {
    const before = treeCpu(proc.pid);
    const result = await wrk({ url, conns: CONNS, seconds: SECONDS, cpus: '1' });
    const cpu = treeCpu(proc.pid) - before;
    if (result.failure || result.errors > 0 || result.non2xx3xx > 0) {
      throw new Error(
        `${label}: ${result.failure ?? `${result.errors} socket errors, ${result.non2xx3xx} non-2xx`}`,
      );
    }
    runs.push({ rps: result.rps, p99: result.p99, cpuPerRequestUs: (cpu / result.requests) * 1e6 });
  }
  await stopProcess(proc);
  return { label, runs };
}

const upstreamPort = await freePort();
const upstream = startProcess(
  process.execPath,
  [join(repo, 'bench', 'servers', 'ceiling.js'), '--port', String(upstreamPort), '--host', HOST],
  { cpus: '1', label: 'upstream' },
);
await waitReady(upstreamPort, { path: '/1k.bin', proc: upstream });

const results = [];
results.push(
  await measure('nginx proxy_pass (1 worker, keepalive 64)', (port) => {
    const conf = join(work, 'nginx.conf');
    writeFileSync(conf, nginxProxyConfig(port, upstreamPort));
    return startProcess('nginx', ['-p', work, '-e', join(work, 'nginx-error.log'), '-c', conf], {
      cpus: '0',
      label: 'nginx',
    });
  }),
);
results.push(
  await measure('docroot --proxy', (port) =>
    startProcess(
      process.execPath,
      [
        join(repo, 'dist', 'cli', 'main.js'),
        join(repo, 'bench'),
        '--port',
        String(port),
        '--host',
        HOST,
        '--log',
        'off',
        '--no-qr',
        '--proxy',
        `/=http://${HOST}:${upstreamPort}`,
      ],
      { cpus: '0', label: 'docroot' },
    ),
  ),
);
await stopProcess(upstream);

const nginxRps = median(results[0].runs.map((r) => r.rps));
console.log(`| proxy | req/s | p99 latency | CPU per request | × nginx | runs (req/s) |`);
console.log('| --- | ---: | ---: | ---: | ---: | --- |');
for (const { label, runs } of results) {
  const rps = median(runs.map((r) => r.rps));
  const p99 = median(runs.map((r) => r.p99));
  const cpu = median(runs.map((r) => r.cpuPerRequestUs));
  console.log(
    `| ${label} | ${Math.round(rps).toLocaleString('en-US')} | ${p99.toFixed(2)} ms | ${cpu.toFixed(1)} µs | ${(rps / nginxRps).toFixed(2)}× | ${runs.map((r) => Math.round(r.rps)).join(', ')} |`,
  );
}
