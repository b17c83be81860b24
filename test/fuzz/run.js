#!/usr/bin/env node
// `npm run fuzz`: the property-based wire fuzz of test/fuzz.test.ts and the body fuzz of
// test/fuzz-bodies.test.ts, for FUZZ_SECONDS (default 60) split between the in-process harness (split
// invariance, never throws), a real server on 127.0.0.1, and hostile form bodies to a docroot in a child
// process (uploads and CGI, HTTP/1.1 and HTTP/2: it lives, the canary is answered, never a 5xx).
// FUZZ_SEED fixes the seed. Needs the compiled tests (the npm script runs tsc first).
import assert from 'node:assert/strict';

const model = await import('../../build/test/fuzz/model.js');
const bodies = await import('../../build/test/fuzz/bodies.js');
const { startWire, startDocroot, echoHandler } = await import('../../build/test/helpers/servers.js');
const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
const { tmpdir } = await import('node:os');
const { fc, frame, chunksOf, hostileBytes, splitPoints, sendOverSocket, expectedStatuses, headIndexes } =
  model;

const seconds = Number(process.env.FUZZ_SECONDS ?? 60);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const outcomes = new Map();
const count = (key) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
let parserRuns = 0;
let socketRuns = 0;
let docrootRuns = 0;
let bodyRuns = 0;
const bodyStatuses = new Map();
const CANARY = 'CANARY-fuzz-outside-the-root';
let bytesTried = 0;

console.log(`fuzz: ${seconds} s, seed ${seed}`);
const started = Date.now();
try {
  fc.assert(
    fc.property(hostileBytes, splitPoints, (bytes, points) => {
      parserRuns++;
      bytesTried += bytes.length;
      const whole = frame([bytes]);
      count(
        whole.error ? `error ${whole.error.status}` : `${whole.requests.length} request(s), ${whole.state}`,
      );
      assert.deepEqual(frame(chunksOf(bytes, points)), whole);
      assert.deepEqual(
        frame(
          chunksOf(
            bytes,
            Array.from({ length: bytes.length }, (_, i) => i),
          ),
        ),
        whole,
      );
    }),
    { numRuns: Number.MAX_SAFE_INTEGER, seed, plugins: [fc.interruptAfterTimeLimit((seconds * 1000) / 4)] },
  );
  const wire = await startWire(echoHandler);
  try {
    await fc.assert(
      fc.asyncProperty(hostileBytes, splitPoints, async (bytes, points) => {
        socketRuns++;
        const expectation = frame([bytes]);
        const got = await sendOverSocket(wire.port, chunksOf(bytes, points), headIndexes(expectation), 5000);
        assert.equal(got.timedOut, false, 'the server neither answered nor closed');
        const expected = expectedStatuses(expectation);
        if (expected !== null) assert.deepEqual(got.statuses, expected);
      }),
      { numRuns: Number.MAX_SAFE_INTEGER, seed, plugins: [fc.interruptAfterTimeLimit((seconds * 1000) / 4)] },
    );
    // Handlers whose request body was cut short (a refused chunk, a client gone) fail on purpose.
    const expected = (e) => e?.name === 'ProtocolError' || e?.message === 'client closed the connection';
    const wireErrors = wire.errors.filter((e) => !expected(e));
    assert.deepEqual(wireErrors, [], 'the wire logged unexpected errors');
  } finally {
    await wire.close();
  }
  // The whole server (files, listings, uploads on) with a canary beside its root: no hang, no response
  // beyond what was framed, never a byte of the canary, no internal error.
  const base = mkdtempSync(`${tmpdir()}/docroot-fuzz-`);
  mkdirSync(`${base}/root/a`, { recursive: true });
  writeFileSync(`${base}/canary.txt`, CANARY);
  writeFileSync(`${base}/root/a/b.txt`, 'hello');
  const docroot = await startDocroot({ root: `${base}/root`, upload: { maxBytes: 1 << 20 }, cors: true });
  try {
    await fc.assert(
      fc.asyncProperty(hostileBytes, splitPoints, async (bytes, points) => {
        docrootRuns++;
        const expectation = frame([bytes]);
        const got = await sendOverSocket(
          docroot.port,
          chunksOf(bytes, points),
          headIndexes(expectation),
          5000,
        );
        assert.equal(got.timedOut, false, 'the server neither answered nor closed');
        assert.ok(got.statuses.length <= expectation.requests.length + 1, `responses ${got.statuses}`);
        assert.ok(!got.statuses.includes(500), 'an internal error');
        assert.equal(got.raw.includes(CANARY), false, 'a byte from outside the root');
      }),
      { numRuns: Number.MAX_SAFE_INTEGER, seed, plugins: [fc.interruptAfterTimeLimit((seconds * 1000) / 4)] },
    );
    assert.deepEqual(docroot.errors, [], 'docroot logged errors');
  } finally {
    await docroot.close();
    rmSync(base, { recursive: true, force: true });
  }
  const fuzz = await bodies.startBodyFuzzServer();
  let session = await bodies.connectH2(fuzz.server.port);
  try {
    await fc.assert(
      fc.asyncProperty(bodies.bodyCase, async (c) => {
        if (c.target === bodies.CGI_TARGET && !fuzz.cgi) return;
        bodyRuns++;
        if (session.destroyed || session.closed) session = await bodies.connectH2(fuzz.server.port);
        const outcome =
          c.transport === 'h1'
            ? await bodies.sendOverH1(fuzz.server.port, c, 15_000)
            : await bodies.sendOverH2(session, c, 15_000);
        bodyStatuses.set(outcome.status, (bodyStatuses.get(outcome.status) ?? 0) + 1);
        assert.equal(outcome.timedOut, false, 'the server neither answered nor closed');
        assert.ok(
          outcome.status >= 200 && outcome.status < 500,
          `status ${outcome.status}${outcome.detail === undefined ? '' : ` (${outcome.detail})`}`,
        );
        assert.equal(fuzz.server.child.exitCode, null, 'the server process exited');
        assert.equal(await bodies.canaryStatus(fuzz.server.port), 200, 'the canary was not answered');
      }),
      { numRuns: Number.MAX_SAFE_INTEGER, seed, plugins: [fc.interruptAfterTimeLimit((seconds * 1000) / 4)] },
    );
  } finally {
    session.close();
    await fuzz.stop();
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  // fast-check keeps the property's own error (which assertion, and why) as the cause.
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause !== undefined) console.error(`cause: ${cause instanceof Error ? cause.message : String(cause)}`);
  process.exitCode = 1;
}
const top = [...outcomes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
console.log(
  `parser runs: ${parserRuns} (${(bytesTried / 1e6).toFixed(1)} MB of requests, each also split at random and byte by byte)`,
);
console.log(`socket runs: ${socketRuns} against a WireServer on 127.0.0.1 (compared with the harness)`);
console.log(`docroot runs: ${docrootRuns} against docroot with uploads on (no hang, no canary byte, no 500)`);
console.log(
  `body runs: ${bodyRuns} hostile forms to uploads and CGI over h1 and h2 (process alive, canary answered, no 5xx); statuses: ${[...bodyStatuses].map(([status, n]) => `${status}×${n}`).join(' ')}`,
);
console.log(`elapsed: ${((Date.now() - started) / 1000).toFixed(1)} s; outcomes (parser):`);
for (const [key, n] of top) console.log(`  ${String(n).padStart(8)}  ${key}`);
console.log(process.exitCode ? 'FAILED' : 'no property violated');
