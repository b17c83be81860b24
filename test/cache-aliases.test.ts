/**
 * Cache keys are the resolved path: the aliases of one file (`//f.txt`, `/./f.txt`, `/%66.txt`, `/%2E/f.txt`)
 * share one cache entry, so each compressed form is made once, counted through the compression counter.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buffersCompressedSoFar } from '../src/files/encodings.js';
import { exchange, get } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

const ALIASES = ['/f.txt', '//f.txt', '/./f.txt', '/%66.txt', '/%2E/f.txt', '///%66.txt'];

describe('cache keys are the resolved path', () => {
  let root: string;
  let docroot: RunningDocroot;
  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'docroot-aliases-'));
    mkdirSync(path.join(root, 'a'));
    writeFileSync(path.join(root, 'f.txt'), 'compressible text, '.repeat(500));
    docroot = await startDocroot({ root });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('every alias gets the same representation, and each coding is compressed once', async () => {
    const before = buffersCompressedSoFar();
    const etags = new Set<string>();
    for (let round = 0; round < 3; round++) {
      for (const alias of ALIASES) {
        for (const coding of ['br', 'gzip']) {
          const { responses } = await exchange(docroot.port, get(alias, `Accept-Encoding: ${coding}\r\n`));
          const response = responses[0];
          assert.equal(response?.status, 200, `${alias}: ${response?.body.toString()}`);
          assert.equal(response.headers['content-encoding'], coding);
          etags.add(response.headers.etag!);
        }
      }
    }
    assert.equal(etags.size, 2, 'one ETag per coding, whatever the alias');
    assert.equal(buffersCompressedSoFar() - before, 2, 'brotli once and gzip once');
  });
});
