/**
 * Write races (issue 17): concurrent `If-None-Match: *` PUTs have exactly one winner, and concurrent
 * PATCH appends keep every piece that was answered 204.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exchange } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

const CONCURRENT = 20;

describe('concurrent writes', () => {
  let root: string;
  let docroot: RunningDocroot;
  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'docroot-races-'));
    docroot = await startDocroot({ root, upload: {} });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const request = (method: string, target: string, extra: string, body: string) =>
    `${method} ${target} HTTP/1.1\r\nHost: localhost\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  test(`of ${CONCURRENT} If-None-Match: * PUTs exactly one creates the file (201), the rest get 412`, async () => {
    // Bodies large enough that the writes overlap on disk.
    const bodies = Array.from({ length: CONCURRENT }, (_, i) =>
      `${String(i).padStart(2, '0')}:`.repeat(50_000),
    );
    const results = await Promise.all(
      bodies.map((body) => exchange(docroot.port, request('PUT', '/once.txt', 'If-None-Match: *\r\n', body))),
    );
    const statuses = results.map((result) => result.responses[0]?.status);
    assert.equal(statuses.filter((status) => status === 201).length, 1, `statuses: ${statuses.join(' ')}`);
    assert.equal(statuses.filter((status) => status === 412).length, CONCURRENT - 1);
    const winner = statuses.indexOf(201);
    assert.equal(readFileSync(path.join(root, 'once.txt'), 'utf8'), bodies[winner]);
    const refusal = results.find((result) => result.responses[0]?.status === 412)!.responses[0]!;
    assert.equal(
      refusal.body.toString(),
      '412 Precondition Failed: If-None-Match: * was sent and the file already exists\n',
    );
  });

  test(`${CONCURRENT} concurrent PATCH appends are all kept, each piece whole`, async () => {
    writeFileSync(path.join(root, 'log.txt'), 'start\n');
    const pieces = Array.from(
      { length: CONCURRENT },
      (_, i) => `piece ${String(i).padStart(2, '0')} ${'x'.repeat(20_000)}\n`,
    );
    const results = await Promise.all(
      pieces.map((piece) =>
        exchange(docroot.port, request('PATCH', '/log.txt', 'X-Update-Range: append\r\n', piece)),
      ),
    );
    assert.deepEqual(
      results.map((result) => result.responses[0]?.status),
      pieces.map(() => 204),
    );
    const content = readFileSync(path.join(root, 'log.txt'), 'utf8');
    assert.equal(content.length, 'start\n'.length + pieces.reduce((sum, piece) => sum + piece.length, 0));
    const kept = content.slice('start\n'.length).split(/(?<=\n)/);
    assert.deepEqual([...kept].sort(), [...pieces].sort());
    // The last answer reports the whole file.
    const sizes = results.map((result) => Number(result.responses[0]?.headers['x-upload-size']));
    assert.equal(Math.max(...sizes), content.length);
  });
});
