/**
 * ?download=zip and ?download=tar.gz: archives streamed from a folder made at test time, opened with the
 * real `unzip` and `tar`, contents compared byte for byte, the serving policy (dotfiles, symlinks out of
 * the root) respected, and memory flat while a large folder streams.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { contentDisposition } from '../src/handlers/folder-tools.js';
import { download } from './helpers/download.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';
import { STRESS } from './helpers/stress.js';

function toolMissing(command: string): string | null {
  const probe = spawnSync(command, [command === 'unzip' ? '-v' : '--version']);
  return probe.status === 0 ? null : `${command} is not installed (Debian package ${command})`;
}

/** A small site: nested folders, a non-ASCII name, dotfiles, a symlink out of the root. */
function makeSite(base: string): string {
  const root = path.join(base, 'site');
  mkdirSync(path.join(root, 'docs', 'deep', 'deeper'), { recursive: true });
  mkdirSync(path.join(root, '.git'), { recursive: true });
  mkdirSync(path.join(root, 'café'), { recursive: true });
  writeFileSync(path.join(root, 'index.txt'), 'top level\n');
  writeFileSync(path.join(root, 'docs', 'guide.md'), '# Guide\n'.repeat(500));
  writeFileSync(path.join(root, 'docs', 'deep', 'deeper', 'leaf.txt'), 'leaf\n');
  writeFileSync(path.join(root, 'docs', 'photo.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
  writeFileSync(path.join(root, 'docs', 'empty.txt'), '');
  writeFileSync(path.join(root, 'café', 'menu du jour.txt'), 'crème brûlée\n');
  // Past ustar's 100-byte name field: one splits into prefix and name, the other needs a pax record.
  mkdirSync(path.join(root, 'docs', LONG_FOLDER), { recursive: true });
  writeFileSync(path.join(root, 'docs', LONG_FOLDER, LONG_FILE), 'long path\n');
  writeFileSync(path.join(root, 'docs', VERY_LONG_FILE), 'very long name\n');
  writeFileSync(path.join(root, '.env'), 'SECRET=1\n');
  writeFileSync(path.join(root, '.git', 'config'), '[core]\n');
  writeFileSync(path.join(root, 'docs', '.draft.md'), 'not yet\n');
  writeFileSync(path.join(base, 'outside.txt'), 'outside the root\n');
  symlinkSync(path.join(base, 'outside.txt'), path.join(root, 'docs', 'escape.txt'));
  return root;
}

const LONG_FOLDER = 'a'.repeat(60);
const LONG_FILE = `${'b'.repeat(80)}.txt`;
const VERY_LONG_FILE = `${'c'.repeat(150)}.txt`;

const EXPECTED_FILES = [
  `site/docs/${LONG_FOLDER}/${LONG_FILE}`,
  `site/docs/${VERY_LONG_FILE}`,
  'site/index.txt',
  'site/docs/guide.md',
  'site/docs/deep/deeper/leaf.txt',
  'site/docs/photo.jpg',
  'site/docs/empty.txt',
  'site/café/menu du jour.txt',
];

function listFiles(dir: string): string[] {
  const result = spawnSync('find', ['.', '-type', 'f'], { cwd: dir, encoding: 'utf8' });
  return result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.slice(2))
    .sort();
}

describe('folder archives', () => {
  let base: string;
  let root: string;
  let docroot: RunningDocroot;
  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-archives-'));
    root = makeSite(base);
    docroot = await startDocroot({ root });
  });
  after(async () => {
    await docroot.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('?download=zip streams a zip that unzip opens, with the same bytes and no dotfiles', async (t) => {
    const missing = toolMissing('unzip');
    if (missing !== null) return t.skip(missing);
    const answer = await download(docroot.port, '/?download=zip');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/zip');
    assert.equal(answer.headers['content-disposition'], 'attachment; filename="site.zip"');
    assert.equal(answer.headers['transfer-encoding'], 'chunked');
    assert.equal(answer.headers['cache-control'], 'no-store');
    const work = mkdtempSync(path.join(base, 'unzip-'));
    writeFileSync(path.join(work, 'a.zip'), answer.body);
    const tested = spawnSync('unzip', ['-t', 'a.zip'], { cwd: work, encoding: 'utf8' });
    assert.equal(tested.status, 0, tested.stdout + tested.stderr);
    const extracted = spawnSync('unzip', ['-q', 'a.zip', '-d', 'out'], { cwd: work, encoding: 'utf8' });
    assert.equal(extracted.status, 0, extracted.stderr);
    const out = path.join(work, 'out');
    assert.deepEqual(listFiles(out), [...EXPECTED_FILES].sort());
    for (const name of EXPECTED_FILES) {
      const original = readFileSync(path.join(root, name.slice('site/'.length)));
      assert.deepEqual(readFileSync(path.join(out, name)), original, name);
    }
  });

  test('?download=tar.gz streams a tar.gz that tar reads, with the same bytes and no dotfiles', async (t) => {
    const missing = toolMissing('tar');
    if (missing !== null) return t.skip(missing);
    const answer = await download(docroot.port, '/?download=tar.gz');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/gzip');
    assert.equal(answer.headers['content-disposition'], 'attachment; filename="site.tar.gz"');
    const work = mkdtempSync(path.join(base, 'tar-'));
    writeFileSync(path.join(work, 'a.tar.gz'), answer.body);
    mkdirSync(path.join(work, 'out'));
    const extracted = spawnSync('tar', ['-xzf', 'a.tar.gz', '-C', 'out'], { cwd: work, encoding: 'utf8' });
    assert.equal(extracted.status, 0, extracted.stderr);
    const out = path.join(work, 'out');
    assert.deepEqual(listFiles(out), [...EXPECTED_FILES].sort());
    for (const name of EXPECTED_FILES) {
      const original = readFileSync(path.join(root, name.slice('site/'.length)));
      assert.deepEqual(readFileSync(path.join(out, name)), original, name);
    }
  });

  test('a subfolder is archived under its own name; a non-ASCII name gets filename* (RFC 6266)', async () => {
    const answer = await download(docroot.port, '/caf%C3%A9/?download=zip');
    assert.equal(answer.status, 200);
    assert.equal(
      answer.headers['content-disposition'],
      `attachment; filename="caf_.zip"; filename*=UTF-8''caf%C3%A9.zip`,
    );
    assert.equal(
      contentDisposition(`it's "x".zip`),
      `attachment; filename="it's _x_.zip"; filename*=UTF-8''it%27s%20%22x%22.zip`,
    );
  });

  test('HEAD answers the headers without walking; unknown formats are 400; the slashless URL redirects', async () => {
    const head = await download(docroot.port, '/docs/?download=tar.gz', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-disposition'], 'attachment; filename="docs.tar.gz"');
    assert.equal(head.body.length, 0);
    const unknown = await download(docroot.port, '/docs/?download=rar');
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.toString(), /^400 Bad Request: download= takes zip, tar\.gz or selection\n$/);
    const redirect = await download(docroot.port, '/docs?download=zip');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/docs/?download=zip');
  });

  test('a folder with index.html is still archived, not its page', async () => {
    writeFileSync(path.join(root, 'docs', 'deep', 'index.html'), '<p>page</p>');
    try {
      const answer = await download(docroot.port, '/docs/deep/?download=zip');
      assert.equal(answer.headers['content-type'], 'application/zip');
    } finally {
      rmSync(path.join(root, 'docs', 'deep', 'index.html'));
    }
  });

  test('a hidden folder cannot be archived (404), as it cannot be listed', async () => {
    const answer = await download(docroot.port, '/.git/?download=zip');
    assert.equal(answer.status, 404);
  });
});

describe('archives follow the server settings', () => {
  let base: string;
  let root: string;
  before(() => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-archive-settings-'));
    root = makeSite(base);
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  test('--dotfiles and --follow-symlinks put hidden files and outside targets in', async (t) => {
    const missing = toolMissing('unzip');
    if (missing !== null) return t.skip(missing);
    const docroot = await startDocroot({ root, dotfiles: true, followSymlinks: true });
    try {
      const answer = await download(docroot.port, '/?download=zip');
      const work = mkdtempSync(path.join(base, 'unzip-'));
      writeFileSync(path.join(work, 'a.zip'), answer.body);
      const listing = spawnSync('unzip', ['-Z1', 'a.zip'], { cwd: work, encoding: 'utf8' }).stdout;
      assert.match(listing, /^site\/\.env$/m);
      assert.match(listing, /^site\/\.git\/config$/m);
      assert.match(listing, /^site\/docs\/escape\.txt$/m);
    } finally {
      await docroot.close();
    }
  });

  test('--auth: what a request may not read stays out of its archive', async (t) => {
    const missing = toolMissing('unzip');
    if (missing !== null) return t.skip(missing);
    const auth = [
      { pathPrefix: '/', access: 'ro' as const },
      { user: 'admin', password: 'secret', pathPrefix: '/docs', access: 'ro' as const },
    ];
    const docroot = await startDocroot({ root, auth });
    try {
      const answer = await download(docroot.port, '/?download=zip');
      const work = mkdtempSync(path.join(base, 'unzip-auth-'));
      writeFileSync(path.join(work, 'a.zip'), answer.body);
      const names = spawnSync('unzip', ['-Z1', 'a.zip'], { cwd: work, encoding: 'utf8' }).stdout;
      assert.match(names, /^site\/index\.txt$/m);
      assert.doesNotMatch(names, /docs/);
    } finally {
      await docroot.close();
    }
  });

  test('with listings off, or archives off, ?download= is not offered', async () => {
    for (const options of [{ listing: false }, { archives: false }]) {
      const docroot = await startDocroot({ root, ...options });
      try {
        const answer = await download(docroot.port, '/docs/?download=zip');
        assert.notEqual(answer.headers['content-type'], 'application/zip');
      } finally {
        await docroot.close();
      }
    }
  });
});

describe('archive memory', STRESS, () => {
  const SPARSE_BYTES = 512 * 1024 * 1024;
  const SMALL_FILES = 2000;
  /** Far below the archive's size: a buffered archive would blow through it many times over. */
  const MAX_RSS_GROWTH_BYTES = 96 * 1024 * 1024;
  let base: string;
  let docroot: RunningDocroot;
  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-archive-memory-'));
    const root = path.join(base, 'big');
    mkdirSync(path.join(root, 'many'), { recursive: true });
    const fd = openSync(path.join(root, 'sparse.bin'), 'w');
    ftruncateSync(fd, SPARSE_BYTES);
    closeSync(fd);
    for (let i = 0; i < SMALL_FILES; i++) writeFileSync(path.join(root, 'many', `f${i}.txt`), `file ${i}\n`);
    docroot = await startDocroot({ root });
  });
  after(async () => {
    await docroot.close();
    rmSync(base, { recursive: true, force: true });
  });

  for (const format of ['zip', 'tar.gz']) {
    test(`a ${format} of a 512 MiB file and ${SMALL_FILES} small ones streams with flat memory`, async () => {
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      let received = 0;
      try {
        await new Promise<void>((resolve, reject) => {
          http
            .get(
              { host: '127.0.0.1', port: docroot.port, path: `/?download=${format}`, agent: false },
              (res) => {
                res.on('data', (chunk: Buffer) => {
                  received += chunk.length;
                });
                res.on('end', resolve);
                res.on('error', reject);
              },
            )
            .on('error', reject);
        });
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      // zip stores the .bin (octet-stream is not worth deflating); gzip squeezes the zeros to a sliver.
      if (format === 'zip') assert.ok(received > SPARSE_BYTES, `received ${received} bytes`);
      else assert.ok(received > 10_000, `received ${received} bytes`);
      assert.ok(
        peak - before < MAX_RSS_GROWTH_BYTES,
        `RSS grew by ${Math.round((peak - before) / 1048576)} MiB while streaming`,
      );
    });
  }
});
