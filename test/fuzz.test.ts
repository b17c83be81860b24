/**
 * The short version of `npm run fuzz` (see test/fuzz/model.ts): a few hundred random hostile requests.
 * The parser and body decoders never throw, frame the same bytes the same way however they are split,
 * and a real server answers exactly what the harness framed and then closes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  chunksOf,
  expectedStatuses,
  fc,
  frame,
  headIndexes,
  hostileBytes,
  sendOverSocket,
  splitPoints,
} from './fuzz/model.js';
import { echoHandler, type RunningWire, startDocroot, startWire } from './helpers/servers.js';
import { STRESS } from './helpers/stress.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

describe('fuzz (short run)', STRESS, () => {
  let wire: RunningWire;
  before(async () => {
    wire = await startWire(echoHandler);
  });
  after(async () => {
    await wire.close();
  });

  test('parsing never throws and does not depend on how the bytes are split', () => {
    fc.assert(
      fc.property(hostileBytes, splitPoints, (bytes, points) => {
        const whole = frame([bytes]);
        const split = frame(chunksOf(bytes, points));
        const single = frame(
          chunksOf(
            bytes,
            Array.from({ length: bytes.length }, (_, i) => i),
          ),
        );
        assert.deepEqual(split, whole);
        assert.deepEqual(single, whole);
      }),
      { numRuns: 400, seed: SEED },
    );
  });

  test('over a socket: exactly the framed answers, then a close', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBytes, splitPoints, async (bytes, points) => {
        const model = frame([bytes]);
        const got = await sendOverSocket(wire.port, chunksOf(bytes, points), headIndexes(model), 5_000);
        assert.equal(got.timedOut, false, 'the server neither answered nor closed');
        const expected = expectedStatuses(model);
        if (expected === null) {
          assert.ok(got.statuses.length <= model.requests.length + 1);
        } else {
          assert.deepEqual(got.statuses, expected);
        }
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  test('docroot itself (uploads on): no hang, no extra response, no 500, no byte from outside the root', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'docroot-fuzz-'));
    mkdirSync(path.join(base, 'root', 'a'), { recursive: true });
    writeFileSync(path.join(base, 'canary.txt'), 'CANARY-fuzz-outside');
    writeFileSync(path.join(base, 'root', 'a', 'b.txt'), 'hello');
    const docroot = await startDocroot({ root: path.join(base, 'root'), upload: { maxBytes: 1 << 20 } });
    try {
      await fc.assert(
        fc.asyncProperty(hostileBytes, splitPoints, async (bytes, points) => {
          const model = frame([bytes]);
          const got = await sendOverSocket(docroot.port, chunksOf(bytes, points), headIndexes(model), 5_000);
          assert.equal(got.timedOut, false, 'the server neither answered nor closed');
          assert.ok(got.statuses.length <= model.requests.length + 1);
          assert.ok(!got.statuses.includes(500));
          assert.equal(got.raw.includes('CANARY-fuzz-outside'), false);
        }),
        { numRuns: 300, seed: SEED },
      );
      assert.deepEqual(docroot.errors, []);
    } finally {
      await docroot.close();
      rmSync(base, { recursive: true, force: true });
    }
  });
});
