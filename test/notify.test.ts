/**
 * sd_notify: the test listens on a unix datagram socket (with python3, as Node has no unix datagrams)
 * and hands it to docroot as NOTIFY_SOCKET, like systemd does for a Type=notify unit.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exchange, get } from './helpers/raw-client.js';
import { FIXTURE_ROOT } from './helpers/servers.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const has = (program: string) => spawnSync(program, ['--version']).error === undefined;
const missing = !has('python3')
  ? 'python3 not installed'
  : !has('systemd-notify')
    ? 'systemd-notify not installed (Debian systemd)'
    : false;

/** Prints each datagram on one line (newlines as |), closing any descriptor passed (systemd-notify's barrier). */
const LISTENER = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    data, ancillary, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(64))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    print(data.decode().replace("\\n", "|"), flush=True)
`;

class NotifyListener {
  readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  private constructor(readonly child: ChildProcess) {
    let partial = '';
    child.stdout!.on('data', (d: Buffer) => {
      partial += d.toString();
      const complete = partial.split('\n');
      partial = complete.pop()!;
      this.lines.push(...complete);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async start(socketPath: string): Promise<NotifyListener> {
    const listener = new NotifyListener(
      spawn('python3', ['-c', LISTENER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] }),
    );
    await listener.waitFor(/^listening$/);
    return listener;
  }

  /** Resolves with the first line matching, as soon as it arrives; rejects if `sender` exits first. */
  async waitFor(pattern: RegExp, sender?: ChildProcess): Promise<string> {
    const gone =
      sender === undefined
        ? null
        : new Promise<never>((_, reject) => {
            const onExit = (code: number | null, signal: string | null) =>
              reject(new Error(`docroot exited (${code ?? signal}) before sending ${pattern}`));
            if (sender.exitCode !== null || sender.signalCode !== null)
              onExit(sender.exitCode, sender.signalCode);
            else sender.once('exit', onExit);
          });
    gone?.catch(() => {});
    for (;;) {
      const line = this.lines.find((l) => pattern.test(l));
      if (line !== undefined) return line;
      const arrived = new Promise<void>((resolve) => this.waiters.push(resolve));
      await (gone === null ? arrived : Promise.race([arrived, gone]));
    }
  }

  stop(): void {
    this.child.kill();
  }
}

function startDocroot(notifySocket: string, ...args: string[]): ChildProcess {
  return spawn(
    process.execPath,
    [CLI, FIXTURE_ROOT, '--port', '0', '--host', '127.0.0.1', '--log', 'off', ...args],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
      env: { ...process.env, NOTIFY_SOCKET: notifySocket },
    },
  );
}

describe('sd_notify', { skip: missing, timeout: 60_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'docroot-notify-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const workers of [[], ['--workers', '2']]) {
    test(`READY=1 once listening, STOPPING=1 on SIGTERM ${workers.join(' ')}`, async () => {
      const socketPath = path.join(dir, `notify${workers.length}.sock`);
      const listener = await NotifyListener.start(socketPath);
      const docroot = startDocroot(socketPath, ...workers);
      try {
        const ready = await listener.waitFor(/READY=1/, docroot);
        assert.match(ready, new RegExp(`MAINPID=${docroot.pid}`));
        const exited = new Promise((resolve) => docroot.once('exit', resolve));
        docroot.kill('SIGTERM');
        // STOPPING=1 goes out while the server drains; after an exit it may still be on its way.
        await listener.waitFor(/STOPPING=1/);
        assert.equal(await exited, 0);
        // Workers do not speak for the service: only the process systemd started does.
        assert.equal(listener.lines.filter((l) => /READY=1/.test(l)).length, 1);
      } finally {
        docroot.kill();
        listener.stop();
      }
    });
  }
});

test('SIGHUP (systemctl reload) does not end a one-process server', async () => {
  const docroot = spawn(
    process.execPath,
    [CLI, FIXTURE_ROOT, '--port', '0', '--host', '127.0.0.1', '--log', 'off'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  const seen = (stream: NodeJS.ReadableStream, pattern: RegExp, append: (text: string) => string) =>
    new Promise<void>((resolve) => {
      stream.on('data', (d: Buffer) => {
        if (pattern.test(append(d.toString()))) resolve();
      });
    });
  const listening = seen(docroot.stdout!, /http:\/\//, (text) => (stdout += text));
  const answered = seen(
    docroot.stderr!,
    /SIGHUP: one process has nothing to reload/,
    (text) => (stderr += text),
  );
  const exited = new Promise<number | null>((resolve) => docroot.once('exit', resolve));
  await listening;
  // Node arms its signal handlers when the event loop next turns; an answered request proves it has.
  const port = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout)![1]);
  const { responses } = await exchange(port, get('/text.txt', 'Connection: close\r\n'));
  assert.equal(responses[0]?.status, 200);
  docroot.kill('SIGHUP');
  await answered;
  assert.equal(docroot.exitCode, null, 'still running');
  docroot.kill('SIGTERM');
  assert.equal(await exited, 0);
});
