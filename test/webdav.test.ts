/**
 * WebDAV (RFC 4918) over raw sockets: OPTIONS, PROPFIND (depths, live properties, streaming, hidden
 * names), PROPPATCH and where dead properties live, COPY/MOVE rules, DELETE of folders, locks and the If
 * header, read-only shares, --no-webdav, --auth, and hostile XML bodies.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ConfigFileValues, parseCommandLine } from '../src/cli/args.js';
import { dav, hrefsOf, PROPFIND_ALL, propertyText } from './helpers/dav.js';
import { exchange } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

const NS = 'http://example.com/ns/';

function makeRoot(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'docroot-webdav-'));
}

function propfindBody(...names: string[]): string {
  return `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>${names.map((n) => `<D:${n}/>`).join('')}</D:prop></D:propfind>`;
}

function proppatchSet(name: string, value: string): string {
  return `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="${NS}"><D:set><D:prop><x:${name}>${value}</x:${name}></D:prop></D:set></D:propertyupdate>`;
}

const LOCKINFO_EXCLUSIVE =
  '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:me@example.com</D:href></D:owner></D:lockinfo>';
const LOCKINFO_SHARED =
  '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>';

describe('WebDAV with --upload', () => {
  let docroot: RunningDocroot;
  let root: string;
  before(async () => {
    root = makeRoot();
    writeFileSync(path.join(root, 'hello.txt'), 'hello\n');
    writeFileSync(path.join(root, '.secret'), 'hidden');
    mkdirSync(path.join(root, 'folder'));
    writeFileSync(path.join(root, 'folder', 'inner.html'), '<p>x</p>');
    docroot = await startDocroot({ root, upload: {} });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });
  const port = () => docroot.port;

  test('OPTIONS announces class 1 and 2, MS-Author-Via and the DAV methods', async () => {
    const answer = await dav(port(), 'OPTIONS', '/');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.dav, '1, 2');
    assert.equal(answer.headers['ms-author-via'], 'DAV');
    for (const method of ['PROPFIND', 'PROPPATCH', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'MKCOL', 'PUT']) {
      assert.ok(answer.headers.allow?.split(', ').includes(method), method);
    }
  });

  test('PROPFIND Depth 0 on the root describes the root as a collection', async () => {
    const answer = await dav(port(), 'PROPFIND', '/', { headers: { Depth: '0' } });
    assert.equal(answer.status, 207);
    assert.match(answer.headers['content-type'] ?? '', /^application\/xml/);
    assert.deepEqual(hrefsOf(answer.body), ['/']);
    assert.match(answer.body.toString(), /<D:resourcetype><D:collection\/><\/D:resourcetype>/);
    assert.match(answer.body.toString(), /<D:status>HTTP\/1.1 200 OK<\/D:status>/);
  });

  test("PROPFIND Depth 1 lists members, not hidden names or the server's own sidecars", async () => {
    await dav(port(), 'PROPPATCH', '/hello.txt', { body: proppatchSet('color', 'blue') });
    assert.ok(existsSync(path.join(root, '.docroot-props', 'hello.txt')));
    const answer = await dav(port(), 'PROPFIND', '/', { headers: { Depth: '1' }, body: PROPFIND_ALL });
    assert.equal(answer.status, 207);
    assert.deepEqual(hrefsOf(answer.body).sort(), ['/', '/folder/', '/hello.txt']);
  });

  test('live properties: the ETag is the one GET sends; length, type, dates, supportedlock', async () => {
    const get = await dav(port(), 'GET', '/hello.txt');
    const answer = await dav(port(), 'PROPFIND', '/hello.txt', {
      headers: { Depth: '0' },
      body: propfindBody(
        'getetag',
        'getcontentlength',
        'getcontenttype',
        'getlastmodified',
        'creationdate',
        'displayname',
        'supportedlock',
        'lockdiscovery',
        'quota-available-bytes',
        'quota-used-bytes',
      ),
    });
    const body = answer.body.toString();
    assert.equal(propertyText(body, 'getetag'), get.headers.etag?.replaceAll('"', '&quot;'));
    assert.equal(propertyText(body, 'getcontentlength'), '6');
    assert.equal(propertyText(body, 'getcontenttype'), 'text/plain; charset=utf-8');
    assert.equal(propertyText(body, 'getlastmodified'), get.headers['last-modified']);
    assert.match(propertyText(body, 'creationdate') ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(propertyText(body, 'displayname'), 'hello.txt');
    assert.match(body, /<D:lockentry><D:lockscope><D:exclusive\/>/);
    assert.match(body, /<D:lockentry><D:lockscope><D:shared\/>/);
    assert.match(propertyText(body, 'quota-available-bytes') ?? '', /^\d+$/);
    assert.equal(propertyText(body, 'quota-used-bytes'), '6');
    assert.doesNotMatch(body, /404 Not Found/);
  });

  test('a property nobody set is 404 inside the 207; a folder has no getetag', async () => {
    const answer = await dav(port(), 'PROPFIND', '/folder/', {
      headers: { Depth: '0' },
      body: `<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><x:nothing xmlns:x="${NS}"/></D:prop></D:propfind>`,
    });
    assert.equal(answer.status, 207);
    assert.match(
      answer.body.toString(),
      /<D:propstat><D:prop><D:getetag\/><nothing xmlns="http:\/\/example.com\/ns\/"\/><\/D:prop><D:status>HTTP\/1.1 404 Not Found/,
    );
  });

  test('PROPFIND propname names the properties without values', async () => {
    const answer = await dav(port(), 'PROPFIND', '/hello.txt', {
      headers: { Depth: '0' },
      body: '<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>',
    });
    const body = answer.body.toString();
    assert.match(body, /<D:getetag\/>/);
    assert.match(body, /<color xmlns="http:\/\/example.com\/ns\/"\/>/);
    assert.doesNotMatch(body, /blue/);
  });

  test('Depth: infinity is refused with 403 and propfind-finite-depth; a bad Depth is 400', async () => {
    const infinite = await dav(port(), 'PROPFIND', '/', { headers: { Depth: 'infinity' } });
    assert.equal(infinite.status, 403);
    assert.match(infinite.body.toString(), /<D:error xmlns:D="DAV:"><D:propfind-finite-depth\/><\/D:error>/);
    assert.match(infinite.body.toString(), /<!-- 403 Forbidden: PROPFIND with Depth: infinity is refused/);
    // RFC 4918 §9.1: no Depth means infinity.
    assert.equal((await dav(port(), 'PROPFIND', '/')).status, 403);
    assert.equal((await dav(port(), 'PROPFIND', '/', { headers: { Depth: '2' } })).status, 400);
  });

  test('PROPFIND follows the read rules: missing 404, hidden 404, server-own 404, escapes 400', async () => {
    const depth0 = { headers: { Depth: '0' } };
    assert.equal((await dav(port(), 'PROPFIND', '/nothing', depth0)).status, 404);
    assert.equal((await dav(port(), 'PROPFIND', '/.secret', depth0)).status, 404);
    assert.equal((await dav(port(), 'PROPFIND', '/.docroot-props/', depth0)).status, 404);
    assert.equal((await dav(port(), 'PROPFIND', '/%2e%2e/etc/', depth0)).status, 400);
  });

  test('dead properties survive a restart and never show in GET, listings, archives or search', async () => {
    const set = await dav(port(), 'PROPPATCH', '/folder/inner.html', {
      body: proppatchSet('note', 'kept &amp; <b xmlns="urn:x">bold</b>'),
    });
    assert.equal(set.status, 207);
    assert.match(
      set.body.toString(),
      /<note xmlns="http:\/\/example.com\/ns\/"\/><\/D:prop><D:status>HTTP\/1.1 200 OK/,
    );
    const again = await startDocroot({ root, upload: {}, dotfiles: true });
    try {
      const read = await dav(again.port, 'PROPFIND', '/folder/inner.html', {
        headers: { Depth: '0' },
        body: `<D:propfind xmlns:D="DAV:"><D:prop><x:note xmlns:x="${NS}"/></D:prop></D:propfind>`,
      });
      assert.match(
        read.body.toString(),
        /<note xmlns="http:\/\/example.com\/ns\/">kept &amp; <b xmlns="urn:x">bold<\/b><\/note>/,
      );
      // Even with --dotfiles, the sidecar is the server's own.
      assert.equal((await dav(again.port, 'GET', '/folder/.docroot-props/inner.html')).status, 404);
      assert.equal((await dav(again.port, 'PUT', '/folder/.docroot-props/x', { body: 'x' })).status, 403);
      const listing = await dav(again.port, 'GET', '/folder/', { headers: { Accept: 'application/json' } });
      assert.doesNotMatch(listing.body.toString(), /docroot-props/);
      const search = await dav(again.port, 'GET', '/?q=inner&format=json');
      assert.doesNotMatch(search.body.toString(), /docroot-props/);
      const archive = await dav(again.port, 'GET', '/folder/?download=zip');
      assert.equal(archive.status, 200);
      assert.ok(!archive.body.includes(Buffer.from('.docroot-props')));
      const propfind = await dav(again.port, 'PROPFIND', '/folder/', { headers: { Depth: '1' } });
      assert.deepEqual(hrefsOf(propfind.body).sort(), ['/folder/', '/folder/inner.html']);
    } finally {
      await again.close();
    }
  });

  test('PROPPATCH of a live property is 403 and the whole update fails with 424 (RFC 4918 §9.2)', async () => {
    const answer = await dav(port(), 'PROPPATCH', '/hello.txt', {
      body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:fine xmlns:x="${NS}">1</x:fine><D:getetag>"x"</D:getetag></D:prop></D:set></D:propertyupdate>`,
    });
    assert.equal(answer.status, 207);
    const body = answer.body.toString();
    assert.match(body, /<D:getetag\/><\/D:prop><D:status>HTTP\/1.1 403 Forbidden/);
    assert.match(
      body,
      /<fine xmlns="http:\/\/example.com\/ns\/"\/><\/D:prop><D:status>HTTP\/1.1 424 Failed Dependency/,
    );
    const read = await dav(port(), 'PROPFIND', '/hello.txt', {
      headers: { Depth: '0' },
      body: `<D:propfind xmlns:D="DAV:"><D:prop><x:fine xmlns:x="${NS}"/></D:prop></D:propfind>`,
    });
    assert.match(read.body.toString(), /404 Not Found/);
  });

  test('concurrent PROPPATCHes on one file all land; more than the property budget is 507', async () => {
    writeFileSync(path.join(root, 'busy.txt'), 'b');
    const updates = Array.from({ length: 20 }, (_, i) =>
      dav(port(), 'PROPPATCH', '/busy.txt', { body: proppatchSet(`p${i}`, `v${i}`) }),
    );
    for (const answer of await Promise.all(updates)) assert.equal(answer.status, 207);
    const all = await dav(port(), 'PROPFIND', '/busy.txt', { headers: { Depth: '0' }, body: PROPFIND_ALL });
    for (let i = 0; i < 20; i++)
      assert.match(all.body.toString(), new RegExp(`<p${i} xmlns="[^"]+">v${i}</p${i}>`));
    const huge = await dav(port(), 'PROPPATCH', '/busy.txt', {
      body: proppatchSet('huge', 'x'.repeat(300_000)),
    });
    assert.equal(huge.status, 507);
  });

  test('COPY a file: 201, its dead properties copied; Overwrite: F on an existing target is 412', async () => {
    const headers = (destination: string, extra: Record<string, string> = {}) => ({
      headers: { Destination: `http://127.0.0.1:${port()}${destination}`, ...extra },
    });
    const copied = await dav(port(), 'COPY', '/hello.txt', headers('/copy.txt'));
    assert.equal(copied.status, 201);
    assert.equal(readFileSync(path.join(root, 'copy.txt'), 'utf8'), 'hello\n');
    assert.ok(existsSync(path.join(root, '.docroot-props', 'copy.txt')));
    assert.equal(
      (await dav(port(), 'COPY', '/hello.txt', headers('/copy.txt', { Overwrite: 'F' }))).status,
      412,
    );
    assert.equal((await dav(port(), 'COPY', '/hello.txt', headers('/copy.txt'))).status, 204);
    // A relative Destination is an absolute path on this server.
    assert.equal(
      (await dav(port(), 'COPY', '/hello.txt', { headers: { Destination: '/copy2.txt' } })).status,
      201,
    );
    // A resource without dead properties leaves no sidecar behind where it goes.
    mkdirSync(path.join(root, 'plain'));
    writeFileSync(path.join(root, 'bare.txt'), 'bare');
    const to = (destination: string) => ({ headers: { Destination: destination } });
    assert.equal((await dav(port(), 'MOVE', '/bare.txt', to('/plain/bare.txt'))).status, 201);
    assert.equal((await dav(port(), 'COPY', '/plain/bare.txt', to('/plain/b2.txt'))).status, 201);
    assert.deepEqual(readdirSync(path.join(root, 'plain')).sort(), ['b2.txt', 'bare.txt']);
  });

  test('COPY and MOVE stay inside the root and obey the write rules', async () => {
    const to = (destination: string) => ({ headers: { Destination: destination } });
    assert.equal((await dav(port(), 'COPY', '/hello.txt', to('http://elsewhere.example/x'))).status, 502);
    assert.equal((await dav(port(), 'MOVE', '/hello.txt', to('/no/such/folder/x'))).status, 409);
    assert.equal((await dav(port(), 'MOVE', '/hello.txt', to('/.hidden'))).status, 403);
    assert.equal((await dav(port(), 'MOVE', '/hello.txt', to('/.docroot-props/x'))).status, 403);
    assert.equal((await dav(port(), 'MOVE', '/hello.txt', to('/a/%2e%2e/%2e%2e/etc/passwd'))).status, 400);
    assert.equal((await dav(port(), 'MOVE', '/hello.txt', to('/hello.txt'))).status, 403);
    assert.equal((await dav(port(), 'MOVE', '/folder/', to('/folder/inside/'))).status, 403);
    assert.equal((await dav(port(), 'MOVE', '/hello.txt', {})).status, 400);
    assert.equal((await dav(port(), 'MOVE', '/missing.txt', to('/x.txt'))).status, 404);
    assert.equal(
      (await dav(port(), 'COPY', '/folder/', { headers: { Destination: '/f1/', Depth: '1' } })).status,
      400,
    );
    assert.ok(existsSync(path.join(root, 'hello.txt')));
  });

  test('COPY of a folder: Depth 0 makes an empty folder, infinity copies the tree; MOVE renames it', async () => {
    mkdirSync(path.join(root, 'tree', 'sub'), { recursive: true });
    writeFileSync(path.join(root, 'tree', 'sub', 'leaf.txt'), 'leaf');
    writeFileSync(path.join(root, 'tree', '.hidden'), 'not copied without --dotfiles');
    await dav(port(), 'PROPPATCH', '/tree/sub/leaf.txt', { body: proppatchSet('tag', 'leafy') });
    const shallow = await dav(port(), 'COPY', '/tree/', {
      headers: { Destination: '/shallow/', Depth: '0' },
    });
    assert.equal(shallow.status, 201);
    assert.deepEqual(readdirSync(path.join(root, 'shallow')), []);
    const deep = await dav(port(), 'COPY', '/tree/', { headers: { Destination: '/deep/' } });
    assert.equal(deep.status, 201);
    assert.equal(readFileSync(path.join(root, 'deep', 'sub', 'leaf.txt'), 'utf8'), 'leaf');
    assert.equal(existsSync(path.join(root, 'deep', '.hidden')), false);
    const moved = await dav(port(), 'MOVE', '/deep/', { headers: { Destination: '/renamed/' } });
    assert.equal(moved.status, 201);
    assert.equal(existsSync(path.join(root, 'deep')), false);
    const props = await dav(port(), 'PROPFIND', '/renamed/sub/leaf.txt', {
      headers: { Depth: '0' },
      body: `<D:propfind xmlns:D="DAV:"><D:prop><x:tag xmlns:x="${NS}"/></D:prop></D:propfind>`,
    });
    assert.match(props.body.toString(), /<tag xmlns="http:\/\/example.com\/ns\/">leafy<\/tag>/);
    // DELETE of a folder removes the tree (RFC 4918 §9.6.1), its properties with it.
    assert.equal((await dav(port(), 'DELETE', '/renamed/')).status, 204);
    assert.equal(existsSync(path.join(root, 'renamed')), false);
    assert.equal(existsSync(path.join(root, '.docroot-props', 'renamed')), false);
  });

  test('a DELETE that cannot remove a member answers 207 naming it and keeps its ancestors', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to mount a tmpfs (a folder rmdir cannot remove)');
      return;
    }
    const busy = path.join(root, 'busy');
    const mountPoint = path.join(busy, 'inner', 'mnt');
    mkdirSync(mountPoint, { recursive: true });
    writeFileSync(path.join(busy, 'a.txt'), 'a');
    writeFileSync(path.join(busy, 'inner', 'b.txt'), 'b');
    if (spawnSync('mount', ['-t', 'tmpfs', 'none', mountPoint]).status !== 0) {
      t.skip('this machine cannot mount a tmpfs');
      return;
    }
    try {
      const answer = await dav(port(), 'DELETE', '/busy/');
      assert.equal(answer.status, 207);
      assert.deepEqual(hrefsOf(answer.body), ['/busy/inner/mnt/']);
      assert.match(
        answer.body.toString(),
        /<D:status>HTTP\/1.1 500 [^<]*<\/D:status><D:responsedescription>could not be removed: it is in use/,
      );
      assert.equal(existsSync(path.join(busy, 'a.txt')), false);
      assert.equal(existsSync(path.join(busy, 'inner', 'b.txt')), false);
      assert.ok(existsSync(mountPoint));
    } finally {
      spawnSync('umount', [mountPoint]);
    }
    assert.equal((await dav(port(), 'DELETE', '/busy/')).status, 204);
    assert.equal(existsSync(busy), false);
  });

  test('a symlink leading out of the root is neither listed nor copied', async () => {
    const outside = makeRoot();
    writeFileSync(path.join(outside, 'private.txt'), 'private');
    mkdirSync(path.join(root, 'links'));
    symlinkSync(outside, path.join(root, 'links', 'out'));
    symlinkSync(path.join(outside, 'private.txt'), path.join(root, 'links', 'private.txt'));
    try {
      const listed = await dav(port(), 'PROPFIND', '/links/', { headers: { Depth: '1' } });
      assert.deepEqual(hrefsOf(listed.body), ['/links/']);
      assert.equal(
        (await dav(port(), 'COPY', '/links/', { headers: { Destination: '/links2/' } })).status,
        201,
      );
      assert.deepEqual(readdirSync(path.join(root, 'links2')), []);
      const direct = await dav(port(), 'COPY', '/links/private.txt', {
        headers: { Destination: '/stolen.txt' },
      });
      assert.equal(direct.status, 403);
      assert.equal(existsSync(path.join(root, 'stolen.txt')), false);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test('an exclusive lock: writes without its token are 423, with it they pass; UNLOCK ends it', async () => {
    writeFileSync(path.join(root, 'locked.txt'), 'v1');
    const locked = await dav(port(), 'LOCK', '/locked.txt', {
      headers: { Timeout: 'Second-600', Depth: '0' },
      body: LOCKINFO_EXCLUSIVE,
    });
    assert.equal(locked.status, 200);
    const token = /^<(urn:uuid:[0-9a-f-]{36})>$/.exec(locked.headers['lock-token'] ?? '')?.[1];
    assert.ok(token, locked.headers['lock-token']);
    assert.match(locked.body.toString(), /<D:timeout>Second-600<\/D:timeout>/);
    assert.match(
      locked.body.toString(),
      /<D:owner><D:href xmlns="DAV:">mailto:me@example.com<\/D:href><\/D:owner>|<D:owner><href xmlns="DAV:">mailto:me@example.com<\/href><\/D:owner>/,
    );

    const put = await dav(port(), 'PUT', '/locked.txt', { body: 'intruder' });
    assert.equal(put.status, 423);
    assert.match(put.body.toString(), /<D:lock-token-submitted><D:href>\/locked.txt<\/D:href>/);
    for (const method of ['DELETE', 'PROPPATCH', 'MOVE']) {
      const answer = await dav(port(), method, '/locked.txt', {
        headers: { Destination: '/elsewhere.txt' },
        ...(method === 'PROPPATCH' ? { body: proppatchSet('p', 'v') } : {}),
      });
      assert.equal(answer.status, 423, method);
    }
    const copyOnto = await dav(port(), 'COPY', '/hello.txt', { headers: { Destination: '/locked.txt' } });
    assert.equal(copyOnto.status, 423);
    const second = await dav(port(), 'LOCK', '/locked.txt', {
      body: LOCKINFO_SHARED,
      headers: { Depth: '0' },
    });
    assert.equal(second.status, 423);
    assert.match(second.body.toString(), /<D:no-conflicting-lock>/);
    assert.equal(readFileSync(path.join(root, 'locked.txt'), 'utf8'), 'v1');

    const owned = await dav(port(), 'PUT', '/locked.txt', { body: 'v2', headers: { If: `(<${token}>)` } });
    assert.equal(owned.status, 204);
    assert.equal(readFileSync(path.join(root, 'locked.txt'), 'utf8'), 'v2');
    const discovered = await dav(port(), 'PROPFIND', '/locked.txt', {
      headers: { Depth: '0' },
      body: propfindBody('lockdiscovery'),
    });
    assert.match(discovered.body.toString(), new RegExp(`<D:locktoken><D:href>${token}</D:href>`));
    const refreshed = await dav(port(), 'LOCK', '/locked.txt', {
      headers: { If: `(<${token}>)`, Timeout: 'Second-60' },
    });
    assert.equal(refreshed.status, 200);
    assert.match(refreshed.body.toString(), /<D:timeout>Second-60<\/D:timeout>/);

    const wrongUnlock = await dav(port(), 'UNLOCK', '/hello.txt', {
      headers: { 'Lock-Token': `<${token}>` },
    });
    assert.equal(wrongUnlock.status, 409);
    assert.equal((await dav(port(), 'UNLOCK', '/locked.txt', {})).status, 400);
    assert.equal(
      (await dav(port(), 'UNLOCK', '/locked.txt', { headers: { 'Lock-Token': `<${token}>` } })).status,
      204,
    );
    assert.equal((await dav(port(), 'PUT', '/locked.txt', { body: 'v3' })).status, 204);
  });

  test('If header: ETags and Not, tagged lists, 412 when no list holds', async () => {
    writeFileSync(path.join(root, 'cond.txt'), 'c1');
    const etag = (await dav(port(), 'HEAD', '/cond.txt')).headers.etag!;
    const put = (value: string) => dav(port(), 'PUT', '/cond.txt', { body: 'c', headers: { If: value } });
    assert.equal((await put(`(["nope"])`)).status, 412);
    assert.equal((await put(`(Not [${etag}])`)).status, 412);
    assert.equal((await put(`(<DAV:no-lock>)`)).status, 412);
    assert.equal((await put(`(<DAV:no-lock>) (Not <DAV:no-lock>)`)).status, 204);
    const etag2 = (await dav(port(), 'HEAD', '/cond.txt')).headers.etag!;
    assert.equal((await put(`<http://127.0.0.1:${port()}/cond.txt> ([${etag2}])`)).status, 204);
    assert.equal((await put(`<http://127.0.0.1:${port()}/hello.txt> (["other"])`)).status, 412);
    assert.equal((await put('(garbage')).status, 400);
    assert.equal((await put(`(<urn:x>) <http://127.0.0.1/x> (<urn:y>)`)).status, 400);
  });

  test('shared locks coexist; an exclusive one then conflicts; a depth-infinity lock covers members', async () => {
    mkdirSync(path.join(root, 'shared'));
    const first = await dav(port(), 'LOCK', '/shared/', {
      headers: { Depth: 'infinity' },
      body: LOCKINFO_SHARED,
    });
    const second = await dav(port(), 'LOCK', '/shared/', { headers: { Depth: '0' }, body: LOCKINFO_SHARED });
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    const exclusive = await dav(port(), 'LOCK', '/shared/', {
      headers: { Depth: '0' },
      body: LOCKINFO_EXCLUSIVE,
    });
    assert.equal(exclusive.status, 423);
    const token = first.headers['lock-token']!;
    // A new member of a locked folder needs the folder's token (RFC 4918 §7.4).
    assert.equal((await dav(port(), 'PUT', '/shared/new.txt', { body: 'n' })).status, 423);
    assert.equal(
      (await dav(port(), 'PUT', '/shared/new.txt', { body: 'n', headers: { If: `(${token})` } })).status,
      201,
    );
    assert.equal((await dav(port(), 'MKCOL', '/shared/sub/')).status, 423);
    // Deleting the folder needs the tokens of the locks inside it too.
    const inner = await dav(port(), 'LOCK', '/shared/new.txt', {
      headers: { Depth: '0', If: `(${token})` },
      body: LOCKINFO_SHARED,
    });
    assert.equal(inner.status, 200);
    assert.equal((await dav(port(), 'DELETE', '/shared/', { headers: { If: `(${token})` } })).status, 423);
    const both = `(${token}) (${inner.headers['lock-token']})`;
    assert.equal((await dav(port(), 'DELETE', '/shared/', { headers: { If: both } })).status, 204);
    assert.equal(existsSync(path.join(root, 'shared')), false);
  });

  test('LOCK on an unmapped URL makes an empty file (201); bad lock bodies are 400', async () => {
    const made = await dav(port(), 'LOCK', '/fresh.txt', {
      headers: { Depth: '0' },
      body: LOCKINFO_EXCLUSIVE,
    });
    assert.equal(made.status, 201);
    assert.equal(readFileSync(path.join(root, 'fresh.txt'), 'utf8'), '');
    const bad =
      '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:whatever/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>';
    assert.equal((await dav(port(), 'LOCK', '/hello.txt', { body: bad })).status, 400);
    assert.equal((await dav(port(), 'LOCK', '/hello.txt', { body: '<x/>' })).status, 400);
    assert.equal((await dav(port(), 'LOCK', '/nofolder/x.txt', { body: LOCKINFO_EXCLUSIVE })).status, 409);
    assert.equal((await dav(port(), 'LOCK', '/.hidden', { body: LOCKINFO_EXCLUSIVE })).status, 403);
    // A refresh needs a token.
    assert.equal((await dav(port(), 'LOCK', '/hello.txt', {})).status, 412);
  });

  test('a folder of 10,000 entries streams out as one chunked 207', async () => {
    const big = path.join(root, 'big');
    mkdirSync(big);
    for (let i = 0; i < 10_000; i++) writeFileSync(path.join(big, `f${i}.txt`), '');
    const answer = await dav(port(), 'PROPFIND', '/big/', {
      headers: { Depth: '1' },
      body: propfindBody('getcontentlength', 'resourcetype'),
      timeoutMs: 120_000,
    });
    assert.equal(answer.status, 207);
    assert.equal(answer.headers['transfer-encoding'], 'chunked');
    assert.equal(answer.headers['content-length'], undefined);
    assert.equal(hrefsOf(answer.body).length, 10_001);
    assert.match(answer.body.toString().trimEnd(), /<\/D:multistatus>$/);
    rmSync(big, { recursive: true });
  });

  test('hostile XML bodies get 400 or 413 and the server stays up', async () => {
    const depth0 = (body: string | Buffer) => dav(port(), 'PROPFIND', '/', { headers: { Depth: '0' }, body });
    const billionLaughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><D:propfind xmlns:D="DAV:"><D:prop>&lol2;</D:prop></D:propfind>`;
    const external = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><D:propfind xmlns:D="DAV:"><D:prop>&e;</D:prop></D:propfind>`;
    const cases: [string | Buffer, number][] = [
      ['<foo>', 400],
      ['<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>', 400],
      [billionLaughs, 400],
      [external, 400],
      [`${'<a>'.repeat(100)}${'</a>'.repeat(100)}`, 400],
      [`<D:propfind xmlns:D="DAV:"><D:prop>${'<x/>'.repeat(20_000)}</D:prop></D:propfind>`, 400],
      [Buffer.alloc(2 * 1024 * 1024, 0x20), 413],
      ['<D:propfind xmlns:D="DAV:"><D:bogus/></D:propfind>', 400],
      ['not xml at all', 400],
      [Buffer.from([0xff, 0xfe, 0x00, 0x3c]), 400],
      ['<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind><trailing/>', 400],
    ];
    for (const [body, status] of cases) {
      const answer = await depth0(body);
      assert.equal(answer.status, status, body.toString().slice(0, 80));
      assert.match(answer.body.toString(), new RegExp(`^${status} `), body.toString().slice(0, 80));
    }
    // A declared size over the limit is refused before the body is asked for (no 100 Continue).
    const expect = await exchange(
      port(),
      `PROPFIND / HTTP/1.1\r\nHost: localhost\r\nDepth: 0\r\nExpect: 100-continue\r\nContent-Length: 5000000\r\n\r\n`,
    );
    assert.deepEqual(
      expect.responses.map((response) => response.status),
      [413],
    );
    // Random mutations of a valid body: never a 5xx.
    const valid = proppatchSet('fuzz', 'value');
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 150; i++) {
      const bytes = Buffer.from(valid);
      for (let j = 0; j < 1 + (random() % 4); j++) bytes[random() % bytes.length] = random() % 256;
      const method = i % 3 === 0 ? 'PROPFIND' : i % 3 === 1 ? 'PROPPATCH' : 'LOCK';
      const answer = await dav(port(), method, '/hello.txt', { headers: { Depth: '0' }, body: bytes });
      assert.ok(answer.status < 500, `${method} got ${answer.status} for ${bytes.toString('latin1')}`);
    }
    assert.equal((await dav(port(), 'GET', '/hello.txt')).status, 200);
    assert.deepEqual(docroot.errors, []);
  });
});

describe('WebDAV without --upload: a read-only share still mounts', () => {
  let docroot: RunningDocroot;
  let root: string;
  before(async () => {
    root = makeRoot();
    writeFileSync(path.join(root, 'a.txt'), 'a');
    docroot = await startDocroot({ root });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('OPTIONS says class 1 only; PROPFIND works; the other DAV methods are 405', async () => {
    const options = await dav(docroot.port, 'OPTIONS', '/');
    assert.equal(options.headers.dav, '1');
    assert.equal(options.headers['ms-author-via'], 'DAV');
    assert.equal(options.headers.allow, 'GET, HEAD, OPTIONS, PROPFIND');
    const found = await dav(docroot.port, 'PROPFIND', '/', { headers: { Depth: '1' } });
    assert.equal(found.status, 207);
    assert.deepEqual(hrefsOf(found.body).sort(), ['/', '/a.txt']);
    assert.doesNotMatch(found.body.toString(), /<D:lockentry>/);
    for (const method of ['PROPPATCH', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'DELETE', 'PUT', 'MKCOL']) {
      assert.equal((await dav(docroot.port, method, '/a.txt')).status, 405, method);
    }
  });
});

describe('--no-webdav', () => {
  let docroot: RunningDocroot;
  let root: string;
  before(async () => {
    root = makeRoot();
    mkdirSync(path.join(root, 'full'));
    writeFileSync(path.join(root, 'full', 'x.txt'), 'x');
    docroot = await startDocroot({ root, upload: {}, webdav: false });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('the flag and the config key turn it off; it is on by default', () => {
    const webdavOf = (argv: string[], config?: ConfigFileValues['values']) => {
      const command = parseCommandLine(
        argv,
        config === undefined ? undefined : { source: 'test', values: config },
      );
      assert.equal(command.kind, 'serve');
      return command.kind === 'serve' ? command.options.webdav : undefined;
    };
    assert.equal(webdavOf([]), true);
    assert.equal(webdavOf(['--no-webdav']), false);
    assert.equal(webdavOf([], { 'no-webdav': true }), false);
  });

  test('no DAV header, PROPFIND is 405, and DELETE of a non-empty folder is 409 as plain HTTP', async () => {
    const options = await dav(docroot.port, 'OPTIONS', '/');
    assert.equal(options.status, 204);
    assert.equal(options.headers.dav, undefined);
    assert.equal(options.headers.allow, 'GET, HEAD, OPTIONS, PUT, PATCH, DELETE, MKCOL, POST');
    assert.equal((await dav(docroot.port, 'PROPFIND', '/', { headers: { Depth: '0' } })).status, 405);
    const full = await dav(docroot.port, 'DELETE', '/full/');
    assert.equal(full.status, 409);
    assert.match(full.body.toString(), /^409 Conflict: the folder is not empty\n$/);
  });
});

describe('WebDAV and --auth', () => {
  let docroot: RunningDocroot;
  let root: string;
  const admin = `Basic ${Buffer.from('admin:pw').toString('base64')}`;
  before(async () => {
    root = makeRoot();
    writeFileSync(path.join(root, 'a.txt'), 'a');
    mkdirSync(path.join(root, 'shared', 'bob'), { recursive: true });
    writeFileSync(path.join(root, 'shared', 'bob', 'mine.txt'), 'bob');
    docroot = await startDocroot({
      root,
      upload: {},
      auth: [
        { pathPrefix: '/', access: 'ro' },
        { user: 'admin', password: 'pw', pathPrefix: '/', access: 'rw' },
        { user: 'bob', password: 'pw', pathPrefix: '/shared/bob', access: 'rw' },
        { user: 'carol', password: 'pw', pathPrefix: '/', access: 'rw' },
      ],
    });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('PROPFIND needs read access; the other DAV methods need rw; no Origin is needed', async () => {
    assert.equal((await dav(docroot.port, 'PROPFIND', '/', { headers: { Depth: '1' } })).status, 207);
    for (const method of ['PROPPATCH', 'COPY', 'MOVE', 'LOCK', 'UNLOCK']) {
      assert.equal(
        (await dav(docroot.port, method, '/a.txt', { headers: { Destination: '/b.txt' } })).status,
        401,
        method,
      );
    }
    const moved = await dav(docroot.port, 'MOVE', '/a.txt', {
      headers: { Destination: '/b.txt', Authorization: admin },
    });
    assert.equal(moved.status, 201);
    assert.ok(existsSync(path.join(root, 'b.txt')));
  });

  test('a lock token works only for the user who took the lock (RFC 4918 §6.4)', async () => {
    const carol = `Basic ${Buffer.from('carol:pw').toString('base64')}`;
    writeFileSync(path.join(root, 'mine.txt'), 'admin');
    const locked = await dav(docroot.port, 'LOCK', '/mine.txt', {
      headers: { Authorization: admin, Depth: '0' },
      body: LOCKINFO_EXCLUSIVE,
    });
    assert.equal(locked.status, 200);
    const token = locked.headers['lock-token']!;
    const asCarol = { Authorization: carol, If: `(${token})` };
    assert.equal(
      (await dav(docroot.port, 'PUT', '/mine.txt', { headers: asCarol, body: 'carol' })).status,
      423,
    );
    const unlock = await dav(docroot.port, 'UNLOCK', '/mine.txt', {
      headers: { Authorization: carol, 'Lock-Token': token },
    });
    assert.equal(unlock.status, 403);
    const asAdmin = { Authorization: admin, If: `(${token})` };
    assert.equal(
      (await dav(docroot.port, 'PUT', '/mine.txt', { headers: asAdmin, body: 'admin2' })).status,
      204,
    );
    const done = await dav(docroot.port, 'UNLOCK', '/mine.txt', {
      headers: { Authorization: admin, 'Lock-Token': token },
    });
    assert.equal(done.status, 204);
  });

  test('the Destination and every rule folder inside a moved, copied or deleted folder are checked too', async () => {
    const bob = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
    const asAdmin = (extra: Record<string, string> = {}) => ({ headers: { Authorization: admin, ...extra } });
    const into = await dav(docroot.port, 'COPY', '/b.txt', asAdmin({ Destination: '/shared/bob/b.txt' }));
    // admin's password is right, but bob's rule does not name admin: 403 naming the rule (issue 17).
    assert.equal(into.status, 403);
    assert.equal(existsSync(path.join(root, 'shared', 'bob', 'b.txt')), false);
    assert.equal((await dav(docroot.port, 'DELETE', '/shared/', asAdmin())).status, 403);
    assert.equal(
      (await dav(docroot.port, 'MOVE', '/shared/', asAdmin({ Destination: '/mine/' }))).status,
      403,
    );
    assert.equal(
      (await dav(docroot.port, 'COPY', '/shared/', asAdmin({ Destination: '/copy/' }))).status,
      403,
    );
    assert.equal(existsSync(path.join(root, 'copy')), false);
    assert.ok(existsSync(path.join(root, 'shared', 'bob', 'mine.txt')));
    // An If list about a resource the request may not read never holds.
    const probe = await dav(docroot.port, 'PUT', '/b.txt', {
      body: 'x',
      headers: {
        Authorization: admin,
        If: `<http://127.0.0.1:${docroot.port}/shared/bob/mine.txt> (Not ["nothing"])`,
      },
    });
    assert.equal(probe.status, 412);
    const own = await dav(docroot.port, 'MOVE', '/shared/bob/mine.txt', {
      headers: { Authorization: bob, Destination: '/shared/bob/renamed.txt' },
    });
    assert.equal(own.status, 201);
  });
});

describe('client quirks, replayed as the clients send them', () => {
  let docroot: RunningDocroot;
  let root: string;
  before(async () => {
    root = makeRoot();
    mkdirSync(path.join(root, 'share'));
    writeFileSync(path.join(root, 'share', 'doc.txt'), 'doc');
    docroot = await startDocroot({ root, upload: {} });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('Windows mini-redirector: OPTIONS and PROPFIND on the root, folders without slash, LOCK-PUT-PROPPATCH-UNLOCK', async () => {
    const windows = { 'User-Agent': 'Microsoft-WebDAV-MiniRedir/10.0.19045', translate: 'f' };
    const options = await dav(docroot.port, 'OPTIONS', '/', { headers: windows });
    assert.equal(options.headers['ms-author-via'], 'DAV');
    assert.equal(options.headers.dav, '1, 2');
    const rootProps = await dav(docroot.port, 'PROPFIND', '/', { headers: { ...windows, Depth: '0' } });
    assert.equal(rootProps.status, 207);
    // Windows asks for folders without the trailing slash and does not follow redirects for PROPFIND.
    const folder = await dav(docroot.port, 'PROPFIND', '/share', {
      headers: { ...windows, Depth: '1' },
      body: '<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:prop xmlns:Z="urn:schemas-microsoft-com:"><D:creationdate/><D:getcontentlength/><D:displayname/><D:getcontenttype/><D:getlastmodified/><D:resourcetype/><Z:Win32FileAttributes/><Z:Win32CreationTime/></D:prop></D:propfind>',
    });
    assert.equal(folder.status, 207);
    assert.deepEqual(hrefsOf(folder.body), ['/share/', '/share/doc.txt']);
    // Explorer's copy: an empty PUT, LOCK, the content with the token, the Win32 times, UNLOCK.
    assert.equal(
      (await dav(docroot.port, 'PUT', '/share/new.txt', { headers: windows, body: '' })).status,
      201,
    );
    const locked = await dav(docroot.port, 'LOCK', '/share/new.txt', {
      headers: { ...windows, Timeout: 'Second-3600' },
      body: '<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>WIN\\user</D:href></D:owner></D:lockinfo>',
    });
    assert.equal(locked.status, 200);
    const token = locked.headers['lock-token']!;
    const tagged = `<http://127.0.0.1:${docroot.port}/share/new.txt> (${token})`;
    assert.equal(
      (
        await dav(docroot.port, 'PUT', '/share/new.txt', {
          headers: { ...windows, If: tagged },
          body: 'content',
        })
      ).status,
      204,
    );
    const patched = await dav(docroot.port, 'PROPPATCH', '/share/new.txt', {
      headers: { ...windows, If: `(${token})` },
      body: '<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32CreationTime>Mon, 02 Jan 2023 03:04:05 GMT</Z:Win32CreationTime><Z:Win32LastModifiedTime>Mon, 02 Jan 2023 03:04:05 GMT</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>',
    });
    assert.equal(patched.status, 207);
    assert.doesNotMatch(patched.body.toString(), /HTTP\/1.1 (4|5)\d\d/);
    assert.equal(
      (await dav(docroot.port, 'UNLOCK', '/share/new.txt', { headers: { ...windows, 'Lock-Token': token } }))
        .status,
      204,
    );
    assert.equal(readFileSync(path.join(root, 'share', 'new.txt'), 'utf8'), 'content');
    // The Win32 modification time becomes the file's own, so GET's Last-Modified agrees with Explorer.
    const head = await dav(docroot.port, 'HEAD', '/share/new.txt');
    assert.equal(head.headers['last-modified'], 'Mon, 02 Jan 2023 03:04:05 GMT');
  });

  test('macOS Finder: class 2 is offered; ._* and .DS_Store are refused without --dotfiles (documented)', async () => {
    const finder = { 'User-Agent': 'WebDAVFS/3.0.0 (03008000) Darwin/22.1.0 (arm64)' };
    const options = await dav(docroot.port, 'OPTIONS', '/', { headers: finder });
    assert.equal(options.headers.dav, '1, 2');
    const props = await dav(docroot.port, 'PROPFIND', '/', {
      headers: { ...finder, Depth: '1' },
      body: '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getlastmodified/><D:getcontentlength/><D:creationdate/><D:resourcetype/></D:prop></D:propfind>',
    });
    assert.equal(props.status, 207);
    assert.equal(
      (await dav(docroot.port, 'PUT', '/share/._doc.txt', { headers: finder, body: 'AppleDouble' })).status,
      403,
    );
    assert.equal(
      (await dav(docroot.port, 'PUT', '/share/.DS_Store', { headers: finder, body: 'Bud1' })).status,
      403,
    );
    // Finder asks about quota for the volume's free space.
    const quota = await dav(docroot.port, 'PROPFIND', '/', {
      headers: { ...finder, Depth: '0' },
      body: propfindBody('quota-available-bytes', 'quota-used-bytes'),
    });
    assert.match(propertyText(quota.body, 'quota-available-bytes') ?? '', /^\d+$/);
  });

  test('gvfs: OPTIONS on the mount path, then PROPFIND on the parents up to /', async () => {
    const gvfs = { 'User-Agent': 'gvfs/1.50.2' };
    const options = await dav(docroot.port, 'OPTIONS', '/share/', { headers: gvfs });
    assert.match(options.headers.dav ?? '', /^1/);
    for (const target of ['/share/', '/share', '/']) {
      const answer = await dav(docroot.port, 'PROPFIND', target, {
        headers: { ...gvfs, Depth: '0' },
        body: propfindBody(
          'resourcetype',
          'getcontentlength',
          'getlastmodified',
          'getcontenttype',
          'getetag',
        ),
      });
      assert.equal(answer.status, 207, target);
    }
  });
});

describe('WebDAV without locks (what --workers runs: each worker would hold its own)', () => {
  let docroot: RunningDocroot;
  let root: string;
  before(async () => {
    root = makeRoot();
    writeFileSync(path.join(root, 'a.txt'), 'a');
    docroot = await startDocroot({ root, upload: {}, webdavLocks: false });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('class 1 only: no LOCK or UNLOCK, no supportedlock; the other methods work', async () => {
    const options = await dav(docroot.port, 'OPTIONS', '/');
    assert.equal(options.headers.dav, '1');
    assert.doesNotMatch(options.headers.allow ?? '', /LOCK/);
    const locked = await dav(docroot.port, 'LOCK', '/a.txt', { body: LOCKINFO_EXCLUSIVE });
    assert.equal(locked.status, 405);
    const props = await dav(docroot.port, 'PROPFIND', '/a.txt', {
      headers: { Depth: '0' },
      body: propfindBody('supportedlock'),
    });
    assert.doesNotMatch(props.body.toString(), /lockentry/);
    assert.equal(
      (await dav(docroot.port, 'MOVE', '/a.txt', { headers: { Destination: '/b.txt' } })).status,
      201,
    );
  });
});
