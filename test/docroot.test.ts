import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { exchange, get } from './helpers/raw-client.js';
import { FIXTURE_ROOT, type RunningDocroot, startDocroot } from './helpers/servers.js';

const fixture = (name: string) => readFileSync(FIXTURE_ROOT + name);

describe('the document root over real sockets', () => {
  let docroot: RunningDocroot;
  before(async () => {
    docroot = await startDocroot();
  });
  after(() => docroot.close());

  const files: Array<[string, string]> = [
    ['a_web_page.html', 'text/html; charset=utf-8'],
    ['text.txt', 'text/plain; charset=utf-8'],
    ['hello_world.py', 'text/x-python; charset=utf-8'],
    ['images/photo.jpg', 'image/jpeg'],
    ['images/logo.png', 'image/png'],
    ['docs/guide/intro.txt', 'text/plain; charset=utf-8'],
  ];
  for (const [name, type] of files) {
    test(`serves ${name} byte for byte as ${type}`, async () => {
      const { responses } = await exchange(docroot.port, get(`/${name}`));
      const r = responses[0]!;
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], type);
      assert.deepEqual(r.body, fixture(name));
      assert.equal(Number(r.headers['content-length']), fixture(name).length);
      assert.match(r.headers['last-modified'] ?? '', /GMT$/);
      assert.match(r.headers.etag ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
    });
  }

  test('a Python script is served as text, not run', async () => {
    const { responses } = await exchange(docroot.port, get('/hello_world.py'));
    assert.match(responses[0]!.body.toString(), /^#!\/usr\/bin\/env python3/);
  });

  test('serves the same file again from the hot cache with identical bytes and validators', async () => {
    const first = await exchange(docroot.port, get('/text.txt'));
    const second = await exchange(docroot.port, get('/text.txt'));
    assert.deepEqual(second.responses[0]!.body, first.responses[0]!.body);
    assert.equal(second.responses[0]!.headers.etag, first.responses[0]!.headers.etag);
    assert.equal(second.responses[0]!.headers['content-type'], 'text/plain; charset=utf-8');
  });

  test('HEAD gives the GET headers without a body', async () => {
    const { responses } = await exchange(
      docroot.port,
      get('/images/photo.jpg', '', 'HEAD') + get('/text.txt'),
      {
        responses: 2,
        headResponses: [0],
      },
    );
    assert.equal(Number(responses[0]!.headers['content-length']), fixture('images/photo.jpg').length);
    assert.equal(responses[0]!.headers['content-type'], 'image/jpeg');
    assert.deepEqual(responses[1]!.body, fixture('text.txt'));
  });

  test('a missing file is 404 with a one-line reason', async () => {
    const { responses } = await exchange(docroot.port, get('/no-such-file.txt'));
    assert.equal(responses[0]!.status, 404);
    assert.equal(responses[0]!.body.toString(), '404 Not Found: no file or folder of that name\n');
  });

  test('a browser gets the 404 as an HTML page with the rule and an RFC link', async () => {
    const { responses } = await exchange(
      docroot.port,
      get('/nope', 'Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n'),
    );
    const html = responses[0]!.body.toString();
    assert.equal(responses[0]!.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(html, /404 Not Found: no file or folder of that name/);
    assert.match(html, /rfc9110#section-15\.5\.5/);
  });

  test('POST to a file is 405 with Allow', async () => {
    const { responses } = await exchange(
      docroot.port,
      `${get('/text.txt', 'Content-Length: 2\r\n', 'POST')}hi`,
    );
    assert.equal(responses[0]!.status, 405);
    assert.equal(responses[0]!.headers.allow, 'GET, HEAD, OPTIONS, PROPFIND');
    assert.match(responses[0]!.body.toString(), /^405 Method Not Allowed: POST is not allowed here/);
  });

  test('CONNECT in authority form is 405 with Allow, and the connection stays open for the next request', async () => {
    const { responses, closed } = await exchange(
      docroot.port,
      `CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n${get('/text.txt')}`,
      { responses: 2 },
    );
    assert.equal(responses[0]!.status, 405);
    assert.equal(responses[0]!.headers.allow, 'GET, HEAD, OPTIONS, PROPFIND');
    assert.equal(responses[0]!.headers.connection, undefined);
    assert.match(responses[0]!.body.toString(), /^405 Method Not Allowed: CONNECT is not allowed/);
    assert.equal(responses[1]!.status, 200);
    assert.deepEqual(responses[1]!.body, fixture('text.txt'));
    assert.equal(closed, false);
  });

  test('an unknown method is 501', async () => {
    const { responses } = await exchange(docroot.port, get('/text.txt', '', 'BREW'));
    assert.equal(responses[0]!.status, 501);
    assert.match(responses[0]!.body.toString(), /the method BREW is not implemented/);
  });

  test('OPTIONS answers 200 (WebDAV clients want it) with Allow', async () => {
    const { responses } = await exchange(docroot.port, get('/text.txt', '', 'OPTIONS'));
    assert.equal(responses[0]!.status, 200);
    assert.equal(responses[0]!.headers['content-length'], '0');
    assert.equal(responses[0]!.headers.allow, 'GET, HEAD, OPTIONS, PROPFIND');
    const star = await exchange(docroot.port, 'OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal(star.responses[0]!.status, 200);
  });

  test('a folder without its trailing slash is redirected with 301, query kept', async () => {
    const { responses } = await exchange(docroot.port, get('/docs?sort=size'));
    assert.equal(responses[0]!.status, 301);
    assert.equal(responses[0]!.headers.location, '/docs/?sort=size');
  });

  test('a folder with index.html serves that file', async () => {
    const { responses } = await exchange(docroot.port, get('/with_index/'));
    assert.equal(responses[0]!.status, 200);
    assert.deepEqual(responses[0]!.body, fixture('with_index/index.html'));
    assert.equal(responses[0]!.headers['content-type'], 'text/html; charset=utf-8');
  });

  test('a folder lists as text/plain, one name per line, folders first with a slash', async () => {
    const { responses } = await exchange(docroot.port, get('/docs/', 'Accept: text/plain\r\n'));
    assert.equal(responses[0]!.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(responses[0]!.body.toString(), 'guide/\nbig.txt\n');
    const asked = await exchange(docroot.port, get('/docs/?format=text'));
    assert.equal(asked.responses[0]!.body.toString(), 'guide/\nbig.txt\n');
  });

  test('the root listing hides dotfiles and shows the fixture files', async () => {
    const { responses } = await exchange(docroot.port, get('/?format=text'));
    const names = responses[0]!.body.toString().split('\n');
    for (const name of ['docs/', 'images/', 'with_index/', 'a_web_page.html', 'text.txt', 'hello_world.py']) {
      assert.ok(names.includes(name), `${name} listed`);
    }
    assert.ok(!names.some((n) => n.startsWith('.')), 'no dotfiles');
  });

  test('an HTML listing has a title, breadcrumb, parent link and escaped links', async () => {
    const { responses } = await exchange(docroot.port, get('/docs/guide/', 'Accept: text/html\r\n'));
    const html = responses[0]!.body.toString();
    assert.equal(responses[0]!.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(html, /<title>Index of \/docs\/guide\/<\/title>/);
    assert.match(html, /href="\.\.\/"/);
    assert.match(html, /href="intro\.txt"/);
    assert.match(html, /name="viewport"/);
    assert.equal(responses[0]!.headers['cache-control'], 'no-cache');
  });

  test('a JSON listing gives name, type, size and mtime', async () => {
    const { responses } = await exchange(docroot.port, get('/docs/', 'Accept: application/json\r\n'));
    const entries = JSON.parse(responses[0]!.body.toString()) as Array<Record<string, unknown>>;
    assert.deepEqual(
      entries.map((e) => [e.name, e.type]),
      [
        ['guide', 'directory'],
        ['big.txt', 'file'],
      ],
    );
    assert.equal(entries[1]!.size, fixture('docs/big.txt').length);
    assert.match(String(entries[1]!.mtime), /^\d{4}-\d\d-\d\dT/);
  });

  test('dotfiles and dot-folders are 404', async () => {
    for (const path of ['/.hidden.txt', '/.private/data.txt', '/.private/']) {
      const { responses } = await exchange(docroot.port, get(path));
      assert.equal(responses[0]!.status, 404, path);
    }
  });

  test('an invalid percent-escape is 400', async () => {
    const { responses } = await exchange(docroot.port, get('/text%zz.txt'));
    assert.equal(responses[0]!.status, 400);
    assert.match(responses[0]!.body.toString(), /invalid percent-escape/);
  });

  test('percent-encoded names are decoded once; the query is ignored', async () => {
    const { responses } = await exchange(docroot.port, get('/%74ext.txt?v=1'));
    assert.deepEqual(responses[0]!.body, fixture('text.txt'));
  });
});

describe('options of the document root', () => {
  test('--no-listing turns listings into 404', async () => {
    const docroot = await startDocroot({ listing: false });
    const { responses } = await exchange(docroot.port, get('/docs/'));
    assert.equal(responses[0]!.status, 404);
    assert.match(responses[0]!.body.toString(), /listings are turned off/);
    await docroot.close();
  });

  test('--dotfiles serves hidden names', async () => {
    const docroot = await startDocroot({ dotfiles: true });
    const { responses } = await exchange(docroot.port, get('/.hidden.txt'));
    assert.equal(responses[0]!.status, 200);
    assert.deepEqual(responses[0]!.body, fixture('.hidden.txt'));
    await docroot.close();
  });
});

describe('listing freshness', () => {
  test('a file added to a folder shows in its listing within a second', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const os = await import('node:os');
    const dir = mkdtempSync(`${os.tmpdir()}/docroot-listing-`);
    writeFileSync(`${dir}/first.txt`, '1');
    const docroot = await startDocroot({ root: dir });
    const before = await exchange(docroot.port, get('/?format=text'));
    assert.equal(before.responses[0]!.body.toString(), 'first.txt\n');
    writeFileSync(`${dir}/second.txt`, '2');
    t.mock.timers.tick(999);
    const cached = await exchange(docroot.port, get('/?format=text'));
    assert.equal(cached.responses[0]!.body.toString(), 'first.txt\n', 'a listing is reused for a second');
    t.mock.timers.tick(2);
    const after = await exchange(docroot.port, get('/?format=text'));
    assert.equal(after.responses[0]!.body.toString(), 'first.txt\nsecond.txt\n');
    await docroot.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
