/**
 * The archive formats' extensions, reached with small data: the field limits where ZIP switches to ZIP64
 * (sizes and offsets past 4 GiB, more than 65,535 entries) and tar to a pax `size` record (past 8 GiB)
 * are lowered through `formatLimits`, and the result is checked by programs nobody here wrote: `unzip -t`,
 * Python's `zipfile`, and GNU `tar`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createTarGzStream } from '../src/archive/tar.js';
import { type ArchiveEntry, type ArchiveFormatLimits, createZipStream } from '../src/archive/zip.js';

/** Small enough that a few kilobytes cross every ZIP64 threshold. */
const SMALL_ZIP_LIMITS: Partial<ArchiveFormatLimits> = {
  zipFieldMax: 4096,
  zipEntryCountMax: 10,
  zip64EntryFromStart: 3000,
};
const SMALL_USTAR_LIMIT: Partial<ArchiveFormatLimits> = { ustarSizeMax: 4096 };
const SMALL_FILES = 20;
/** Random, so deflate cannot bring it under the lowered field limit. */
const BIG_FILE_BYTES = 6000;

const ZIP64_END_SIGNATURE = Buffer.from([0x50, 0x4b, 0x06, 0x06]);
const ZIP64_LOCATOR_SIGNATURE = Buffer.from([0x50, 0x4b, 0x06, 0x07]);
const END_SIGNATURE = Buffer.from([0x50, 0x4b, 0x05, 0x06]);

function missing(command: string, args: string[]): string | null {
  return spawnSync(command, args).status === 0 ? null : `${command} is not installed`;
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('archive format limits crossed with small data', () => {
  let base: string;
  let root: string;
  /** Archive name → sha256 of the file's bytes. */
  const expected = new Map<string, string>();
  const entries: ArchiveEntry[] = [];

  async function* walk(): AsyncGenerator<ArchiveEntry> {
    yield* entries;
  }

  before(() => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-archive-limits-'));
    root = path.join(base, 'root');
    mkdirSync(path.join(root, 'folder'), { recursive: true });
    const add = (name: string, data: Buffer | null) => {
      const absolutePath = path.join(root, name);
      if (data !== null) writeFileSync(absolutePath, data);
      const stats = statSync(absolutePath);
      entries.push({
        name,
        absolutePath,
        isDirectory: data === null,
        size: data === null ? 0 : data.length,
        mtime: stats.mtime,
        mode: stats.mode & 0o777,
      });
      if (data !== null) expected.set(name, sha256(data));
    };
    add('folder', null);
    add('big-first.bin', randomBytes(BIG_FILE_BYTES));
    for (let i = 0; i < SMALL_FILES; i++) {
      add(`folder/small-${i}.txt`, Buffer.from(`small file number ${i}\n`.repeat(i + 1)));
    }
    add('big-last.bin', randomBytes(BIG_FILE_BYTES));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  test('ZIP64: the lowered limits produce the ZIP64 records, the defaults do not', async () => {
    const small = await collect(createZipStream(walk(), { formatLimits: SMALL_ZIP_LIMITS }));
    assert.ok(small.includes(ZIP64_END_SIGNATURE), 'a ZIP64 end of central directory record');
    assert.ok(small.includes(ZIP64_LOCATOR_SIGNATURE), 'a ZIP64 end locator');
    const end = small.subarray(small.lastIndexOf(END_SIGNATURE));
    assert.equal(end.readUInt16LE(10), 0xffff, 'the entry count says "see the ZIP64 record"');
    assert.equal(end.readUInt32LE(16), 0xffffffff, 'the central directory offset says so too');
    const plain = await collect(createZipStream(walk()));
    assert.ok(!plain.includes(ZIP64_END_SIGNATURE), 'no ZIP64 end record with the real limits');
    assert.equal(plain.subarray(plain.lastIndexOf(END_SIGNATURE)).readUInt16LE(10), entries.length);
  });

  test('ZIP64: unzip -t finds no errors and extracts every byte', async (t) => {
    const skip = missing('unzip', ['-v']);
    if (skip !== null) return t.skip(skip);
    const work = mkdtempSync(path.join(base, 'unzip-'));
    writeFileSync(
      path.join(work, 'a.zip'),
      await collect(createZipStream(walk(), { formatLimits: SMALL_ZIP_LIMITS })),
    );
    const tested = spawnSync('unzip', ['-t', 'a.zip'], { cwd: work, encoding: 'utf8' });
    assert.equal(tested.status, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /No errors detected/);
    const extracted = spawnSync('unzip', ['-q', 'a.zip', '-d', 'out'], { cwd: work, encoding: 'utf8' });
    assert.equal(extracted.status, 0, extracted.stderr);
    for (const [name, digest] of expected) {
      assert.equal(sha256(readFileSync(path.join(work, 'out', name))), digest, name);
    }
  });

  test("ZIP64: Python's zipfile reads the ZIP64 records and every CRC checks", async (t) => {
    const skip = missing('python3', ['--version']);
    if (skip !== null) return t.skip(skip);
    const file = path.join(base, 'python.zip');
    writeFileSync(file, await collect(createZipStream(walk(), { formatLimits: SMALL_ZIP_LIMITS })));
    const script = [
      'import hashlib, json, sys, zipfile',
      'with zipfile.ZipFile(sys.argv[1]) as z:',
      '    bad = z.testzip()',
      '    infos = z.infolist()',
      '    digests = {i.filename: hashlib.sha256(z.read(i)).hexdigest() for i in infos if not i.is_dir()}',
      '    zip64 = [i.filename for i in infos if i.extract_version >= 45]',
      '    print(json.dumps({"bad": bad, "count": len(infos), "digests": digests, "zip64": zip64}))',
    ].join('\n');
    const run = spawnSync('python3', ['-c', script, file], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout) as {
      bad: string | null;
      count: number;
      digests: Record<string, string>;
      zip64: string[];
    };
    assert.equal(result.bad, null, 'every CRC matches');
    assert.equal(result.count, entries.length, 'the count comes from the ZIP64 end record');
    assert.deepEqual(result.digests, Object.fromEntries(expected));
    assert.ok(
      result.zip64.includes('big-first.bin') && result.zip64.includes('big-last.bin'),
      String(result.zip64),
    );
  });

  test('pax: a size over the ustar limit goes in a pax record that GNU tar reads', async (t) => {
    const skip = missing('tar', ['--version']);
    if (skip !== null) return t.skip(skip);
    if (!/GNU tar/.test(spawnSync('tar', ['--version'], { encoding: 'utf8' }).stdout)) {
      return t.skip('tar is not GNU tar');
    }
    const gz = await collect(createTarGzStream(walk(), { formatLimits: SMALL_USTAR_LIMIT }));
    const tar = gunzipSync(gz);
    const records = tar.toString('latin1').match(/\d+ size=\d+\n/g) ?? [];
    assert.deepEqual(records, [`13 size=${BIG_FILE_BYTES}\n`, `13 size=${BIG_FILE_BYTES}\n`]);
    const plain = gunzipSync(await collect(createTarGzStream(walk())));
    assert.doesNotMatch(plain.toString('latin1'), / size=\d+\n/, 'no pax size record with the real limit');

    const work = mkdtempSync(path.join(base, 'tar-'));
    writeFileSync(path.join(work, 'a.tar.gz'), gz);
    const listed = spawnSync('tar', ['-tvzf', 'a.tar.gz'], { cwd: work, encoding: 'utf8' });
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(` ${BIG_FILE_BYTES} .* big-first\\.bin\\n`));
    mkdirSync(path.join(work, 'out'));
    const extracted = spawnSync('tar', ['-xzf', 'a.tar.gz', '-C', 'out'], { cwd: work, encoding: 'utf8' });
    assert.equal(extracted.status, 0, extracted.stderr);
    assert.equal(extracted.stderr, '', 'GNU tar has nothing to warn about');
    for (const [name, digest] of expected) {
      assert.equal(sha256(readFileSync(path.join(work, 'out', name))), digest, name);
    }
  });
});
