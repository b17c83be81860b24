/**
 * --listen, --socket-mode, --socket-owner and systemd socket activation, for main.ts: which targets this
 * process listens on, the unix-socket options with names looked up, and how the banner shows them.
 * Small, and loaded by main.ts with the command; the work is only done when one of them is in play.
 * @module
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { ListenTarget, UnixSocketOptions } from '../wire/endpoints.js';
import { removeStaleSocket, takeSystemdListenFds } from '../wire/endpoints.js';
import type { CliOptions } from './args.js';

/** Passes the systemd descriptors from the --workers primary to its workers (whose pid LISTEN_PID is not). */
export const INHERITED_FDS_ENV = 'DOCROOT_INHERITED_FDS';

/** True when this run listens somewhere else than --host/--port. */
export function usesListenTargets(options: CliOptions, env: NodeJS.ProcessEnv = process.env): boolean {
  return options.listen.length > 0 || env.LISTEN_FDS !== undefined || env[INHERITED_FDS_ENV] !== undefined;
}

/**
 * The targets of this process: the descriptors systemd passed (or, in a worker, those the primary
 * passed on), then the --listen ones. The primary also clears stale unix socket files, once.
 */
export async function listenTargets(
  options: CliOptions,
  role: 'single' | 'primary' | 'worker',
): Promise<ListenTarget[]> {
  let inherited: ListenTarget[];
  if (role === 'worker') {
    const passed = process.env[INHERITED_FDS_ENV];
    inherited = passed === undefined ? [] : (JSON.parse(passed) as ListenTarget[]);
  } else {
    inherited = takeSystemdListenFds();
    if (role === 'primary') {
      process.env[INHERITED_FDS_ENV] = JSON.stringify(inherited);
      for (const target of options.listen) if (target.kind === 'unix') await removeStaleSocket(target.path);
    }
  }
  return [...inherited, ...options.listen];
}

/** --socket-mode and --socket-owner as numbers (names looked up in /etc/passwd and /etc/group). */
export function unixSocketOptions(
  options: CliOptions,
  role: 'single' | 'primary' | 'worker',
): UnixSocketOptions {
  const result: UnixSocketOptions = role === 'worker' ? { removeStale: false } : {};
  if (options.socketMode !== undefined) result.mode = options.socketMode;
  if (options.socketOwner !== undefined) {
    const [user, group] = options.socketOwner.split(':');
    result.uid = lookUpId(user!, '/etc/passwd', 'user');
    if (group !== undefined) result.gid = lookUpId(group, '/etc/group', 'group');
  }
  return result;
}

function lookUpId(name: string, file: string, what: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // No database to look in: the error below says what was not found.
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2]);
  }
  throw new Error(`--socket-owner: no ${what} named "${name}" in ${file}`);
}

/** Banner lines for what is listening: a URL for TCP, the path (and a curl hint) for a unix socket. */
export function listeningLines(
  addresses: ReadonlyArray<AddressInfo | string>,
  targets: readonly ListenTarget[],
  scheme: 'http' | 'https',
): string[] {
  if (addresses.length === 0) {
    // --workers: the primary does not listen itself; show what the workers were told.
    return targets.map((target) =>
      target.kind === 'tcp'
        ? `${scheme}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}/`
        : target.kind === 'unix'
          ? `unix:${target.path}`
          : `fd:${target.fd}${target.name === undefined ? '' : ` (${target.name})`}`,
    );
  }
  return addresses.map((address) =>
    typeof address === 'string'
      ? `unix:${address}  (curl --unix-socket ${address} ${scheme}://localhost/)`
      : `${scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`,
  );
}
