/**
 * Trust decisions are never auto-loaded (issue 17): a `docroot.config.json` found in the current folder
 * may set only harmless keys, `dir` only inside its own folder; `--config` trusts the file it names.
 * `--upload` with `--cgi-ext` is refused, and uploads never write into the CGI folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCommandLine } from '../src/cli/args.js';
import { ConfigError, checkConfig, HARMLESS_KEYS } from '../src/cli/config.js';
import { exchange } from './helpers/raw-client.js';
import { startDocroot } from './helpers/servers.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

describe('a config file found in the current folder', () => {
  let folder: string;
  before(() => {
    folder = mkdtempSync(path.join(os.tmpdir(), 'docroot-trust-'));
    mkdirSync(path.join(folder, 'site'));
    symlinkSync(os.homedir(), path.join(folder, 'home-link'));
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  const run = (config: unknown, args: string[] = []) => {
    writeFileSync(path.join(folder, 'docroot.config.json'), JSON.stringify(config));
    return spawnSync(process.execPath, [CLI, ...args], { cwd: folder, encoding: 'utf8', timeout: 10_000 });
  };

  for (const [key, value] of [
    ['cgi', true],
    ['cgiDir', 'scripts'],
    ['cgiExt', ['.js=node']],
    ['upload', true],
    ['auth', ['@/:rw']],
    ['authRate', 'off'],
    ['host', '0.0.0.0'],
    ['allowedHost', ['evil.example']],
    ['cors', true],
    ['followSymlinks', true],
    ['dotfiles', true],
    ['tlsCert', 'cert.pem'],
    ['tlsKey', 'key.pem'],
    ['tlsSelfSigned', true],
  ] as const) {
    test(`may not set "${key}" (one line naming it), but --config may`, () => {
      const result = run({ port: 0, [key]: value });
      assert.equal(result.status, 1);
      assert.equal(
        result.stderr,
        `docroot: docroot.config.json: "${key}" widens what the server exposes or runs, so it is only read from a file named with --config (docroot --config docroot.config.json)\n`,
      );
      const trusted = checkConfig({ [key]: value }, 'docroot.config.json', { trusted: true });
      assert.ok(Object.keys(trusted.values).length === 1);
    });
  }

  test('may not point dir outside its folder, directly or through a symlink', () => {
    for (const dir of ['..', '/', 'home-link']) {
      const result = run({ dir });
      assert.equal(result.status, 1, dir);
      assert.equal(
        result.stderr,
        `docroot: docroot.config.json: "dir" leads outside the file's own folder, which only a file named with --config may do\n`,
      );
    }
    assert.equal(
      checkConfig({ dir: 'site' }, path.join(folder, 'docroot.config.json'), { trusted: false }).dir,
      path.join(folder, 'site'),
    );
  });

  test('may not add Access-Control-* fields through header', () => {
    assert.throws(
      () =>
        checkConfig({ header: ['Access-Control-Allow-Origin: *'] }, 'docroot.config.json', {
          trusted: false,
        }),
      (error: unknown) =>
        error instanceof ConfigError && /"header" adds Access-Control-\* fields/.test(error.message),
    );
    assert.deepEqual(
      checkConfig({ header: ['X-Frame-Options: DENY'] }, 'docroot.config.json', { trusted: false }).values,
      { header: ['X-Frame-Options: DENY'] },
    );
  });

  test('may set every harmless key, and a loopback host', () => {
    const harmless: Record<string, unknown> = {
      port: 0,
      noListing: true,
      noCompress: true,
      cacheControl: 'no-store',
      header: ['X-A: b'],
      spa: true,
      404: '404.html',
      maxConnections: 10,
      trace: true,
      log: 'off',
      workers: 2,
      watch: true,
      noHttp2: true,
      healthPath: 'off',
      noArchives: true,
      noSearch: true,
      noReadme: true,
      noQr: true,
      maxUploadSize: '1M',
      host: '127.0.0.1',
    };
    assert.deepEqual(new Set(Object.keys(harmless).filter((key) => key !== 'host')), HARMLESS_KEYS);
    assert.equal(
      Object.keys(checkConfig(harmless, 'docroot.config.json', { trusted: false }).values).length,
      20,
    );
  });
});

describe('uploads and CGI', () => {
  test('--upload with --cgi-ext is refused in one line; --upload with --cgi is allowed', async () => {
    const refused = spawnSync(
      process.execPath,
      [CLI, '--upload', '--cgi-ext', '.py=python3', '--port', '0'],
      {
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    assert.equal(refused.status, 1);
    assert.match(
      refused.stderr,
      /^docroot: --upload with --cgi-ext would let anyone who may write upload a script and run it .*--cgi-dir.*\n$/,
    );
    await assert.rejects(
      startDocroot({ upload: {}, cgi: { interpreters: { '.py': 'python3' } } }),
      /upload with cgi.interpreters/,
    );
  });

  test('uploads never write into the CGI folder, directly or through a link', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'docroot-cgi-upload-'));
    mkdirSync(path.join(root, 'cgi-bin'));
    writeFileSync(
      path.join(root, 'cgi-bin', 'hello.sh'),
      '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho hello\n',
    );
    chmodSync(path.join(root, 'cgi-bin', 'hello.sh'), 0o755);
    symlinkSync('cgi-bin', path.join(root, 'link'));
    const docroot = await startDocroot({ root, upload: {}, cgi: {} });
    try {
      const put = (target: string) =>
        `PUT ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi`;
      // Paths under /cgi-bin/ itself belong to the scripts (CGI answers them); these reach the upload code.
      for (const target of ['/link/evil.sh', '/link/hello.sh']) {
        const response = (await exchange(docroot.port, put(target))).responses[0];
        assert.equal(response?.status, 403, target);
        assert.equal(
          response?.body.toString(),
          '403 Forbidden: the CGI folder is never written by uploads: its files run as programs\n',
        );
      }
      const removal = (await exchange(docroot.port, 'DELETE /link HTTP/1.1\r\nHost: localhost\r\n\r\n'))
        .responses[0];
      assert.equal(removal?.status, 204, 'the link itself is not the folder');
      assert.equal(existsSync(path.join(root, 'cgi-bin', 'hello.sh')), true);
      assert.equal(existsSync(path.join(root, 'cgi-bin', 'evil.sh')), false);
      // Elsewhere uploads work, and the script still runs.
      assert.equal((await exchange(docroot.port, put('/note.txt'))).responses[0]?.status, 201);
      const script = (
        await exchange(docroot.port, 'GET /cgi-bin/hello.sh HTTP/1.1\r\nHost: localhost\r\n\r\n')
      ).responses[0];
      assert.equal(script?.body.toString(), 'hello\n');
    } finally {
      await docroot.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the access flags', () => {
  test('--auth-rate and --allowed-host parse, and bad values are one line', () => {
    const command = parseCommandLine([
      '--auth-rate',
      '5/30s',
      '--allowed-host',
      'Docs.Test',
      '--allowed-host',
      '.example.com',
    ]);
    assert.equal(command.kind, 'serve');
    if (command.kind !== 'serve') return;
    assert.deepEqual(command.options.authRate, { failures: 5, windowMs: 30_000 });
    assert.deepEqual(command.options.allowedHosts, ['docs.test', '.example.com']);
    assert.equal(
      (parseCommandLine(['--auth-rate', 'off']) as { options: { authRate: unknown } }).options.authRate,
      false,
    );
    assert.equal((parseCommandLine([]) as { options: { authRate: unknown } }).options.authRate, undefined);
    assert.deepEqual(parseCommandLine(['--auth-rate', 'lots']), {
      kind: 'error',
      message: '--auth-rate needs failures per window like 10/min, 5/30s or 100/hour (or off), got "lots"',
    });
    assert.deepEqual(parseCommandLine(['--allowed-host', 'http://x/']), {
      kind: 'error',
      message: '--allowed-host needs a host name like docs.test or .example.com, got "http://x/"',
    });
  });
});
