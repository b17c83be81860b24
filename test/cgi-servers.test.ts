/**
 * Two docroot servers in one process, each with its own scripts: closing one stops its scripts only
 * (each CGI handler keeps its own registry of running scripts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { isAlive, MKFIFO_MISSING, waitForDeath } from './helpers/processes.js';
import { exchange, get } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';
import { waitFor } from './helpers/wait.js';

/**
 * Says it runs (its pid, written whole), then blocks opening the FIFO `release` until the test writes a
 * line into it, and answers with that line. It never sleeps: only the test or a signal moves it on.
 */
const WAITING_SCRIPT = `#!/bin/sh
echo $$ > "$DOCUMENT_ROOT/pid.part" && mv "$DOCUMENT_ROOT/pid.part" "$DOCUMENT_ROOT/pid"
read -r line < "$DOCUMENT_ROOT/release"
printf 'Content-Type: text/plain\\n\\nreleased: %s\\n' "$line"
`;

const roots: string[] = [];
const servers: RunningDocroot[] = [];

/** A fresh root with cgi-bin/wait.sh and the FIFO it waits on. */
async function makeRoot(): Promise<string> {
  const root = await realpath(await mkdtemp(path.join(tmpdir(), 'docroot-cgi-servers-')));
  roots.push(root);
  await mkdir(path.join(root, 'cgi-bin'));
  const script = path.join(root, 'cgi-bin', 'wait.sh');
  await writeFile(script, WAITING_SCRIPT);
  await chmod(script, 0o755);
  execFileSync('mkfifo', [path.join(root, 'release')]);
  return root;
}

/** The pid the script wrote into its root, once it is there. */
function scriptPid(root: string): Promise<number> {
  return waitFor(() => {
    try {
      return Number(readFileSync(path.join(root, 'pid'), 'utf8').trim()) || false;
    } catch {
      return false;
    }
  }, `the script in ${root} to start`);
}

after(async () => {
  for (const server of servers) await server.close().catch(() => {});
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

test("closing one server kills its running scripts and leaves another server's scripts running", {
  skip: MKFIFO_MISSING,
}, async () => {
  const [rootA, rootB] = [await makeRoot(), await makeRoot()];
  const serverA = await startDocroot({ root: rootA, cgi: {} });
  const serverB = await startDocroot({ root: rootB, cgi: {} });
  servers.push(serverB);
  const answerA = exchange(serverA.port, get('/cgi-bin/wait.sh'));
  const answerB = exchange(serverB.port, get('/cgi-bin/wait.sh'));
  const [pidA, pidB] = await Promise.all([scriptPid(rootA), scriptPid(rootB)]);

  // A's script is killed while it waits for its head, which A logs as one line.
  serverA.expectErrors(
    /^cgi: \/cgi-bin\/wait\.sh: the script was killed by SIGTERM before writing a response$/,
  );
  await serverA.close();
  assert.ok(await waitForDeath(pidA), `server A's script (${pidA}) still runs after A closed`);
  const resultA = await answerA;
  assert.equal(resultA.closed, true);
  assert.deepEqual(resultA.responses, [], 'the closed server sent no answer');

  assert.ok(isAlive(pidB), `server B's script (${pidB}) was killed when A closed`);
  await writeFile(path.join(rootB, 'release'), 'B goes on\n');
  const resultB = await answerB;
  assert.equal(resultB.timedOut, false);
  const response = resultB.responses[0]!;
  assert.equal(response.status, 200);
  assert.equal(response.body.toString(), 'released: B goes on\n');
  assert.ok(await waitForDeath(pidB), `server B's script (${pidB}) did not end after answering`);
});
