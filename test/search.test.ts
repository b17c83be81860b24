/**
 * ?q=term on a folder: case-insensitive name search below it, in the listing formats, with dotfiles and
 * symlinks out of the root left out, and the depth, count and time bounds keeping their word.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ServerOptions } from '../src/server.js';
import { exchange, get } from './helpers/raw-client.js';
import { startDocroot } from './helpers/servers.js';

let base: string;
let root: string;

before(() => {
  base = mkdtempSync(path.join(os.tmpdir(), 'docroot-search-'));
  root = path.join(base, 'site');
  mkdirSync(path.join(root, 'reports', '2025', 'q1'), { recursive: true });
  mkdirSync(path.join(root, 'Report-Drafts'), { recursive: true });
  mkdirSync(path.join(root, '.reports-hidden'), { recursive: true });
  writeFileSync(path.join(root, 'annual-REPORT.pdf'), 'pdf');
  writeFileSync(path.join(root, 'reports', 'summary.txt'), 'text');
  writeFileSync(path.join(root, 'reports', '2025', 'q1', 'report <q1> & more.txt'), 'deep');
  writeFileSync(path.join(root, 'Report-Drafts', 'notes.md'), 'notes');
  writeFileSync(path.join(root, '.report-secret'), 'hidden');
  writeFileSync(path.join(root, '.reports-hidden', 'report.txt'), 'hidden');
  mkdirSync(path.join(base, 'elsewhere'));
  writeFileSync(path.join(base, 'elsewhere', 'report-outside.txt'), 'outside');
  symlinkSync(path.join(base, 'elsewhere'), path.join(root, 'linked'));
});
after(() => rmSync(base, { recursive: true, force: true }));

async function search(query: string, options: ServerOptions = {}, accept = '') {
  const docroot = await startDocroot({ root, ...options });
  try {
    const { responses } = await exchange(
      docroot.port,
      get(query, accept === '' ? '' : `Accept: ${accept}\r\n`),
    );
    return responses[0]!;
  } finally {
    await docroot.close();
  }
}

describe('?q= name search', () => {
  test('text: every name below the folder containing the term, any case, shallow first', async () => {
    const answer = await search('/?q=RePoRt&format=text');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'text/plain; charset=utf-8');
    assert.deepEqual(answer.body.toString().split('\n'), [
      'annual-REPORT.pdf',
      'Report-Drafts/',
      'reports/',
      'reports/2025/q1/report <q1> & more.txt',
      '',
    ]);
  });

  test('dotfiles and symlinks out of the root are never searched, even with --follow-symlinks', async () => {
    const answer = await search('/?q=report&format=text', { followSymlinks: true });
    const body = answer.body.toString();
    assert.doesNotMatch(body, /secret|hidden|outside/);
  });

  test('with --dotfiles hidden names are found', async () => {
    const answer = await search('/?q=report&format=text', { dotfiles: true });
    assert.match(answer.body.toString(), /^\.report-secret$/m);
    assert.match(answer.body.toString(), /^\.reports-hidden\/report\.txt$/m);
  });

  test('JSON: results with type, size and mtime, and whether the search was complete', async () => {
    const answer = await search('/reports/?q=q1', {}, 'application/json');
    assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
    const document = JSON.parse(answer.body.toString()) as {
      query: string;
      results: Array<{ path: string; type: string; size: number | null; mtime: string }>;
      complete: boolean;
      note: string | null;
    };
    assert.equal(document.query, 'q1');
    assert.deepEqual(
      document.results.map((result) => [result.path, result.type]),
      [
        ['2025/q1', 'directory'],
        ['2025/q1/report <q1> & more.txt', 'file'],
      ],
    );
    assert.equal(document.results[1]!.size, 4);
    assert.equal(document.complete, true);
    assert.equal(document.note, null);
  });

  test('HTML: escaped names, relative links, and the term kept in the search box', async () => {
    const answer = await search('/?q=%3Cq1%3E', {}, 'text/html');
    const html = answer.body.toString();
    assert.match(html, /<input type="search" name="q" value="&lt;q1&gt;"/);
    assert.match(
      html,
      /<a class="name" href="reports\/2025\/q1\/report%20%3Cq1%3E%20%26%20more\.txt">reports\/2025\/q1\/report &lt;q1&gt; &amp; more\.txt<\/a>/,
    );
    assert.match(html, /1 match</);
  });

  test('the count bound: results so far, then a note', async () => {
    const answer = await search('/?q=report&format=json', { search: { maxResults: 2 } });
    const document = JSON.parse(answer.body.toString()) as {
      results: unknown[];
      complete: boolean;
      note: string;
    };
    assert.equal(document.results.length, 2);
    assert.equal(document.complete, false);
    assert.match(document.note, /stopped at 2 results/);
    const text = await search('/?q=report&format=text', { search: { maxResults: 1 } });
    assert.deepEqual(text.body.toString().split('\n'), [
      'annual-REPORT.pdf',
      '# search stopped at 1 results; narrow the term to see others',
      '',
    ]);
  });

  test('the depth bound: folders below it are not entered', async () => {
    const answer = await search('/?q=report&format=text', { search: { maxDepth: 1 } });
    assert.doesNotMatch(answer.body.toString(), /q1/);
    assert.match(answer.body.toString(), /^reports\/$/m);
  });

  test('the time bound: a search out of time ends with a note', async () => {
    const answer = await search('/?q=report&format=json', { search: { timeLimitMs: 0 } });
    const document = JSON.parse(answer.body.toString()) as { complete: boolean; note: string };
    assert.equal(document.complete, false);
    assert.match(document.note, /stopped after 0 s/);
  });

  test('an empty term lists the folder; the listing has a search box', async () => {
    const answer = await search('/?q=', {}, 'text/html');
    const html = answer.body.toString();
    assert.match(html, /<h1 id="breadcrumb">Index of/);
    assert.match(html, /<form role="search" method="get" action=""><input type="search" name="q"/);
  });

  test('with listings off, search is off too', async () => {
    const answer = await search('/reports/?q=summary', { listing: false });
    assert.equal(answer.status, 404);
  });
});

describe('search under --auth rules', () => {
  test('what a request may not read is not searched; with the credentials it is', async () => {
    const auth = [
      { pathPrefix: '/', access: 'ro' as const },
      { user: 'admin', password: 'secret', pathPrefix: '/reports', access: 'ro' as const },
    ];
    const anonymous = await search('/?q=report&format=text', { auth });
    assert.deepEqual(anonymous.body.toString().split('\n'), ['annual-REPORT.pdf', 'Report-Drafts/', '']);
    const basic = `Basic ${Buffer.from('admin:secret').toString('base64')}`;
    const admin = await search('/?q=report&format=text', { auth }, `*/*\r\nAuthorization: ${basic}`);
    assert.match(admin.body.toString(), /^reports\/2025\/q1\/report <q1> & more\.txt$/m);
  });
});
