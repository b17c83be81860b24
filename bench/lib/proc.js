// Process, port and HTTP-probe helpers shared by bench/run.js and bench/profile.js.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const HOST = '127.0.0.1';

/** Every child we started, keyed by pid, so that they can all be stopped on exit. */
const children = new Map();

/**
 * Spawn a command in its own process group, optionally pinned to CPUs and with the
 * file-descriptor limit raised to the hard limit. `exec` keeps the pid: bash -> taskset -> cmd.
 */
export function startProcess(
  cmd,
  args,
  { cpus, raiseNofile = false, cwd, env, label, stdin = 'ignore' } = {},
) {
  let argv = [cmd, ...args];
  if (cpus) argv = ['taskset', '-c', cpus, ...argv];
  let file = argv[0];
  let rest = argv.slice(1);
  if (raiseNofile) {
    file = 'bash';
    rest = ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'bash', ...argv];
  }
  const child = spawn(file, rest, {
    cwd,
    env: env ?? process.env,
    detached: true,
    stdio: [stdin, 'pipe', 'pipe'],
  });
  const info = { child, pid: child.pid, label: label ?? cmd, output: '', exited: false, code: null };
  const collect = (d) => {
    info.output += d.toString();
    if (info.output.length > 20000) info.output = info.output.slice(-10000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  info.exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      info.exited = true;
      info.code = code ?? signal;
      children.delete(child.pid);
      resolve(info.code);
    });
    child.on('error', (err) => {
      info.exited = true;
      info.code = err.code;
      info.output += String(err);
      children.delete(child.pid);
      resolve(info.code);
    });
  });
  if (child.pid) children.set(child.pid, info);
  return info;
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Stop one process (its whole group): SIGTERM, then SIGKILL after a grace period. */
export async function stopProcess(info, graceMs = 3000) {
  if (!info || info.exited || !info.pid) return;
  killGroup(info.pid, 'SIGTERM');
  const t = sleep(graceMs).then(() => 'timeout');
  if ((await Promise.race([info.exitPromise, t])) === 'timeout') {
    killGroup(info.pid, 'SIGKILL');
    await Promise.race([info.exitPromise, sleep(2000)]);
  }
  // Make sure nothing in the group (e.g. nginx workers) outlives the leader.
  killGroup(info.pid, 'SIGKILL');
}

export async function stopAll() {
  for (const c of running) c.kill('SIGKILL'); // wrk, curl, ...
  await Promise.all([...children.values()].map((c) => stopProcess(c, 1500)));
}

/** Synchronous last-resort cleanup for process 'exit'. */
export function killAllSync() {
  for (const c of running) c.kill('SIGKILL');
  for (const pid of children.keys()) killGroup(pid, 'SIGKILL');
  children.clear();
}

let cleanupInstalled = false;
export function installCleanup() {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, async () => {
      process.stderr.write(`\n${sig}: stopping ${children.size} child process(es)\n`);
      await stopAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', async (err) => {
    process.stderr.write(`uncaught: ${err?.stack ?? err}\n`);
    await stopAll();
    process.exit(1);
  });
  process.on('unhandledRejection', async (err) => {
    process.stderr.write(`unhandled rejection: ${err?.stack ?? err}\n`);
    await stopAll();
    process.exit(1);
  });
}

/** A free TCP port on 127.0.0.1 (bind to 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** One HTTP request with a fresh connection. Resolves {status, headers, bytes} or rejects. */
export function httpGet(port, path, { headers = {}, timeoutMs = 5000, method = 'GET' } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port, path, method, headers: { connection: 'close', ...headers }, agent: false },
      (res) => {
        let bytes = 0;
        const chunks = [];
        res.on('data', (d) => {
          bytes += d.length;
          if (bytes <= 16 << 20) chunks.push(d);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, bytes, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Send one raw request and report whether the server closed the connection after
 * answering (used to check that `Connection: close` really forces a new connection).
 */
export function rawRequestCloses(port, path, timeoutMs = 3000) {
  return new Promise((resolve) => {
    const sock = net.connect(port, HOST);
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ closed: false, head: data.split('\r\n')[0] });
    }, timeoutMs);
    sock.on('connect', () =>
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`),
    );
    sock.on('data', (d) => {
      if (data.length < 4096) data += d.toString('latin1');
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, head: data.split('\r\n')[0] });
    });
  });
}

/** Poll until GET path answers 200 (or the process dies / the deadline passes). */
export async function waitReady(port, { path = '/1k.bin', timeoutMs = 20000, proc, intervalMs = 25 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr = 'no answer';
  while (Date.now() < deadline) {
    if (proc?.exited) throw new Error(`exited (${proc.code}) before ready: ${proc.output.slice(-800)}`);
    try {
      const r = await httpGet(port, path, { timeoutMs: 2000 });
      if (r.status === 200) return r;
      lastErr = `status ${r.status}`;
    } catch (e) {
      lastErr = e.message;
    }
    await sleep(intervalMs);
  }
  throw new Error(`not ready after ${timeoutMs} ms (${lastErr}): ${proc?.output.slice(-800) ?? ''}`);
}

/** Run a command to completion, capturing output. */
const running = new Set();

export function run(cmd, args, { timeoutMs = 60000, cwd, env } = {}) {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { timeout: timeoutMs, cwd, env, maxBuffer: 32 << 20 },
      (err, stdout, stderr) => {
        running.delete(child);
        resolve({ code: err ? (err.code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr), err });
      },
    );
    running.add(child);
  });
}

/** VmRSS of a pid in KiB, or null. */
export function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Direct children of a pid (Linux /proc). */
export function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Listening TCP sockets on `port` bound to anything other than 127.0.0.1. */
export function nonLoopbackListeners(port) {
  const bad = [];
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue;
      const [addr, p] = f[1].split(':');
      if (p !== hexPort) continue;
      if (addr !== '0100007F') bad.push(`${file}:${addr}`);
    }
  }
  return bad;
}

export const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const CLK_TCK = 100;

/** CPU seconds (user+system) of a pid, or 0. */
export function cpuSeconds(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Machine-wide user+nice+system CPU seconds so far (all cores). */
export function machineBusySeconds() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (f[0] + f[1] + f[2]) / CLK_TCK;
  } catch {
    return 0;
  }
}
