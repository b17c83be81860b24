/**
 * WebDAV judged by programs nobody here wrote: litmus (the WebDAV conformance suite: basic, copymove,
 * props, locks, http), rclone (copy, sync, move, check against a WebDAV remote) and cadaver (a scripted
 * session). Each test skips with a reason when its program is not installed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasProgram } from './helpers/dav.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a program to its end (stdin from `input`), collecting stdout and stderr together. */
function run(
  program: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** litmus' per-suite summary line: "<- summary for `props': of 30 tests run: 30 passed, 0 failed. 100.0%". */
export interface LitmusSummary {
  suite: string;
  run: number;
  passed: number;
  failed: number;
  warnings: number;
  skipped: number;
}

export function parseLitmusOutput(output: string): LitmusSummary[] {
  const summaries: LitmusSummary[] = [];
  let current: LitmusSummary | null = null;
  for (const line of output.split(/\r?\n/)) {
    const summary = /<- summary for `([\w-]+)': of (\d+) tests run: (\d+) passed, (\d+) failed/.exec(line);
    if (summary !== null) {
      current = {
        suite: summary[1]!,
        run: Number(summary[2]),
        passed: Number(summary[3]),
        failed: Number(summary[4]),
        warnings: 0,
        skipped: 0,
      };
      summaries.push(current);
      continue;
    }
    const warnings = /-> (\d+) warnings? (?:was|were) issued/.exec(line);
    if (warnings !== null && current !== null) current.warnings = Number(warnings[1]);
    const skipped = /-> (\d+) tests? (?:was|were) skipped/.exec(line);
    if (skipped !== null) {
      // litmus prints the skip count before the summary of the suite it belongs to.
      const pending = Number(skipped[1]);
      current = null;
      summaries.push({ suite: '(skips)', run: 0, passed: 0, failed: 0, warnings: 0, skipped: pending });
    }
  }
  return summaries;
}

/** The suites the issue asks for, with the number of tests litmus 0.13 runs in each. */
const LITMUS_SUITES: Readonly<Record<string, number>> = {
  basic: 16,
  copymove: 13,
  props: 30,
  locks: 41,
  http: 4,
};

function makeRoot(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

describe('litmus', { skip: hasProgram('litmus') ? false : 'litmus not installed' }, () => {
  let docroot: RunningDocroot;
  let root: string;
  let work: string;
  before(async () => {
    root = makeRoot('docroot-litmus-root-');
    work = makeRoot('docroot-litmus-work-');
    docroot = await startDocroot({ root, upload: {} });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  test('basic, copymove, props, locks and http: every test passes, no warning, none skipped', async () => {
    const result = await run('litmus', [`http://127.0.0.1:${docroot.port}/`], {
      cwd: work,
      env: { TESTS: Object.keys(LITMUS_SUITES).join(' ') },
    });
    const summaries = parseLitmusOutput(result.output);
    const failing = result.output
      .split('\n')
      .filter((line) => /FAIL|WARNING|SKIPPED/.test(line))
      .join('\n');
    assert.deepEqual(
      summaries.filter((summary) => summary.suite === '(skips)'),
      [],
      `litmus skipped tests:\n${failing}`,
    );
    assert.deepEqual(
      summaries.map((summary) => summary.suite),
      Object.keys(LITMUS_SUITES),
      result.output,
    );
    for (const summary of summaries) {
      assert.equal(summary.failed, 0, `${summary.suite} failed:\n${failing}`);
      assert.equal(summary.warnings, 0, `${summary.suite} warned:\n${failing}`);
      assert.equal(summary.run, LITMUS_SUITES[summary.suite], `${summary.suite} ran ${summary.run} tests`);
      assert.equal(summary.passed, summary.run);
    }
    assert.equal(result.code, 0, result.output);
    assert.deepEqual(docroot.errors, []);
  });

  test('the same suites pass behind --auth (Basic credentials from litmus)', async () => {
    const guardedRoot = makeRoot('docroot-litmus-auth-');
    const guarded = await startDocroot({
      root: guardedRoot,
      upload: {},
      auth: [{ user: 'dav', password: 'secret', pathPrefix: '/', access: 'rw' }],
    });
    try {
      const result = await run('litmus', [`http://127.0.0.1:${guarded.port}/`, 'dav', 'secret'], {
        cwd: work,
        env: { TESTS: 'basic copymove props locks' },
      });
      const summaries = parseLitmusOutput(result.output);
      assert.equal(summaries.length, 4, result.output);
      for (const summary of summaries) assert.equal(summary.failed, 0, result.output);
      assert.equal(result.code, 0, result.output);
    } finally {
      await guarded.close();
      rmSync(guardedRoot, { recursive: true, force: true });
    }
  });
});

describe('rclone', { skip: hasProgram('rclone') ? false : 'rclone not installed' }, () => {
  let docroot: RunningDocroot;
  let root: string;
  let local: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    root = makeRoot('docroot-rclone-root-');
    local = makeRoot('docroot-rclone-local-');
    mkdirSync(path.join(local, 'sub', 'deeper'), { recursive: true });
    writeFileSync(path.join(local, 'a.txt'), 'alpha\n');
    writeFileSync(path.join(local, 'space & ümlaut.txt'), 'spaces and UTF-8\n');
    writeFileSync(path.join(local, 'sub', 'b.bin'), Buffer.alloc(300_000, 7));
    writeFileSync(path.join(local, 'sub', 'deeper', 'c.txt'), 'gamma\n');
    docroot = await startDocroot({ root, upload: {} });
    // The remote comes from the environment; an empty config file keeps rclone away from $HOME.
    const config = path.join(local, '..', `${path.basename(local)}.rclone.conf`);
    writeFileSync(config, '');
    env = {
      RCLONE_CONFIG: config,
      RCLONE_CONFIG_DOCROOT_TYPE: 'webdav',
      RCLONE_CONFIG_DOCROOT_URL: `http://127.0.0.1:${docroot.port}/`,
      RCLONE_CONFIG_DOCROOT_VENDOR: 'other',
    };
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(local, { recursive: true, force: true });
  });

  const rclone = (...args: string[]) => run('rclone', [...args], { cwd: os.tmpdir(), env });

  test('copy, check, sync (with a deletion), move, and check again', async () => {
    const copy = await rclone('copy', local, 'docroot:mirror');
    assert.equal(copy.code, 0, copy.output);
    assert.equal(readFileSync(path.join(root, 'mirror', 'space & ümlaut.txt'), 'utf8'), 'spaces and UTF-8\n');
    assert.deepEqual(readFileSync(path.join(root, 'mirror', 'sub', 'b.bin')), Buffer.alloc(300_000, 7));
    const check = await rclone('check', local, 'docroot:mirror');
    assert.equal(check.code, 0, check.output);
    assert.match(check.output, /0 differences found/);

    rmSync(path.join(local, 'a.txt'));
    writeFileSync(path.join(local, 'new.txt'), 'new\n');
    const sync = await rclone('sync', local, 'docroot:mirror');
    assert.equal(sync.code, 0, sync.output);
    assert.equal(existsSync(path.join(root, 'mirror', 'a.txt')), false);
    assert.equal(readFileSync(path.join(root, 'mirror', 'new.txt'), 'utf8'), 'new\n');
    assert.equal((await rclone('check', local, 'docroot:mirror')).code, 0);

    const move = await rclone('move', 'docroot:mirror/sub', 'docroot:moved');
    assert.equal(move.code, 0, move.output);
    assert.equal(readFileSync(path.join(root, 'moved', 'deeper', 'c.txt'), 'utf8'), 'gamma\n');
    assert.equal(existsSync(path.join(root, 'mirror', 'sub', 'b.bin')), false);
    const checkMoved = await rclone('check', path.join(local, 'sub'), 'docroot:moved');
    assert.equal(checkMoved.code, 0, checkMoved.output);
    assert.deepEqual(docroot.errors, []);
  });
});

describe('cadaver', { skip: hasProgram('cadaver') ? false : 'cadaver not installed' }, () => {
  let docroot: RunningDocroot;
  let root: string;
  let home: string;
  before(async () => {
    root = makeRoot('docroot-cadaver-root-');
    home = makeRoot('docroot-cadaver-home-');
    writeFileSync(path.join(home, 'local.txt'), 'from cadaver\n');
    docroot = await startDocroot({
      root,
      upload: {},
      auth: [{ user: 'cad', password: 'aver', pathPrefix: '/', access: 'rw' }],
    });
    // cadaver reads credentials from ~/.netrc; a temporary HOME keeps the real one out of it.
    writeFileSync(path.join(home, '.netrc'), 'machine 127.0.0.1\nlogin cad\npassword aver\n', {
      mode: 0o600,
    });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  test('a scripted session: mkcol, put, copy, move, lock, discover, unlock, get, delete, rmcol', async () => {
    const script = [
      'mkcol folder',
      'put local.txt folder/one.txt',
      'copy folder/one.txt folder/two.txt',
      'move folder/two.txt folder/three.txt',
      'lock folder/one.txt',
      'discover folder/one.txt',
      'unlock folder/one.txt',
      'get folder/three.txt back.txt',
      'delete folder/one.txt',
      'ls folder',
      'mkcol gone',
      'rmcol gone',
      'quit',
      '',
    ].join('\n');
    const session = await run('cadaver', [`http://127.0.0.1:${docroot.port}/`], {
      cwd: home,
      env: { HOME: home },
      input: script,
    });
    assert.equal(session.code, 0, session.output);
    assert.doesNotMatch(session.output, /failed/i, session.output);
    assert.equal((session.output.match(/succeeded/g) ?? []).length, 11, session.output);
    assert.match(session.output, /Lock token <urn:uuid:[0-9a-f-]{36}>/);
    assert.match(session.output, /Scope: exclusive/);
    assert.equal(readFileSync(path.join(home, 'back.txt'), 'utf8'), 'from cadaver\n');
    assert.equal(existsSync(path.join(root, 'folder', 'one.txt')), false);
    assert.equal(existsSync(path.join(root, 'folder', 'two.txt')), false);
    assert.equal(readFileSync(path.join(root, 'folder', 'three.txt'), 'utf8'), 'from cadaver\n');
    assert.equal(existsSync(path.join(root, 'gone')), false);
    assert.deepEqual(docroot.errors, []);
  });
});

/** Why the davfs2 test cannot run here, or false when it can. */
function davfs2Skip(): string | false {
  if (!hasProgram('mount.davfs')) return 'davfs2 not installed';
  if (process.getuid?.() !== 0) return 'mounting with davfs2 needs root';
  if (!existsSync('/dev/fuse')) return 'davfs2 needs /dev/fuse';
  return false;
}

describe('davfs2 (a real mount)', { skip: davfs2Skip() }, () => {
  let docroot: RunningDocroot;
  let base: string;
  let root: string;
  let mountPoint: string;
  let conf: string;
  const methods: string[] = [];
  before(async () => {
    base = makeRoot('docroot-davfs2-');
    // davfs2 drops to its own user for the cache: the folders on the way must be reachable.
    chmodSync(base, 0o755);
    root = path.join(base, 'root');
    mountPoint = path.join(base, 'mnt');
    const cache = path.join(base, 'cache');
    for (const dir of [root, mountPoint, cache]) mkdirSync(dir);
    chmodSync(cache, 0o777);
    writeFileSync(path.join(root, 'hello.txt'), 'hello from the server\n');
    writeFileSync(path.join(root, 'doomed.txt'), 'x');
    const secrets = path.join(base, 'secrets');
    writeFileSync(secrets, `${mountPoint} dav secret\n`, { mode: 0o600 });
    conf = path.join(base, 'davfs2.conf');
    writeFileSync(conf, `cache_dir ${cache}\nsecrets ${secrets}\nuse_locks 1\ndelay_upload 0\n`);
    docroot = await startDocroot({
      root,
      upload: {},
      auth: [{ user: 'dav', password: 'secret', pathPrefix: '/', access: 'rw' }],
      observer: { onExchange: (record) => methods.push(`${record.request?.method} ${record.status}`) },
    });
  });
  after(async () => {
    if (mountPoint !== undefined) await run('umount', [mountPoint], { cwd: base });
    await docroot?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('mount with credentials, read, write, mkdir, rename and delete through the file system', async (t) => {
    const mounted = await run(
      'mount.davfs',
      [`http://127.0.0.1:${docroot.port}/`, mountPoint, '-o', `conf=${conf}`],
      {
        cwd: base,
      },
    );
    // A mount refused before davfs2 said a word to the server is the machine's limit (a container without
    // mount rights), not docroot's: skip then, with davfs2's reason.
    if (mounted.code !== 0 && methods.length === 0) {
      t.skip(`this machine cannot mount: ${mounted.output.trim()}`);
      return;
    }
    assert.equal(mounted.code, 0, mounted.output);
    // The server runs in this process: the file-system calls must not block its event loop (async fs).
    const inMount = (name: string) => path.join(mountPoint, name);
    assert.equal(await fs.readFile(inMount('hello.txt'), 'utf8'), 'hello from the server\n');
    assert.equal((await fs.stat(inMount('hello.txt'))).size, 22);
    await fs.writeFile(inMount('written.txt'), 'written through the mount\n');
    await fs.mkdir(inMount('made'));
    await fs.rename(inMount('hello.txt'), inMount('made/moved.txt'));
    await fs.unlink(inMount('doomed.txt'));
    // Unmounting waits for davfs2 to upload what is still in its cache.
    const unmounted = await run('umount', [mountPoint], { cwd: base });
    assert.equal(unmounted.code, 0, unmounted.output);
    assert.equal(readFileSync(path.join(root, 'written.txt'), 'utf8'), 'written through the mount\n');
    assert.equal(readFileSync(path.join(root, 'made', 'moved.txt'), 'utf8'), 'hello from the server\n');
    assert.equal(existsSync(path.join(root, 'hello.txt')), false);
    assert.equal(existsSync(path.join(root, 'doomed.txt')), false);
    for (const expected of [
      'PROPFIND 207',
      'LOCK 201',
      'UNLOCK 204',
      'MKCOL 201',
      'MOVE 201',
      'DELETE 204',
    ]) {
      assert.ok(methods.includes(expected), `${expected} not among ${methods.join(', ')}`);
    }
    assert.deepEqual(docroot.errors, []);
  });
});

/** Why the gvfs test cannot run here, or false when it can. */
function gvfsSkip(): string | false {
  for (const program of ['gio', 'dbus-run-session'])
    if (!hasProgram(program)) return `${program} not installed`;
  if (!existsSync('/usr/libexec/gvfsd-dav')) return 'gvfs-backends (the dav backend) not installed';
  return false;
}

describe('gvfs (GNOME Files) through gio', { skip: gvfsSkip() }, () => {
  let docroot: RunningDocroot;
  let base: string;
  let root: string;
  let exchanges = 0;
  before(async () => {
    base = makeRoot('docroot-gvfs-');
    root = path.join(base, 'root');
    mkdirSync(root);
    writeFileSync(path.join(root, 'hello.txt'), 'hello gvfs\n');
    writeFileSync(path.join(base, 'local.txt'), 'from gio\n');
    docroot = await startDocroot({
      root,
      upload: {},
      auth: [{ user: 'gnome', password: 'files', pathPrefix: '/', access: 'rw' }],
      observer: { onExchange: () => exchanges++ },
    });
  });
  after(async () => {
    await docroot?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('mount with a password, list, cat, copy, mkdir, move, rename, remove, unmount', async (t) => {
    const url = `dav://127.0.0.1:${docroot.port}`;
    // A private session bus: gio starts gvfsd and its dav backend on it, and they end with it.
    const steps = [
      `printf 'gnome\\nfiles\\n' | gio mount ${url}/; echo "mount=$?"`,
      `gio list ${url}/; echo "list=$?"`,
      `gio cat ${url}/hello.txt; echo "cat=$?"`,
      `gio copy local.txt ${url}/copied.txt; echo "copy=$?"`,
      `gio mkdir ${url}/made; echo "mkdir=$?"`,
      `gio move ${url}/copied.txt ${url}/made/moved.txt; echo "move=$?"`,
      `gio rename ${url}/hello.txt renamed.txt; echo "rename=$?"`,
      `gio remove ${url}/made/moved.txt; echo "remove=$?"`,
      `gio mount -u ${url}/; echo "unmount=$?"`,
    ];
    const session = await run('dbus-run-session', ['--', 'sh', '-c', steps.join('\n')], {
      cwd: base,
      env: { HOME: base },
    });
    // gvfs that never reached the server could not start here (no session bus, no daemons): not docroot's.
    if (exchanges === 0) {
      t.skip(`gvfs could not run here: ${session.output.trim().split('\n').slice(-3).join(' / ')}`);
      return;
    }
    for (const step of ['mount', 'list', 'cat', 'copy', 'mkdir', 'move', 'rename', 'remove', 'unmount']) {
      assert.match(session.output, new RegExp(`^${step}=0$`, 'm'), session.output);
    }
    assert.match(session.output, /^hello\.txt$/m);
    assert.match(session.output, /^hello gvfs$/m);
    assert.equal(readFileSync(path.join(root, 'renamed.txt'), 'utf8'), 'hello gvfs\n');
    assert.equal(existsSync(path.join(root, 'hello.txt')), false);
    assert.ok(existsSync(path.join(root, 'made')));
    assert.equal(existsSync(path.join(root, 'made', 'moved.txt')), false);
    assert.equal(existsSync(path.join(root, 'copied.txt')), false);
    assert.deepEqual(docroot.errors, []);
  });
});
