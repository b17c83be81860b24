/**
 * The `docroot` command in a child process, for tests of what only the CLI does (flags, signals,
 * --workers, the banner): started on 127.0.0.1 and a free port, resolved once the banner names the URL.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export const CLI = new URL('../../../dist/cli/main.js', import.meta.url).pathname;

export interface RunningCli {
  child: ChildProcess;
  port: number;
  /** Everything printed so far on stdout and stderr. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stderr text matching, as soon as it arrives. */
  waitForStderr(pattern: RegExp): Promise<void>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<RunningCli> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args, '--port', '0', '--host', '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let out = '';
    let err = '';
    const waiters: Array<() => void> = [];
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      for (const wake of waiters.splice(0)) wake();
    });
    let resolved = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (match === null || resolved) return;
      resolved = true;
      resolve({
        child,
        port: Number(match[1]),
        stdout: () => out,
        stderr: () => err,
        async waitForStderr(pattern) {
          while (!pattern.test(err)) await new Promise<void>((wake) => waiters.push(wake));
        },
        stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    });
    child.once('exit', (code) => {
      if (!resolved) reject(new Error(`exited with ${code}: ${out}${err}`));
    });
  });
}
