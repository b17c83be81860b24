/**
 * `?download=selection&select=…`: the listing's checked entries as one archive, opened with the real
 * `unzip` and `tar`; every name goes through the path rules and `--auth` like a request of its own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { download } from './helpers/download.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

const unzipMissing =
  spawnSync('unzip', ['-v']).status === 0 ? null : 'unzip is not installed (Debian package unzip)';
const tarMissing =
  spawnSync('tar', ['--version']).status === 0 ? null : 'tar is not installed (Debian package tar)';

/** Names in a ZIP, as Info-ZIP's `unzip -Z1` lists them (after `unzip -t` found it whole). */
function zipNames(base: string, zip: Buffer): string[] {
  const file = path.join(base, `check-${Date.now()}-${Math.random()}.zip`);
  writeFileSync(file, zip);
  const integrity = spawnSync('unzip', ['-t', file], { encoding: 'utf8' });
  assert.equal(integrity.status, 0, integrity.stdout + integrity.stderr);
  const listing = spawnSync('unzip', ['-Z1', file], { encoding: 'utf8' });
  assert.equal(listing.status, 0, listing.stderr);
  return listing.stdout
    .split('\n')
    .filter((line) => line !== '')
    .sort();
}

function selection(names: readonly string[], extra = ''): string {
  const params = new URLSearchParams();
  for (const name of names) params.append('select', name);
  return `download=selection&${params.toString()}${extra}`;
}

describe('downloading a selection of a folder as one archive', () => {
  let base: string;
  let root: string;
  let docroot: RunningDocroot;
  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-selection-'));
    root = path.join(base, 'site');
    mkdirSync(path.join(root, 'docs', 'deep'), { recursive: true });
    mkdirSync(path.join(root, 'private'), { recursive: true });
    writeFileSync(path.join(root, 'a b.txt'), 'first\n');
    writeFileSync(path.join(root, 'café.txt'), 'crème\n');
    writeFileSync(path.join(root, 'left out.txt'), 'not chosen\n');
    writeFileSync(path.join(root, 'docs', 'guide.md'), '# Guide\n');
    writeFileSync(path.join(root, 'docs', 'deep', 'leaf.txt'), 'leaf\n');
    writeFileSync(path.join(root, 'docs', '.draft'), 'hidden\n');
    writeFileSync(path.join(root, '.env'), 'SECRET=1\n');
    writeFileSync(path.join(root, 'private', 'key.txt'), 'secret\n');
    writeFileSync(path.join(base, 'outside.txt'), 'outside\n');
    symlinkSync(path.join(base, 'outside.txt'), path.join(root, 'escape.txt'));
    docroot = await startDocroot({ root });
  });
  after(async () => {
    await docroot?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('the chosen files and folders, and nothing else, inside a top folder', {
    skip: unzipMissing ?? false,
  }, async () => {
    const answer = await download(docroot.port, `/?${selection(['a b.txt', 'café.txt', 'docs'])}`);
    assert.equal(answer.status, 200, answer.body.toString());
    assert.equal(answer.headers['content-type'], 'application/zip');
    assert.equal(answer.headers['content-disposition'], 'attachment; filename="site.zip"');
    assert.deepEqual(zipNames(base, answer.body), [
      'site/a b.txt',
      'site/café.txt',
      'site/docs/',
      'site/docs/deep/',
      'site/docs/deep/leaf.txt',
      'site/docs/guide.md',
    ]);
  });

  test('a selection in a subfolder, as tar.gz', { skip: tarMissing ?? false }, async () => {
    const answer = await download(docroot.port, `/docs/?${selection(['deep'], '&format=tar.gz')}`);
    assert.equal(answer.status, 200, answer.body.toString());
    assert.equal(answer.headers['content-type'], 'application/gzip');
    const listed = spawnSync('tar', ['-tzf', '-'], { input: answer.body, encoding: 'utf8' });
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(listed.stdout.split('\n').filter(Boolean).sort(), ['docs/deep/', 'docs/deep/leaf.txt']);
  });

  const refusals: Array<[string, string[], number, RegExp]> = [
    ['nothing ticked', [], 400, /at least one select=/],
    ['a parent', ['..'], 400, /not an entry of this folder/],
    ['a path with a slash', ['docs/guide.md'], 400, /without "\/"/],
    ['a control character', ['a\u0001b'], 400, /control character/],
    ['a dotfile', ['.env'], 404, /^404 .*\.env: hidden files/],
    ['a name that is not there', ['missing.txt'], 404, /missing\.txt: no file or folder/],
    ['a symlink out of the root', ['escape.txt'], 403, /escape\.txt: .*outside the document root/],
    ['the server-owned prefix', ['.docroot-props'], 404, /docroot-props/],
  ];
  for (const [what, names, status, message] of refusals) {
    test(`refuses ${what} (${status}) before sending a byte of archive`, async () => {
      const answer = await download(docroot.port, `/?${selection(names)}`);
      assert.equal(answer.status, status, answer.body.toString());
      assert.match(answer.body.toString(), message);
      assert.match(String(answer.headers['content-type']), /^text\/plain/);
    });
  }

  test('more than 500 names are refused', async () => {
    const names = Array.from({ length: 501 }, (_, index) => `${index}`);
    const answer = await download(docroot.port, `/?${selection(names)}`);
    assert.equal(answer.status, 400);
    assert.match(answer.body.toString(), /at most 500 entries/);
  });
});

describe('a selection under --auth', { skip: unzipMissing ?? false }, () => {
  let base: string;
  let docroot: RunningDocroot;
  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-selection-auth-'));
    const root = path.join(base, 'share');
    mkdirSync(path.join(root, 'team', 'private'), { recursive: true });
    writeFileSync(path.join(root, 'open.txt'), 'open\n');
    writeFileSync(path.join(root, 'team', 'notes.txt'), 'notes\n');
    writeFileSync(path.join(root, 'team', 'private', 'key.txt'), 'secret\n');
    docroot = await startDocroot({
      root,
      auth: [
        { pathPrefix: '/', access: 'ro' },
        { user: 'admin', password: 'pw', pathPrefix: '/team/private', access: 'ro' },
      ],
    });
  });
  after(async () => {
    await docroot?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('a folder whose rule needs a password is left out of a selected parent', async () => {
    const answer = await download(docroot.port, `/?${selection(['open.txt', 'team'])}`);
    assert.equal(answer.status, 200, answer.body.toString());
    assert.deepEqual(zipNames(base, answer.body), ['share/open.txt', 'share/team/', 'share/team/notes.txt']);
  });

  test('selecting such a folder itself is refused with 403; with the password it is in', async () => {
    const refused = await download(docroot.port, `/team/?${selection(['private'])}`);
    assert.equal(refused.status, 403, refused.body.toString());
    assert.match(refused.body.toString(), /private: the --auth rules/);
    const allowed = await download(docroot.port, `/team/?${selection(['private', 'notes.txt'])}`, {
      headers: { Authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` },
    });
    assert.equal(allowed.status, 200, allowed.body.toString());
    assert.deepEqual(zipNames(base, allowed.body), [
      'team/notes.txt',
      'team/private/',
      'team/private/key.txt',
    ]);
  });
});
