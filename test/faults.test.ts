/**
 * Faults: clients that reset mid-response, files that shrink or vanish while being sent, read errors,
 * running out of file descriptors (EMFILE), and thousands of randomly aborted requests after which the
 * server's fd count and heap must come back to where they started.
 *
 * Read errors: the tests run as root, so a mode-000 file would still be readable. A `file` body whose path
 * is a directory (what a file replaced by a directory between stat and open gives: open succeeds, read
 * fails with EISDIR) and one whose path vanished are used instead, through a handler on a bare WireServer.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openSockets, soak, startChildServer, waitUntil } from './helpers/load.js';
import { exchange, get, parseResponses } from './helpers/raw-client.js';
import { FIXTURE_ROOT, type RunningDocroot, startDocroot, startWire } from './helpers/servers.js';
import { waitFor } from './helpers/wait.js';

const LARGE = 32 * 1024 * 1024;

/** Sends a GET for `target` and hands the socket to `onFirstData` when the first bytes arrive. */
function download(
  port: number,
  target: string,
  onFirstData: (socket: net.Socket) => void,
): Promise<{ raw: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let first = true;
    const socket = net.connect(port, '127.0.0.1', () => socket.write(get(target, 'Connection: close\r\n')));
    const timer = setTimeout(() => socket.destroy(), 20_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (first) {
        first = false;
        onFirstData(socket);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ raw: Buffer.concat(chunks), closed: true });
    });
  });
}

function bodyAfterHead(raw: Buffer): { length: number; declared: number } {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.toString('latin1', 0, end);
  const declared = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? -1);
  return { length: raw.length - end - 4, declared };
}

async function assertServes(port: number, target = '/small.txt'): Promise<void> {
  const { responses, timedOut } = await exchange(port, get(target), { timeoutMs: 5_000 });
  assert.equal(timedOut, false);
  assert.equal(responses[0]?.status, 200);
}

describe('faults', () => {
  let base: string;
  let root: string;
  let docroot: RunningDocroot;
  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-faults-'));
    root = path.join(base, 'root');
    mkdirSync(root);
    writeFileSync(path.join(root, 'small.txt'), 'small file\n');
    writeFileSync(path.join(root, 'large.bin'), Buffer.alloc(LARGE, 0x61));
    docroot = await startDocroot({ root, compress: false });
  });
  after(async () => {
    await docroot.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('clients that reset or destroy mid-download: the server lives and serves the next', async () => {
    for (let i = 0; i < 20; i++) {
      await download(docroot.port, '/large.bin', (socket) =>
        i % 2 === 0 ? socket.resetAndDestroy() : socket.destroy(),
      );
      await assertServes(docroot.port);
    }
    assert.ok(await waitUntil(() => docroot.server.wire.connectionCount === 0, 5_000));
  });

  test('a file truncated while being sent: the connection closes, no byte beyond the declared length', async () => {
    docroot.expectErrors(
      /shrinking\.bin changed while it was being sent|body ended after \d+ of 33554432 bytes/,
    );
    const file = path.join(root, 'shrinking.bin');
    writeFileSync(file, Buffer.alloc(LARGE, 0x62));
    const { raw } = await download(docroot.port, '/shrinking.bin', (socket) => {
      socket.pause();
      truncateSync(file, 1024 * 1024);
      socket.resume();
    });
    const { length, declared } = bodyAfterHead(raw);
    assert.equal(declared, LARGE);
    assert.ok(length < declared, `got ${length} of ${declared} bytes`);
    assert.ok(docroot.errors.some((e) => /changed while it was being sent/.test(String(e))));
    await assertServes(docroot.port);
  });

  test('a file deleted while being sent is still sent whole (the open descriptor keeps it)', async () => {
    const file = path.join(root, 'deleted.bin');
    writeFileSync(file, Buffer.alloc(4 * 1024 * 1024, 0x63));
    const { raw } = await download(docroot.port, '/deleted.bin', (socket) => {
      unlinkSync(file);
      void socket;
    });
    const { responses } = parseResponses(raw, [], true);
    assert.equal(responses[0]?.status, 200);
    assert.equal(responses[0]?.body.length, 4 * 1024 * 1024);
    await assertServes(docroot.port);
  });

  test('read errors: a directory where a file was (EISDIR after the head) and a vanished file (404)', async () => {
    const dir = path.join(base, 'now-a-directory');
    mkdirSync(dir);
    const wire = await startWire((request) => ({
      status: 200,
      headers: {},
      body: {
        kind: 'file',
        path: request.path === '/dir' ? dir : path.join(base, 'vanished.bin'),
        start: 0,
        end: 99,
      },
    }));
    wire.expectErrors(
      /^response body stream: Error: EISDIR: .* \(EISDIR\)$/,
      /^opening .*vanished\.bin: Error: ENOENT: .* \(ENOENT\)$/,
    );
    try {
      const broken = await exchange(wire.port, get('/dir'), { waitForClose: true });
      assert.equal(broken.closed, true);
      const { length, declared } = bodyAfterHead(broken.raw);
      assert.ok(length < declared, 'the short body is cut off by a close, not padded');
      assert.ok(wire.errors.some((e) => (e as NodeJS.ErrnoException).code === 'EISDIR'));
      const vanished = await exchange(wire.port, get('/gone'));
      assert.equal(vanished.responses[0]?.status, 404);
      const again = await exchange(wire.port, get('/gone'));
      assert.equal(again.responses[0]?.status, 404, 'the server still answers');
    } finally {
      await wire.close();
    }
  });

  test('EMFILE: under ulimit -n 64 the server survives running out of descriptors and recovers', async (t) => {
    const child = await startChildServer({ root: FIXTURE_ROOT }, 64);
    try {
      const before = await child.stats();
      const held = await openSockets(child.port, 120, 20);
      // The flood has reached the limit once the child cannot open more (or cannot even count them).
      const during = await waitFor(async () => {
        const stats = await child.stats();
        return (stats.fds === -1 || stats.fds >= 60) && stats;
      }, 'the descriptor flood to reach the limit');
      t.diagnostic(
        `fds before ${before.fds}, while flooded ${during.fds} (-1: none left to count them; limit 64), connections held ${during.connections}, failed accepts ${during.acceptErrors}`,
      );
      assert.ok(during.fds === -1 || during.fds >= 60, 'the flood reached the descriptor limit');
      assert.ok(during.connections < 120, 'not every socket could be accepted');
      // A request on an accepted connection while no descriptor is left is still answered (the file
      // cannot be opened: a 500 with a generic line), not left hanging.
      const first = held[0]!;
      const answer = new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('no answer'), 5_000);
        first.once('data', (chunk: Buffer) => {
          clearTimeout(timer);
          resolve(chunk.toString('latin1', 0, 12));
        });
      });
      first.write(get('/docs/big.txt'));
      const status = await answer;
      t.diagnostic(`a request while out of descriptors: ${status}`);
      assert.match(status, /^HTTP\/1\.1 (200|500|503)$/);
      for (const socket of held) socket.destroy();
      assert.ok(await waitUntil(async () => (await child.stats()).connections === 0, 10_000));
      for (let i = 0; i < 5; i++) await assertServes(child.port, '/text.txt');
      assert.equal(child.child.exitCode, null, 'the server process is alive');
    } finally {
      await child.stop();
    }
  });

  test('5,000 requests with random aborts: fds and heap come back to their starting level', async (t) => {
    const soakRoot = path.join(base, 'soak');
    mkdirSync(soakRoot);
    writeFileSync(path.join(soakRoot, 'small.txt'), 'small\n');
    writeFileSync(path.join(soakRoot, 'large.bin'), Buffer.alloc(8 * 1024 * 1024, 0x64));
    const child = await startChildServer({ root: soakRoot, compress: false });
    try {
      const options = { concurrency: 32, smallPath: '/small.txt', largePath: '/large.bin' };
      await soak(child.port, { ...options, requests: 400 }, 7);
      await waitUntil(async () => (await child.stats()).connections === 0, 10_000);
      const start = await child.stats();
      const result = await soak(child.port, { ...options, requests: 5_000 }, 11);
      assert.ok(await waitUntil(async () => (await child.stats()).connections === 0, 15_000));
      const end = await child.stats();
      t.diagnostic(
        `${result.requests} requests in ${result.ms} ms: ${JSON.stringify(result.outcomes)}; fds ${start.fds} -> ${end.fds}, heap ${(start.heapUsed / 1e6).toFixed(1)} -> ${(end.heapUsed / 1e6).toFixed(1)} MB`,
      );
      assert.equal(result.stuck, 0, 'no client was left hanging');
      assert.ok(end.fds <= start.fds + 2, `fds ${start.fds} -> ${end.fds}`);
      assert.ok(end.heapUsed <= start.heapUsed + 8e6, `heap ${start.heapUsed} -> ${end.heapUsed}`);
      await assertServes(child.port);
    } finally {
      await child.stop();
    }
  });
});
