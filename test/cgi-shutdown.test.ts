/**
 * Stopping a CGI handler's scripts (server shutdown): a request still on its way to its script then gets
 * 503 and starts nothing, and a script whose whole process group died of the SIGTERM gets no SIGKILL a
 * second later (its group id may by then belong to someone else).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, mock, test } from 'node:test';
import { createCgiScriptHandler } from '../src/handlers/cgi/handler.js';
import { CGI_KILL_GRACE_MS } from '../src/handlers/cgi/options.js';
import { CGI_STOPPED_MESSAGE } from '../src/handlers/cgi/process.js';
import type { ResponseDescription } from '../src/wire/message.js';
import { MKFIFO_MISSING } from './helpers/processes.js';
import { getRequest } from './helpers/requests.js';

/** Leaves a mark, then answers. */
const MARKING_SCRIPT = `#!/bin/sh
: > "$DOCUMENT_ROOT/ran"
printf 'Content-Type: text/plain\\n\\nran\\n'
`;

/** Says it started (its pid, into the FIFO the test reads), then blocks on the FIFO `release` for good. */
const BLOCKING_SCRIPT = `#!/bin/sh
echo $$ > "$DOCUMENT_ROOT/started"
read -r line < "$DOCUMENT_ROOT/release"
`;

const roots: string[] = [];
after(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

async function makeRoot(): Promise<string> {
  const root = await realpath(await mkdtemp(path.join(tmpdir(), 'docroot-cgi-shutdown-')));
  roots.push(root);
  await mkdir(path.join(root, 'cgi-bin'));
  for (const [name, text] of [
    ['mark.sh', MARKING_SCRIPT],
    ['block.sh', BLOCKING_SCRIPT],
  ] as const) {
    await writeFile(path.join(root, 'cgi-bin', name), text);
    await chmod(path.join(root, 'cgi-bin', name), 0o755);
  }
  execFileSync('mkfifo', [path.join(root, 'started'), path.join(root, 'release')]);
  return root;
}

function handlerFor(root: string, logged: string[]) {
  return createCgiScriptHandler({
    root,
    cgiDir: 'cgi-bin',
    interpreters: {},
    timeoutMs: 30_000,
    serverSoftware: 'docroot/test',
    logError: (error, context) => logged.push(`${context}: ${String(error)}`),
  });
}

function bodyText(response: ResponseDescription | null): string {
  const body = response?.body;
  return body?.kind === 'bytes' ? body.data.toString() : '';
}

test('a request that reaches its script after the scripts were stopped gets 503 and starts nothing', {
  skip: MKFIFO_MISSING,
}, async () => {
  const root = await makeRoot();
  const handler = handlerFor(root, []);
  const before = await handler.handle(getRequest('/cgi-bin/mark.sh'), ['cgi-bin', 'mark.sh']);
  assert.equal(before?.status, 200, 'the script runs while the handler is open');
  await rm(path.join(root, 'ran'));

  handler.stopScripts();
  const afterStop = await handler.handle(getRequest('/cgi-bin/mark.sh'), ['cgi-bin', 'mark.sh']);
  assert.equal(afterStop?.status, 503);
  assert.match(bodyText(afterStop), new RegExp(CGI_STOPPED_MESSAGE));
  // Had it been spawned, its answer (and so this response) would have come after its mark.
  assert.equal(existsSync(path.join(root, 'ran')), false, 'the script ran after the stop');
});

test('a script whose process group died of the SIGTERM gets no SIGKILL afterwards', {
  skip: MKFIFO_MISSING,
}, async () => {
  const root = await makeRoot();
  const logged: string[] = [];
  // Every timer the script's run makes is a mocked one, so the test moves past the kill grace itself.
  mock.timers.enable({ apis: ['setTimeout'] });
  const kill = mock.method(process, 'kill');
  try {
    const handler = handlerFor(root, logged);
    const answered = handler.handle(getRequest('/cgi-bin/block.sh'), ['cgi-bin', 'block.sh']);
    const pid = Number((await readFile(path.join(root, 'started'), 'utf8')).trim());
    assert.ok(pid > 0);

    handler.stopScripts();
    const response = await answered;
    assert.equal(response?.status, 502, 'the script died before its head');
    assert.ok(
      kill.mock.calls.some((call) => call.arguments[0] === -pid && call.arguments[1] === 'SIGTERM'),
      'the group was sent SIGTERM',
    );
    mock.timers.tick(CGI_KILL_GRACE_MS + 1);
    const sigkills = kill.mock.calls.filter((call) => call.arguments[1] === 'SIGKILL');
    assert.deepEqual(
      sigkills.map((call) => call.arguments[0]),
      [],
      'SIGKILL was sent to a group that no longer existed',
    );
  } finally {
    kill.mock.restore();
    mock.timers.reset();
  }
  assert.ok(
    logged.some((line) => /killed by SIGTERM/.test(line)),
    logged.join('\n'),
  );
});
