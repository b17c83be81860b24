/**
 * Path traversal: hundreds of hostile request paths against a root with a canary file beside it (outside
 * the root) and symlinks that point out. Not one response may carry a byte of the canary.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exchange } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

const CANARY = 'CANARY-7f3a9c-outside-the-root';

/** Every way we know to spell "go up one level". */
const DOT_DOT = [
  '..',
  '%2e%2e',
  '%2E%2E',
  '.%2e',
  '%2e.',
  '%252e%252e',
  '..%00',
  '..%c0%af',
  '%c0%ae%c0%ae',
  '%e0%80%ae%e0%80%ae',
  '%c0%2e%c0%2e',
  '..;',
  '...',
  '....',
  '%u002e%u002e',
  '0x2e0x2e',
  '%%32%65%%32%65',
  '%25252e%25252e',
  '%f0%80%80%ae%f0%80%80%ae',
  '%c0%ae.',
  '.%c0%ae',
  '%ef%bc%8e%ef%bc%8e',
  '%e2%80%a4%e2%80%a4',
  '%e2%80%a5',
  '..%ff',
];
/** Every way we know to spell a separator. */
const SLASH = [
  '/',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '\\',
  '%252f',
  '%c0%af',
  '%e0%80%af',
  '//',
  '/./',
  '%f0%80%80%af',
  '%ef%bc%8f',
  '%ef%bc%bc',
  '%e2%88%95',
  '%e2%81%84',
  '%c1%9c',
  '%25%32%66',
];
const TARGETS = ['canary.txt', 'etc/passwd', 'root/../canary.txt'];

function buildPayloads(): string[] {
  const payloads = new Set<string>();
  for (const dots of DOT_DOT) {
    for (const slash of SLASH) {
      payloads.add(`/${dots}${slash}canary.txt`);
      payloads.add(`/sub/${dots}${slash}${dots}${slash}canary.txt`);
    }
  }
  for (const target of TARGETS) {
    payloads.add(`/../${target}`);
    payloads.add(`/../../../../../../${target}`);
    payloads.add(`/./../${target}`);
    payloads.add(`//../${target}`);
  }
  for (const extra of [
    '/escape-dir/canary.txt',
    '/escape-dir/',
    '/escape-file',
    '/sub/escape-up/canary.txt',
    '/escape-dir%2fcanary.txt',
    '/escape-file%00.txt',
    '/canary.txt%00',
    '/%00../canary.txt',
    '/sub/../../canary.txt',
    '/sub/%2e%2e/%2e%2e/canary.txt',
    '/.%2e/canary.txt',
    '/%2e%2e%2fcanary.txt',
    '/..%2fcanary.txt',
    '/..%5ccanary.txt',
    '/..\\canary.txt',
    '/%5c..%5ccanary.txt',
    '/file:///etc/passwd',
    '/C:/Windows/win.ini',
    `/${'../'.repeat(40)}canary.txt`,
    '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/..%252f..%252fcanary.txt',
    // Windows device names and NTFS spellings: meaningless on POSIX, and nothing may escape through them.
    '/CON',
    '/con.txt',
    '/AUX',
    '/NUL',
    '/nul:',
    '/COM1',
    '/LPT1.txt',
    '/PRN',
    '/inside.txt::$DATA',
    '/inside.txt.',
    '/inside.txt%20',
    '/INSIDE.TXT',
    '/INSIDE~1.TXT',
    '/..%5c..%5cwindows%5cwin.ini',
    '/%5c%5c?%5cC:%5ccanary.txt',
    '/\\\\?\\C:\\canary.txt',
    '/..%2f..%2f..%2fcanary.txt%00.html',
  ]) {
    payloads.add(extra);
  }
  return [...payloads];
}

describe('path traversal corpus', () => {
  let docroot: RunningDocroot;
  let base: string;
  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-traversal-'));
    const root = path.join(base, 'root');
    mkdirSync(path.join(root, 'sub'), { recursive: true });
    writeFileSync(path.join(base, 'canary.txt'), CANARY);
    writeFileSync(path.join(root, 'inside.txt'), 'inside');
    writeFileSync(path.join(root, 'sub', 'file.txt'), 'sub file');
    symlinkSync(base, path.join(root, 'escape-dir'));
    symlinkSync(path.join(base, 'canary.txt'), path.join(root, 'escape-file'));
    symlinkSync('../..', path.join(root, 'sub', 'escape-up'));
    symlinkSync('sub/file.txt', path.join(root, 'inside-link'));
    docroot = await startDocroot({ root, dotfiles: true });
  });
  after(async () => {
    await docroot.close();
    rmSync(base, { recursive: true, force: true });
  });

  const payloads = buildPayloads();

  test(`the corpus has at least 200 payloads (${payloads.length})`, () => {
    assert.ok(payloads.length >= 200);
  });

  test('no payload returns a byte from outside the root', async () => {
    const statuses = new Map<number, number>();
    for (const payload of payloads) {
      const { responses, raw } = await exchange(
        docroot.port,
        `GET ${payload} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
        {
          waitForClose: true,
        },
      );
      assert.doesNotMatch(raw.toString('latin1'), new RegExp(CANARY), `payload ${payload} leaked the canary`);
      const status = responses[0]?.status ?? 0;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      assert.ok(status === 400 || status === 403 || status === 404, `payload ${payload} answered ${status}`);
    }
    assert.ok((statuses.get(400) ?? 0) > 0);
  });

  test('the same payloads in absolute-form leak nothing', async () => {
    for (const payload of payloads.slice(0, 60)) {
      const { raw } = await exchange(
        docroot.port,
        `GET http://localhost${payload} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
        {
          waitForClose: true,
        },
      );
      assert.doesNotMatch(raw.toString('latin1'), new RegExp(CANARY), payload);
    }
  });

  test('symlinks that stay inside the root still work', async () => {
    const { responses } = await exchange(
      docroot.port,
      'GET /inside-link HTTP/1.1\r\nHost: localhost\r\n\r\n',
    );
    assert.equal(responses[0]?.status, 200);
    assert.equal(responses[0]?.body.toString(), 'sub file');
  });

  test('a symlink out of the root is 403 by default and served with --follow-symlinks', async () => {
    const refused = await exchange(docroot.port, 'GET /escape-file HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal(refused.responses[0]?.status, 403);
    const following = await startDocroot({ root: docroot.server.root, followSymlinks: true });
    const { responses } = await exchange(
      following.port,
      'GET /escape-file HTTP/1.1\r\nHost: localhost\r\n\r\n',
    );
    assert.equal(responses[0]?.body.toString(), CANARY);
    await following.close();
  });
});
