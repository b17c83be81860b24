// Running wrk and parsing its --latency output.
import { run } from './proc.js';

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60000, h: 3600000 };

function toMs(value, unit) {
  return Number(value) * (UNIT_MS[unit] ?? Number.NaN);
}

/** Parse the text wrk prints with --latency. */
export function parseWrk(text) {
  const out = {
    rps: null,
    p50: null,
    p99: null,
    requests: null,
    errors: 0,
    non2xx3xx: 0,
    transferPerSec: null,
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (rps) out.rps = Number(rps[1]);
  const dist = /Latency Distribution([\s\S]*?)(?:\n\s*\d+ requests|$)/.exec(text);
  if (dist) {
    for (const m of dist[1].matchAll(/^\s*(\d+(?:\.\d+)?)%\s+([\d.]+)(us|ms|s|m|h)\s*$/gm)) {
      if (m[1] === '50') out.p50 = toMs(m[2], m[3]);
      if (m[1] === '99') out.p99 = toMs(m[2], m[3]);
    }
  }
  const reqs = /(\d+) requests in ([\d.]+)(\w+),\s+([\d.]+\w+) read/.exec(text);
  if (reqs) out.requests = Number(reqs[1]);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (sock) out.errors = sock.slice(1, 5).reduce((a, b) => a + Number(b), 0);
  out.socketErrors = sock ? sock[0].replace('Socket errors: ', '') : '';
  const non = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (non) out.non2xx3xx = Number(non[1]);
  const tr = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(text);
  if (tr) out.transferPerSec = `${tr[1]}${tr[2]}`;
  return out;
}

/**
 * One wrk run: `taskset -c <cpus> wrk -t1 -c<conns> -d<s>s --latency [-H ...] <url>`.
 * Bounded by the duration plus the wrk timeout plus a margin.
 */
export async function wrk({
  url,
  conns = 64,
  threads = 1,
  seconds,
  headers = [],
  cpus = '1',
  timeoutS = 10,
}) {
  const args = [
    '-c',
    cpus,
    'wrk',
    `-t${threads}`,
    `-c${conns}`,
    `-d${seconds}s`,
    '--latency',
    `--timeout`,
    `${timeoutS}s`,
  ];
  for (const h of headers) args.push('-H', h);
  args.push(url);
  // Run through bash so that `times` reports wrk's CPU time (used to spot foreign load).
  const script = 'taskset "$@"; rc=$?; echo "@@times"; times; exit $rc';
  const r = await run('bash', ['-c', script, 'bash', ...args], {
    timeoutMs: (seconds + timeoutS + 20) * 1000,
  });
  const [out, timesText = ''] = r.stdout.split('@@times');
  const parsed = parseWrk(out);
  parsed.raw = out;
  // `times` prints the shell's own times, then its children's: "0m1.234s 0m0.567s".
  const t = [...timesText.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  parsed.cpuS = t.length >= 4 ? t[2] + t[3] : null;
  if (r.code !== 0 || parsed.rps === null)
    parsed.failure = `wrk exit ${r.code}: ${(r.stderr || out).slice(-400)}`;
  else if (parsed.requests === 0 || parsed.rps === 0) {
    parsed.failure = `no request completed within wrk's ${timeoutS} s timeout (${parsed.socketErrors})`;
  }
  return parsed;
}
