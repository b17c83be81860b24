/**
 * Where a server listens: TCP (`host:port`, `[::1]:port`), a unix socket (`unix:/path.sock`), a
 * descriptor it inherited (`fd:N`), or the descriptors systemd passed by socket activation
 * (sd_listen_fds(3): `LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES`, descriptors from 3 on).
 * @module
 */
import { chmodSync, chownSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';

export type ListenTarget =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'fd'; fd: number; name?: string };

/** Options applied to every unix socket we create. */
export interface UnixSocketOptions {
  /** Permission bits, e.g. 0o660. @default as the umask leaves them */
  mode?: number;
  /** Numeric owner and group (-1 leaves one unchanged). */
  uid?: number;
  gid?: number;
  /**
   * Remove a stale socket file first (see removeStaleSocket). Off in --workers' workers: the primary
   * did it once, and the socket their siblings share would look like another server. @default true
   */
  removeStale?: boolean;
}

/** sd_listen_fds(3): the first passed descriptor. */
export const SD_LISTEN_FDS_START = 3;
/** How long to wait for an answer on an existing socket file before calling it stale. */
const STALE_PROBE_TIMEOUT_MS = 1000;

/** `host:port`, `[v6]:port`, `:port`, `unix:/path`, `fd:N` → a target, or a one-line error. */
export function parseListenTarget(text: string): ListenTarget | string {
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    if (!path.startsWith('/')) return `--listen unix: needs an absolute socket path, got "${text}"`;
    return { kind: 'unix', path };
  }
  if (text.startsWith('fd:')) {
    const fd = /^\d+$/.test(text.slice(3)) ? Number(text.slice(3)) : Number.NaN;
    if (!(fd >= 0 && fd <= 65_535)) return `--listen fd: needs a descriptor number, got "${text}"`;
    return { kind: 'fd', fd };
  }
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = match === null ? Number.NaN : Number(match[3]);
  if (match === null || !(port <= 65_535)) {
    return `--listen needs host:port, [v6-address]:port, unix:/path or fd:N, got "${text}"`;
  }
  const host = match[1] ?? match[2] ?? '';
  if (match[1] !== undefined && net.isIPv6(host) === false)
    return `--listen: "${host}" is not an IPv6 address`;
  return { kind: 'tcp', host: host === '' ? '::' : host, port };
}

/** How a target is shown to people: `http://127.0.0.1:8080/`-style names are the CLI's business. */
export function describeTarget(target: ListenTarget): string {
  switch (target.kind) {
    case 'tcp':
      return target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
    case 'unix':
      return `unix:${target.path}`;
    case 'fd':
      return target.name === undefined ? `fd:${target.fd}` : `fd:${target.fd} (${target.name})`;
  }
}

/**
 * The descriptors systemd passed this process, per sd_listen_fds(3): only when LISTEN_PID is our pid.
 * Like sd_listen_fds(unset_environment=1), the variables are removed so children (CGI scripts) do not
 * take the descriptors for theirs.
 */
export function takeSystemdListenFds(
  env: NodeJS.ProcessEnv = process.env,
  pid = process.pid,
): ListenTarget[] {
  const count = Number(env.LISTEN_FDS);
  const forUs = env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) === pid;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (!forUs || !Number.isInteger(count) || count <= 0) return [];
  const targets: ListenTarget[] = [];
  for (let i = 0; i < count; i++) {
    const name = names[i];
    targets.push({ kind: 'fd', fd: SD_LISTEN_FDS_START + i, ...(name ? { name } : {}) });
  }
  return targets;
}

/** A socket file path is in use when something accepts on it; an error means nobody is listening. */
function answersOn(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ path });
    const done = (answered: boolean) => {
      probe.destroy();
      resolve(answered);
    };
    probe.once('connect', () => done(true));
    probe.once('error', () => done(false));
    probe.setTimeout(STALE_PROBE_TIMEOUT_MS, () => done(true));
  });
}

/**
 * Makes room for a unix socket at `path`: a leftover socket file nobody answers on (a crash, a kill -9)
 * is removed; anything else there — a regular file, a live server — is an error, never deleted.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  let stats: import('node:fs').Stats;
  try {
    stats = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stats.isSocket()) throw new Error(`${path} exists and is not a socket; not removing it`);
  if (await answersOn(path)) throw new Error(`another server is answering on ${path}`);
  unlinkSync(path);
}

/** Applies the mode and owner options to a socket file just created. */
export function applyUnixSocketOptions(path: string, options: UnixSocketOptions): void {
  if (options.uid !== undefined || options.gid !== undefined)
    chownSync(path, options.uid ?? -1, options.gid ?? -1);
  if (options.mode !== undefined) chmodSync(path, options.mode);
}

/** Whether a listening address is loopback only, so that a Host naming anything else is suspicious. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (name === 'localhost' || name.endsWith('.localhost') || name === '::1') return true;
  return net.isIP(name) === 4 && name.startsWith('127.');
}
