/**
 * The short version of the body fuzz (see test/fuzz/bodies.ts): random hostile multipart bodies, framed by
 * Content-Length or in chunks, to the upload and CGI paths over HTTP/1.1 and HTTP/2. After every case the
 * server process is alive and answers a canary request, and no case got a 5xx.
 */
import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import {
  type BodyCase,
  bodyCase,
  CGI_TARGET,
  canaryStatus,
  connectH2,
  fc,
  sendOverH1,
  sendOverH2,
  startBodyFuzzServer,
} from './fuzz/bodies.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0xb0d1e5);
const RUNS = Number(process.env.FUZZ_BODY_RUNS ?? 80);
const CASE_TIMEOUT_MS = 15_000;

describe('body fuzz (short run)', () => {
  let fuzz: Awaited<ReturnType<typeof startBodyFuzzServer>>;
  let session: http2.ClientHttp2Session;
  before(async () => {
    fuzz = await startBodyFuzzServer();
    session = await connectH2(fuzz.server.port);
  });
  after(async () => {
    session?.close();
    await fuzz?.stop();
  });

  test(`${RUNS} hostile form bodies: the process lives, the canary is answered, no 5xx`, async (t) => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(bodyCase, async (c: BodyCase) => {
        if (c.target === CGI_TARGET && !fuzz.cgi) return;
        if (session.destroyed || session.closed) session = await connectH2(fuzz.server.port);
        const outcome =
          c.transport === 'h1'
            ? await sendOverH1(fuzz.server.port, c, CASE_TIMEOUT_MS)
            : await sendOverH2(session, c, CASE_TIMEOUT_MS);
        statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
        assert.equal(outcome.timedOut, false, 'the server neither answered nor closed');
        assert.ok(
          outcome.status >= 200 && outcome.status < 500,
          `status ${outcome.status}${outcome.detail === undefined ? '' : ` (${outcome.detail})`}`,
        );
        assert.equal(fuzz.server.child.exitCode, null, 'the server process exited');
        assert.equal(await canaryStatus(fuzz.server.port), 200, 'the canary was not answered');
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    t.diagnostic(`statuses: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(' ')}`);
  });
});
