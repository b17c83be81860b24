/**
 * The README's CGI recipes, run with the real programs nobody here wrote: PHP through php-cgi, git smart
 * HTTP through git http-backend (with and without --auth), and a Perl CGI.pm form, driven by curl and git.
 * Each part is skipped with the reason when its program is missing (.ci/run installs them all).
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseCommandLine } from '../src/cli/args.js';
import { parseAuthRule } from '../src/handlers/auth-rules.js';
import type { AuthRule } from '../src/server.js';
import type { WireObserver } from '../src/wire/observer.js';
import { exchange, get } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

const APPS = realpathSync(fileURLToPath(new URL('../../test/fixtures/apps', import.meta.url)));
const GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';
/** Over the wire's 16 MiB default and the old CGI cap, so these bodies only pass with --cgi-max-body. */
const LARGE_BODY_BYTES = 17 * 1024 * 1024;
/** Over 20 MB, as the push; random, so git's compression cannot shrink it. */
const PUSH_FILE_BYTES = 21 * 1000 * 1000;
/** A program run by a test may take this long on a loaded 2-core machine. */
const PROGRAM_TIMEOUT_MS = 120_000;

/** Why a program cannot be used here, or null when it runs. */
function missing(command: string, args: string[], what: string): string | null {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  return result.error === undefined && result.status === 0 ? null : `${what} is not installed`;
}

const CURL_MISSING = missing('curl', ['--version'], 'curl');
const PHP_MISSING = missing('php-cgi', ['-v'], 'php-cgi') ?? CURL_MISSING;
const GIT_MISSING =
  missing('git', ['--version'], 'git') ?? missing(GIT_HTTP_BACKEND, ['--help'], 'git http-backend (git)');
const PERL_MISSING = missing('perl', ['-MCGI', '-e', '1'], 'Perl CGI.pm (libcgi-pm-perl)') ?? CURL_MISSING;

interface ProgramResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without blocking the event loop (the server under test lives in this process). */
function runProgram(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { ...options, timeout: PROGRAM_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`${command} ${args.join(' ')}: ${error.message}`));
          return;
        }
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
      },
    );
  });
}

async function mustRun(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const result = await runProgram(command, args, options);
  assert.equal(result.code, 0, `${command} ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

function rules(...texts: string[]): AuthRule[] {
  return texts.map((text) => {
    const rule = parseAuthRule(text);
    assert.ok(typeof rule !== 'string', String(rule));
    return rule;
  });
}

/** Records whether each request arrived chunked, by path. */
function framingObserver(seen: Array<{ path: string; chunked: boolean }>): WireObserver {
  return {
    onRequestHead(_connection, head) {
      seen.push({ path: head.path, chunked: /chunked/i.test(head.headers['transfer-encoding'] ?? '') });
    },
  };
}

describe('PHP through php-cgi (--cgi-ext .php=php-cgi)', { skip: PHP_MISSING ?? false }, () => {
  const root = path.join(APPS, 'php');
  let scratch: string;
  let docroot: RunningDocroot;
  let base: string;
  const requests: Array<{ path: string; chunked: boolean }> = [];
  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'docroot-php-'));
    mkdirSync(path.join(scratch, 'sessions'));
    // The recipe's settings: PHP's own 8M post limit raised for the large forms, sessions kept here.
    const phpCgi = `php-cgi -d post_max_size=64M -d upload_max_filesize=64M -d session.save_path=${scratch}/sessions`;
    docroot = await startDocroot({
      root,
      cgi: { dir: null, interpreters: { '.php': phpCgi } },
      observer: framingObserver(requests),
    });
    base = `http://127.0.0.1:${docroot.port}`;
  });
  after(async () => {
    await docroot?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('a GET with a query: $_GET, REQUEST_URI, SCRIPT_FILENAME, DOCUMENT_ROOT and PHP_SELF', async () => {
    const body = await mustRun('curl', [
      '-sS',
      '--fail',
      `${base}/index.php/extra?name=Ada&list[]=1&list[]=2`,
    ]);
    const seen = JSON.parse(body) as Record<string, unknown>;
    assert.deepEqual(seen.get, { name: 'Ada', list: ['1', '2'] });
    assert.equal(seen.method, 'GET');
    assert.equal(seen.requestUri, '/index.php/extra?name=Ada&list[]=1&list[]=2');
    assert.equal(seen.scriptName, '/index.php');
    assert.equal(seen.scriptFilename, path.join(root, 'index.php'));
    assert.equal(seen.documentRoot, root);
    assert.equal(seen.phpSelf, '/index.php/extra');
    assert.equal(seen.remoteUser, null);
  });

  test('the plain documented setting, --cgi-ext .php=php-cgi, runs PHP as it is', async () => {
    const command = parseCommandLine([root, '--cgi-ext', '.php=php-cgi']);
    assert.ok(command.kind === 'serve' && command.options.cgi !== undefined);
    const plain = await startDocroot({ root, cgi: command.options.cgi });
    try {
      const body = await mustRun('curl', [
        '-sS',
        '--fail',
        `http://127.0.0.1:${plain.port}/index.php?name=Ada`,
      ]);
      const seen = JSON.parse(body) as Record<string, unknown>;
      assert.deepEqual(seen.get, { name: 'Ada' });
      assert.equal(seen.scriptFilename, path.join(root, 'index.php'));
    } finally {
      await plain.close();
    }
  });

  test('a urlencoded POST over 16 MiB reaches $_POST whole', async () => {
    const data = randomBytes(LARGE_BODY_BYTES / 2).toString('hex');
    const file = path.join(scratch, 'form.txt');
    writeFileSync(file, `note=large%20form&data=${data}`);
    const body = await mustRun('curl', [
      '-sS',
      '--fail',
      '-H',
      'Content-Type: application/x-www-form-urlencoded',
      '--data-binary',
      `@${file}`,
      `${base}/form.php`,
    ]);
    const seen = JSON.parse(body) as Record<string, unknown>;
    assert.equal(seen.note, 'large form');
    assert.equal(seen.fieldLength, data.length);
    assert.equal(seen.fieldMd5, md5(data));
  });

  for (const chunked of [false, true]) {
    test(`a multipart upload over 16 MiB${chunked ? ', sent chunked,' : ''} reaches $_FILES whole`, async () => {
      const content = randomBytes(LARGE_BODY_BYTES);
      const file = path.join(scratch, 'upload.bin');
      writeFileSync(file, content);
      const name = chunked ? 'chunked.bin' : 'sized.bin';
      const body = await mustRun('curl', [
        '-sS',
        '--fail',
        ...(chunked ? ['-H', 'Transfer-Encoding: chunked'] : []),
        '-F',
        `upload=@${file};filename=${name}`,
        '-F',
        'note=multipart',
        `${base}/form.php?${name}`,
      ]);
      const seen = JSON.parse(body) as Record<string, unknown>;
      assert.equal(seen.note, 'multipart');
      assert.equal(seen.fileName, name);
      assert.equal(seen.fileError, 0);
      assert.equal(seen.fileSize, content.length);
      assert.equal(seen.fileMd5, md5(content));
      const request = requests.find((entry) => entry.path === '/form.php' && entry.chunked === chunked);
      assert.ok(request !== undefined, `curl sent the upload ${chunked ? 'chunked' : 'with Content-Length'}`);
    });
  }

  test("header('Location: …') is a 302 to that URL", async () => {
    const out = await mustRun('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{redirect_url}',
      `${base}/moved.php`,
    ]);
    assert.equal(out, '302 https://example.com/new-home');
  });

  test('http_response_code(404) sets the status', async () => {
    const out = await mustRun('curl', ['-sS', '-w', '%{http_code}', `${base}/missing.php`]);
    assert.equal(out, 'nothing here\n404');
  });

  test('a session cookie carries state from one request to the next', async () => {
    const jar = path.join(scratch, 'cookies.txt');
    const first = await mustRun('curl', ['-sS', '--fail', '-i', '-c', jar, '-b', jar, `${base}/counter.php`]);
    assert.match(first, /^Set-Cookie: PHPSESSID=[\w,-]+; path=\//im);
    assert.match(first, /visits=1\n$/);
    const second = await mustRun('curl', ['-sS', '--fail', '-c', jar, '-b', jar, `${base}/counter.php`]);
    assert.equal(second, 'visits=2\n');
    // Without the cookie, a new session.
    assert.equal(await mustRun('curl', ['-sS', '--fail', `${base}/counter.php`]), 'visits=1\n');
  });
});

describe('git smart HTTP through git http-backend', { skip: GIT_MISSING ?? false }, () => {
  let scratch: string;
  /** git with no user or system configuration, never prompting. */
  let gitEnv: NodeJS.ProcessEnv;
  const git = (args: readonly string[], cwd?: string) =>
    mustRun('git', args, { env: gitEnv, ...(cwd ? { cwd } : {}) });

  /** The recipe's site: cgi-bin/git runs git http-backend on the repositories in `repos`. */
  function makeSite(name: string): { site: string; repos: string } {
    const site = path.join(scratch, name, 'site');
    const repos = path.join(scratch, name, 'repos');
    mkdirSync(path.join(site, 'cgi-bin'), { recursive: true });
    mkdirSync(repos, { recursive: true });
    const wrapper = path.join(site, 'cgi-bin', 'git');
    writeFileSync(
      wrapper,
      `#!/bin/sh\nexport GIT_PROJECT_ROOT='${repos}'\nexport GIT_HTTP_EXPORT_ALL=1\nexec ${GIT_HTTP_BACKEND}\n`,
    );
    chmodSync(wrapper, 0o755);
    return { site, repos };
  }

  async function commitRandomFile(work: string, file: string, bytes: number): Promise<Buffer> {
    const content = randomBytes(bytes);
    writeFileSync(path.join(work, file), content);
    await git(['add', file], work);
    await git(['commit', '-q', '-m', `add ${file}`], work);
    return content;
  }

  before(() => {
    scratch = realpathSync(mkdtempSync(path.join(tmpdir(), 'docroot-git-')));
    const home = path.join(scratch, 'home');
    mkdirSync(home);
    gitEnv = {
      PATH: process.env.PATH,
      HOME: home,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: '',
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 'test@example.com',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 'test@example.com',
    };
  });
  after(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  test('clone, a 21 MB push sent chunked, clone again and git fsck', async () => {
    const { site, repos } = makeSite('open');
    const bare = path.join(repos, 'project.git');
    await git(['init', '-q', '--bare', '-b', 'main', bare]);
    // Without --auth there is no REMOTE_USER, so the repository itself must allow pushes over HTTP.
    await git(['config', 'http.receivepack', 'true'], bare);
    const requests: Array<{ path: string; chunked: boolean }> = [];
    const docroot = await startDocroot({ root: site, cgi: {}, observer: framingObserver(requests) });
    try {
      const url = `http://127.0.0.1:${docroot.port}/cgi-bin/git/project.git`;
      const work = path.join(scratch, 'open', 'work');
      await git(['clone', '-q', url, work]);
      const content = await commitRandomFile(work, 'big.bin', PUSH_FILE_BYTES);
      // A pack larger than http.postBuffer is sent with Transfer-Encoding: chunked (after a small probe
      // request with a length, which git sends first to find out whether credentials are needed).
      await git(['-c', 'http.postBuffer=65536', 'push', '-q', 'origin', 'HEAD:main'], work);
      const push = requests.filter((entry) => entry.path === '/cgi-bin/git/project.git/git-receive-pack');
      assert.ok(
        push.some((entry) => entry.chunked),
        `the pack was sent chunked: ${JSON.stringify(push)}`,
      );
      const again = path.join(scratch, 'open', 'again');
      await git(['clone', '-q', url, again]);
      await git(['fsck', '--strict', '--no-progress'], again);
      assert.ok(readFileSync(path.join(again, 'big.bin')).equals(content));
      assert.equal(
        (await git(['rev-parse', 'HEAD'], again)).trim(),
        (await git(['rev-parse', 'HEAD'], work)).trim(),
      );
      assert.deepEqual(docroot.errors, []);
    } finally {
      await docroot.close();
    }
  });

  test('under --auth: anyone clones, a push asks for a password (401) and succeeds as dev', async () => {
    const { site, repos } = makeSite('guarded');
    const bare = path.join(repos, 'project.git');
    await git(['init', '-q', '--bare', '-b', 'main', bare]);
    // Reflogs name who pushed: git http-backend takes the committer from REMOTE_USER.
    await git(['config', 'core.logAllRefUpdates', 'true'], bare);
    const seed = path.join(scratch, 'guarded', 'seed');
    await git(['init', '-q', '-b', 'main', seed]);
    await commitRandomFile(seed, 'readme.txt', 100);
    await git(['push', '-q', bare, 'main'], seed);
    const docroot = await startDocroot({
      root: site,
      cgi: {},
      auth: rules(
        '@/:ro',
        'dev:pw@/:rw',
        '@/cgi-bin/git/*/git-upload-pack:rw',
        'dev:pw@/cgi-bin/git/*/info/refs?service=git-receive-pack',
      ),
    });
    try {
      const host = `127.0.0.1:${docroot.port}`;
      const url = `http://${host}/cgi-bin/git/project.git`;
      const work = path.join(scratch, 'guarded', 'work');
      await git(['clone', '-q', url, work]);
      await commitRandomFile(work, 'change.bin', 1024 * 1024);

      const anonymous = await runProgram('git', ['push', 'origin', 'HEAD:main'], { cwd: work, env: gitEnv });
      assert.notEqual(anonymous.code, 0, 'an anonymous push fails');
      // git asks for a user name only after a 401; with prompts off that is its error.
      assert.match(
        anonymous.stderr,
        /could not read Username for 'http:\/\/127\.0\.0\.1:\d+': terminal prompts disabled/,
      );
      const challenge = (
        await exchange(docroot.port, get('/cgi-bin/git/project.git/info/refs?service=git-receive-pack'))
      ).responses[0]!;
      assert.equal(challenge.status, 401);
      assert.match(challenge.headers['www-authenticate'] ?? '', /^Basic realm=/);

      const wrong = await runProgram(
        'git',
        ['push', `http://dev:nope@${host}/cgi-bin/git/project.git`, 'HEAD:main'],
        {
          cwd: work,
          env: gitEnv,
        },
      );
      assert.notEqual(wrong.code, 0, 'a wrong password fails');

      await git(['push', '-q', `http://dev:pw@${host}/cgi-bin/git/project.git`, 'HEAD:main'], work);
      const reflog = readFileSync(path.join(bare, 'logs', 'refs', 'heads', 'main'), 'utf8');
      assert.match(reflog, / dev <dev@http\.127\.0\.0\.1> /, 'the script saw REMOTE_USER=dev');

      const again = path.join(scratch, 'guarded', 'again');
      await git(['clone', '-q', url, again]);
      await git(['fsck', '--strict', '--no-progress'], again);
      assert.equal(
        (await git(['rev-parse', 'HEAD'], again)).trim(),
        (await git(['rev-parse', 'HEAD'], work)).trim(),
      );
    } finally {
      await docroot.close();
    }
  });
});

describe('a Perl CGI.pm form', { skip: PERL_MISSING ?? false }, () => {
  let docroot: RunningDocroot;
  let scratch: string;
  let url: string;
  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'docroot-perl-'));
    docroot = await startDocroot({ root: path.join(APPS, 'perl'), cgi: {} });
    url = `http://127.0.0.1:${docroot.port}/cgi-bin/form.pl`;
  });
  after(async () => {
    await docroot?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('GET shows the form; a urlencoded POST is greeted, escaped', async () => {
    const page = await mustRun('curl', ['-sS', '--fail', '-i', url]);
    assert.match(page, /^Content-Type: text\/html; charset=utf-8\r$/im);
    assert.match(page, /<form [^>]*method="post"/i);
    const posted = await mustRun('curl', ['-sS', '--fail', '--data-urlencode', 'name=Ada <Lovelace>', url]);
    assert.match(posted, /Hello, Ada &lt;Lovelace&gt;!/);
  });

  test('a multipart POST with a file', async () => {
    const file = path.join(scratch, 'attachment.bin');
    writeFileSync(file, randomBytes(300 * 1024));
    const posted = await mustRun('curl', [
      '-sS',
      '--fail',
      '-F',
      'name=Grace',
      '-F',
      `attachment=@${file}`,
      url,
    ]);
    assert.match(posted, /Hello, Grace!/);
    assert.match(posted, /Attachment: 307200 bytes/);
  });
});
