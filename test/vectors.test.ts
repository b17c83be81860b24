/**
 * The smuggling and conformance vector table (`test/vectors/requests.json`), run through a real
 * `WireServer` over a socket: each vector whole, and (unless marked otherwise) written one byte per
 * event-loop turn. An accepted vector must frame exactly the listed requests and leave the connection in
 * sync (a sentinel request sent after it is the next one answered); a refused vector gets exactly one
 * error response and a close, and not one byte more.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { PROTOCOL_ERROR, type ProtocolErrorCode } from '../src/wire/errors.js';
import type { RequestHandler } from '../src/wire/message.js';
import type { ExchangeRecord } from '../src/wire/observer.js';
import { exchange, parseResponses } from './helpers/raw-client.js';
import { type RunningWire, readAll, startWire } from './helpers/servers.js';

type Seen = [method: string, path: string, body: string, authority?: string];

interface Vector {
  family: string;
  name: string;
  raw: string;
  expect: 'accept' | number;
  /** For a refused vector: the protocol error code the wire answered with (src/wire/errors.ts). */
  code?: ProtocolErrorCode;
  requests?: Seen[];
  closes?: boolean;
  split?: boolean;
}

const FILE = new URL('../../test/vectors/requests.json', import.meta.url);
const SENTINEL = 'GET /__end HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n';
const MACROS: Record<string, string> = {
  '{{TE}}': 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n',
  '{{POST}}': 'POST / HTTP/1.1\r\nHost: h\r\n',
  '{{GET}}': 'GET / HTTP/1.1\r\nHost: h\r\n',
};

/** Expands the macros of the vector file (see its "about"). */
export function expand(text: string): string {
  let out = text;
  for (const [macro, value] of Object.entries(MACROS)) out = out.split(macro).join(value);
  return out.replace(/\{\{([\s\S]+?)\*(\d+)\}\}/g, (_, unit: string, times: string) =>
    unit.repeat(Number(times)),
  );
}

export function loadVectors(): Vector[] {
  const file = JSON.parse(readFileSync(FILE, 'utf8')) as { vectors: Vector[] };
  return file.vectors;
}

/** Reports what the wire framed: method, path, authority and the body bytes (latin1). */
const reportingHandler: RequestHandler = async (request) => {
  const body = await readAll(request);
  const seen = { m: request.method, p: request.path, a: request.authority, b: body.toString('latin1') };
  return {
    status: 200,
    headers: { 'Content-Type': 'application/json' },
    body: { kind: 'bytes', data: JSON.stringify(seen) },
  };
};

interface Outcome {
  statuses: number[];
  /** Protocol error codes of the connection's exchanges, in order. */
  codes: ProtocolErrorCode[];
  seen: Seen[];
  closed: boolean;
  timedOut: boolean;
  rest: number;
  lastConnection: string | undefined;
}

/** Every exchange the wire finished, as its observer reported it. */
const records: ExchangeRecord[] = [];

async function run(port: number, bytes: Buffer, splitEvery: number | undefined): Promise<Outcome> {
  const first = records.length;
  const result = await exchange(port, bytes, {
    waitForClose: true,
    timeoutMs: 15_000,
    splitEvery,
    noDelay: splitEvery !== undefined,
  });
  const { responses, rest } = parseResponses(result.raw, [], true);
  const finals = responses.filter((r) => r.status >= 200);
  const seen: Seen[] = [];
  for (const r of finals) {
    if (r.status !== 200) continue;
    const s = JSON.parse(r.body.toString('utf8')) as { m: string; p: string; a: string; b: string };
    seen.push([s.m, s.p, s.b, s.a]);
  }
  return {
    statuses: finals.map((r) => r.status),
    // The runs are one after the other and each waits for the close: these records are this run's.
    codes: records.slice(first).flatMap((r) => (r.errorCode === undefined ? [] : [r.errorCode])),
    seen,
    closed: result.closed,
    timedOut: result.timedOut,
    rest: rest.length,
    lastConnection: finals.at(-1)?.headers.connection,
  };
}

function check(vector: Vector, outcome: Outcome, mode: string): void {
  const label = `${vector.family}: ${vector.name} (${mode})`;
  assert.equal(outcome.timedOut, false, `${label}: the server neither answered nor closed`);
  assert.equal(outcome.closed, true, `${label}: the connection stayed open`);
  assert.equal(outcome.rest, 0, `${label}: bytes after the last complete response`);
  const expected = (vector.requests ?? []).map(
    (r) => r.map((x) => (x === undefined ? x : expand(x))) as Seen,
  );
  const compare = (seen: Seen[]) => seen.map((s, i) => (expected[i]?.[3] === undefined ? s.slice(0, 3) : s));
  if (vector.expect === 'accept') {
    const sentinel = vector.closes === true ? 0 : 1;
    assert.deepEqual(
      outcome.statuses,
      new Array(expected.length + sentinel).fill(200),
      `${label}: statuses ${outcome.statuses.join(',')}`,
    );
    assert.deepEqual(outcome.codes, [], `${label}: no protocol error`);
    const seen = outcome.seen.slice(0, expected.length);
    assert.deepEqual(compare(seen), expected, `${label}: framing`);
    if (sentinel === 1) {
      assert.deepEqual(outcome.seen.at(-1)?.slice(0, 2), ['GET', '/__end'], `${label}: out of sync`);
    }
  } else {
    assert.deepEqual(
      outcome.statuses,
      [...new Array(expected.length).fill(200), vector.expect],
      `${label}: statuses ${outcome.statuses.join(',')}`,
    );
    assert.deepEqual(compare(outcome.seen), expected, `${label}: framing before the error`);
    assert.equal(outcome.lastConnection, 'close', `${label}: the error must announce the close`);
    assert.ok(vector.code !== undefined, `${label}: the table gives the expected error code`);
    assert.equal(PROTOCOL_ERROR[vector.code], vector.expect, `${label}: ${vector.code} maps to its status`);
    assert.deepEqual(outcome.codes, [vector.code], `${label}: error code`);
  }
}

describe('smuggling and conformance vectors over a socket', () => {
  const vectors = loadVectors();
  let wire: RunningWire;
  before(async () => {
    wire = await startWire(reportingHandler, {}, { observer: { onExchange: (r) => records.push(r) } });
  });
  after(async () => {
    await wire.close();
  });

  test(`the table has at least 150 vectors (${vectors.length}) across the families`, () => {
    assert.ok(vectors.length >= 150);
    const families = new Set(vectors.map((v) => v.family));
    for (const family of ['content-length', 'cl-te', 'te', 'chunk-size', 'chunk-ext', 'trailer']) {
      assert.ok(families.has(family), family);
    }
    const refused = vectors.filter((v) => v.expect !== 'accept').length;
    assert.ok(refused >= 150, `${refused} refusing vectors`);
  });

  test('every vector, sent whole', async () => {
    for (const vector of vectors) {
      const raw = expand(vector.raw) + (vector.expect === 'accept' && vector.closes !== true ? SENTINEL : '');
      check(vector, await run(wire.port, Buffer.from(raw, 'latin1'), undefined), 'whole');
    }
  });

  test('every vector, one byte at a time', async () => {
    for (const vector of vectors) {
      if (vector.split === false) continue;
      const raw = expand(vector.raw) + (vector.expect === 'accept' && vector.closes !== true ? SENTINEL : '');
      check(vector, await run(wire.port, Buffer.from(raw, 'latin1'), 1), 'byte by byte');
    }
  });

  test('large vectors in 1000-byte pieces', async () => {
    for (const vector of vectors) {
      if (vector.split !== false) continue;
      const raw = expand(vector.raw) + (vector.expect === 'accept' && vector.closes !== true ? SENTINEL : '');
      check(vector, await run(wire.port, Buffer.from(raw, 'latin1'), 1000), '1000-byte pieces');
    }
  });

  test('the wire logged nothing, not even the refused bodies its handler saw fail', () => {
    assert.deepEqual(wire.errors, []);
  });
});
