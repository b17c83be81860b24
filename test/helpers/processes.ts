import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { waitFor } from './wait.js';

/** How long a killed script's process may take to be gone. */
const DEATH_WAIT_MS = 4000;

/** Whether a process runs; a zombie (dead, not yet reaped by an init that may never reap) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** True once the process is gone, false if it still runs after DEATH_WAIT_MS. */
export async function waitForDeath(pid: number): Promise<boolean> {
  return waitFor(() => !isAlive(pid), `process ${pid} to end`, DEATH_WAIT_MS).catch(() => false);
}

/** Why FIFO-driven script tests cannot run here (coreutils' mkfifo missing), or false when they can. */
export const MKFIFO_MISSING = ((): string | false => {
  try {
    execFileSync('mkfifo', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'mkfifo not installed';
  }
})();
