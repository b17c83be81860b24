/**
 * HTTP/2 waits are bounded: clients that never open their flow-control window
 * (SETTINGS_INITIAL_WINDOW_SIZE = 0) have their streams reset after the send timeout (injected short
 * here through `limits.bodyTimeoutMs`), their stalled sessions closed, and the server's open files and
 * memory (counted in the child process that runs it) come back down; streams over the total bound are
 * refused; a normal client is served throughout.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ChildServer, startChildServer, waitUntil } from './helpers/load.js';

const SEND_TIMEOUT_MS = 400;
const SESSIONS = 4;
const STREAMS_PER_SESSION = 100;
const FILE_BYTES = 4 * 1024 * 1024;

function connect(port: number, settings: http2.Settings = {}): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://localhost:${port}`, { rejectUnauthorized: false, settings });
  session.on('error', () => {});
  return new Promise((resolve, reject) => {
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

interface StreamOutcome {
  status: number;
  rstCode: number;
  received: number;
}

/** Opens a GET and reports its status once the head arrives and its fate once it closes. */
function open(session: http2.ClientHttp2Session, target: string) {
  const stream = session.request({ ':path': target });
  let status = 0;
  let received = 0;
  const head = new Promise<number>((resolve) => {
    stream.once('response', (headers) => {
      status = Number(headers[':status']);
      resolve(status);
    });
    stream.once('close', () => resolve(status));
  });
  stream.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  stream.on('error', () => {});
  const closed = new Promise<StreamOutcome>((resolve) => {
    stream.once('close', () => resolve({ status, rstCode: stream.rstCode ?? 0, received }));
  });
  return { head, closed };
}

describe('HTTP/2 streams that cannot send', () => {
  let root: string;
  let server: ChildServer;
  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'docroot-h2-bounds-'));
    writeFileSync(path.join(root, 'big.bin'), Buffer.alloc(FILE_BYTES, 0x61));
    writeFileSync(path.join(root, 'small.txt'), 'small');
    server = await startChildServer({
      root,
      tls: { selfSigned: true },
      limits: { bodyTimeoutMs: SEND_TIMEOUT_MS },
      maxStreams: 250,
    });
  });
  after(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('zero-window clients: streams reset, sessions closed, fds and memory back down, others served', async (t) => {
    const baseline = await server.stats();
    const sessions = await Promise.all(
      Array.from({ length: SESSIONS }, () => connect(server.port, { initialWindowSize: 0 })),
    );
    const streams = sessions.flatMap((session) =>
      Array.from({ length: STREAMS_PER_SESSION }, () => open(session, '/big.bin')),
    );
    const statuses = await Promise.all(streams.map((s) => s.head));
    const served = statuses.filter((status) => status === 200).length;
    // The total bound (250, plus a few each connection may always open) refuses the rest.
    const bound = 250 + 4 * SESSIONS;
    assert.ok(served > 0 && served <= bound, `${served} streams were answered`);
    const during = await server.stats();
    // One descriptor per answered stream at most, plus the sessions' sockets: never unbounded.
    assert.ok(
      during.fds <= baseline.fds + bound + SESSIONS + 10,
      `fds ${baseline.fds} → ${during.fds} with ${served} stalled streams`,
    );
    assert.ok(
      during.rss - baseline.rss < 200 * 1024 * 1024,
      `rss grew by ${Math.round((during.rss - baseline.rss) / 1e6)} MB`,
    );

    t.diagnostic(
      `${served} stalled streams: fds ${baseline.fds} → ${during.fds}, rss +${Math.round((during.rss - baseline.rss) / 1e6)} MB`,
    );
    // Meanwhile a client that reads is served.
    const reader = await connect(server.port);
    const small = open(reader, '/small.txt');
    assert.equal(await small.head, 200);

    const outcomes = await Promise.all(streams.map((s) => s.closed));
    for (const outcome of outcomes) {
      assert.ok(outcome.received < FILE_BYTES, 'no zero-window stream got the whole file');
      assert.ok(
        outcome.rstCode === http2.constants.NGHTTP2_CANCEL ||
          outcome.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM ||
          outcome.rstCode === http2.constants.NGHTTP2_INTERNAL_ERROR,
        `rstCode ${outcome.rstCode}`,
      );
    }
    const refused = outcomes.filter((o) => o.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM).length;
    assert.ok(refused >= SESSIONS * STREAMS_PER_SESSION - bound, `${refused} refused`);
    // Every stalled session is closed by the server.
    await Promise.all(
      sessions.map((session) =>
        session.closed ? null : new Promise((resolve) => session.once('close', resolve)),
      ),
    );

    assert.ok(
      await waitUntil(async () => (await server.stats()).fds <= baseline.fds + 3, 10_000),
      `fds stayed at ${(await server.stats()).fds} (baseline ${baseline.fds})`,
    );
    const afterwards = open(reader, '/big.bin');
    assert.equal(await afterwards.head, 200);
    const whole = await afterwards.closed;
    assert.equal(whole.received, FILE_BYTES);
    reader.close();
    assert.equal(server.child.exitCode, null);
  });
});
