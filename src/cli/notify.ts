/**
 * sd_notify(3) for `Type=notify` units: READY=1 once listening, RELOADING=1 / READY=1 around a SIGHUP
 * restart, STOPPING=1 when draining. The protocol is a datagram on the unix socket named by
 * NOTIFY_SOCKET, which Node cannot send (node:dgram has no unix datagrams), so the message goes through
 * `systemd-notify`, installed wherever systemd is. It waits for systemd's barrier, so systemd has read
 * the message before the helper exits — the unit needs `NotifyAccess=all`, as the sender is a child.
 * Nothing happens without NOTIFY_SOCKET.
 * @module
 */
import { spawn } from 'node:child_process';

/** The helper is killed if systemd has not answered by then; the server never waits on it anyway. */
const NOTIFY_TIMEOUT_MS = 5_000;

export interface Notifier {
  /** Sends `NAME=value` assignments; resolves when delivered or given up (never rejects). */
  send(...assignments: string[]): Promise<void>;
}

/**
 * Takes NOTIFY_SOCKET out of the environment (so workers and CGI scripts do not talk to systemd in our
 * name) and returns a notifier for it, or null when there is none.
 */
export function takeNotifier(
  report: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Notifier | null {
  const socket = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return null;
  let reportedMissing = false;
  return {
    send: (...assignments) =>
      new Promise((resolve) => {
        const helper = spawn('systemd-notify', [`--pid=${process.pid}`, ...assignments], {
          stdio: 'ignore',
          env: { ...env, NOTIFY_SOCKET: socket },
        });
        const timer = setTimeout(() => helper.kill('SIGKILL'), NOTIFY_TIMEOUT_MS);
        helper.once('error', (error: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          if (!reportedMissing) {
            reportedMissing = true;
            report(
              error.code === 'ENOENT'
                ? 'NOTIFY_SOCKET is set but systemd-notify is not installed; not telling systemd we are ready'
                : `cannot run systemd-notify: ${error.message}`,
            );
          }
          resolve();
        });
        helper.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
