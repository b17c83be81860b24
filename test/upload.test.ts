/**
 * Write access (--upload) over raw sockets: PUT through a temporary file, interrupted and concurrent
 * uploads, resumable PATCH, DELETE, MKCOL, the multipart form, limits and path safety.
 */
import assert from 'node:assert/strict';
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
import { parseByteSize } from '../src/cli/args.js';
import { parseContentRange, sanitizeFileName } from '../src/handlers/upload.js';
import { openSockets, startChildServer } from './helpers/load.js';
import { connect, exchange, parseResponses, type RawResponse } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';
import { waitFor } from './helpers/wait.js';

function makeRoot(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'docroot-upload-'));
}

/** Every name in a folder, hidden ones included (temporary upload files are hidden). */
function allNames(dir: string): string[] {
  return readdirSync(dir).sort();
}

async function send(
  port: number,
  method: string,
  target: string,
  body: Buffer | string | null = null,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const bytes = body === null ? null : Buffer.from(body);
  const fields = Object.entries({
    Host: 'localhost',
    ...(bytes !== null ? { 'Content-Length': String(bytes.length) } : {}),
    ...headers,
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const head = Buffer.from(`${method} ${target} HTTP/1.1\r\n${fields}Connection: close\r\n\r\n`, 'latin1');
  const result = await exchange(port, bytes === null ? head : Buffer.concat([head, bytes]), {
    headResponses: method === 'HEAD' ? [0] : [],
  });
  const response = result.responses.find((r) => r.status >= 200);
  assert.ok(response, `no response to ${method} ${target}: ${result.raw.toString('latin1')}`);
  return response;
}

describe('uploads', () => {
  let root: string;
  let docroot: RunningDocroot;
  before(async () => {
    root = makeRoot();
    docroot = await startDocroot({ root, upload: { maxBytes: 4 * 1024 * 1024 } });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('PUT creates (201) then replaces (204), and a GET right after sees the new bytes', async () => {
    const first = await send(docroot.port, 'PUT', '/note.txt', 'first version');
    assert.equal(first.status, 201);
    assert.equal(first.headers.location, '/note.txt');
    assert.equal(readFileSync(path.join(root, 'note.txt'), 'utf8'), 'first version');
    assert.equal((await send(docroot.port, 'GET', '/note.txt')).body.toString(), 'first version');
    const second = await send(docroot.port, 'PUT', '/note.txt', 'second');
    assert.equal(second.status, 204);
    assert.equal((await send(docroot.port, 'GET', '/note.txt')).body.toString(), 'second');
    assert.deepEqual(
      allNames(root).filter((n) => n.startsWith('.')),
      [],
    );
  });

  test('PUT with If-None-Match: * refuses to replace (412)', async () => {
    await send(docroot.port, 'PUT', '/once.txt', 'a');
    const again = await send(docroot.port, 'PUT', '/once.txt', 'b', { 'If-None-Match': '*' });
    assert.equal(again.status, 412);
    assert.equal(readFileSync(path.join(root, 'once.txt'), 'utf8'), 'a');
  });

  test('a chunked PUT is written whole', async () => {
    const socket = await connect(docroot.port);
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(
      'PUT /chunked.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
        '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    );
    await closed;
    assert.equal(parseResponses(Buffer.concat(chunks), [], true).responses[0]?.status, 201);
    assert.equal(readFileSync(path.join(root, 'chunked.txt'), 'utf8'), 'hello world');
  });

  test('PUT into a missing folder is 409; onto a folder is 409; to a folder URL is 405', async () => {
    assert.equal((await send(docroot.port, 'PUT', '/missing/file.txt', 'x')).status, 409);
    mkdirSync(path.join(root, 'adir'), { recursive: true });
    assert.equal((await send(docroot.port, 'PUT', '/adir', 'x')).status, 409);
    assert.equal((await send(docroot.port, 'PUT', '/adir/', 'x')).status, 405);
  });

  test('an upload interrupted half-way leaves no file and no temporary file', async () => {
    const dir = path.join(root, 'interrupted');
    mkdirSync(dir);
    const total = 1024 * 1024;
    const socket = await connect(docroot.port);
    socket.on('error', () => {});
    socket.write(`PUT /interrupted/big.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${total}\r\n\r\n`);
    socket.write(Buffer.alloc(total / 2, 0x61));
    await waitFor(() => allNames(dir).some((n) => n.startsWith('.docroot-upload-')), 'the temporary file');
    socket.destroy();
    await waitFor(() => allNames(dir).length === 0, 'the temporary file to be removed');
    assert.equal(existsSync(path.join(dir, 'big.bin')), false);
  });

  test('two concurrent PUTs to one name end with one complete body', async () => {
    const size = 2 * 1024 * 1024;
    const bodies = [Buffer.alloc(size, 0x41), Buffer.alloc(size, 0x42)];
    const sockets = await Promise.all([connect(docroot.port), connect(docroot.port)]);
    const answers = sockets.map((socket) => {
      const received: Buffer[] = [];
      socket.on('data', (d: Buffer) => received.push(d));
      return new Promise<number>((resolve) =>
        socket.on('close', () =>
          resolve(parseResponses(Buffer.concat(received), [], true).responses[0]?.status ?? 0),
        ),
      );
    });
    sockets.forEach((socket) => {
      socket.write(
        `PUT /race.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`,
      );
    });
    const piece = 64 * 1024;
    for (let offset = 0; offset < size; offset += piece) {
      // Both uploads advance piece by piece, each piece handed to the kernel before the next.
      await Promise.all(
        sockets.map(
          (socket, i) =>
            new Promise((resolve) => socket.write(bodies[i]!.subarray(offset, offset + piece), resolve)),
        ),
      );
    }
    const statuses = await Promise.all(answers);
    for (const status of statuses) assert.ok(status === 201 || status === 204, `status ${status}`);
    const final = readFileSync(path.join(root, 'race.bin'));
    assert.ok(final.equals(bodies[0]!) || final.equals(bodies[1]!), 'the file is exactly one of the bodies');
    assert.deepEqual(
      allNames(root).filter((n) => n.startsWith('.docroot-upload-')),
      [],
    );
  });

  test('a resumable upload in three pieces (PUT, PATCH append, PATCH Content-Range) equals the original', async () => {
    const original = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));
    const a = original.subarray(0, 100_000);
    const b = original.subarray(100_000, 180_000);
    const c = original.subarray(180_000);
    assert.equal((await send(docroot.port, 'PUT', '/resume.bin', a)).status, 201);
    const appended = await send(docroot.port, 'PATCH', '/resume.bin', b, { 'X-Update-Range': 'append' });
    assert.equal(appended.status, 204);
    assert.equal(appended.headers['x-upload-size'], '180000');
    const head = await send(docroot.port, 'HEAD', '/resume.bin');
    assert.equal(head.headers['content-length'], '180000');
    const last = await send(docroot.port, 'PATCH', '/resume.bin', c, {
      'Content-Range': `bytes 180000-${original.length - 1}/${original.length}`,
    });
    assert.equal(last.status, 204);
    assert.ok(readFileSync(path.join(root, 'resume.bin')).equals(original));
  });

  test('PATCH past the end is 416 with the current size; without a range header is 400; on nothing is 404', async () => {
    await send(docroot.port, 'PUT', '/short.txt', 'abc');
    const gap = await send(docroot.port, 'PATCH', '/short.txt', 'xyz', { 'Content-Range': 'bytes 10-12/13' });
    assert.equal(gap.status, 416);
    assert.equal(gap.headers['content-range'], 'bytes */3');
    assert.equal((await send(docroot.port, 'PATCH', '/short.txt', 'x')).status, 400);
    assert.equal(
      (await send(docroot.port, 'PATCH', '/nothing.txt', 'x', { 'X-Update-Range': 'append' })).status,
      404,
    );
    assert.equal(readFileSync(path.join(root, 'short.txt'), 'utf8'), 'abc');
  });

  test('DELETE removes a file, and a folder with all it holds (RFC 4918 §9.6.1)', async () => {
    await send(docroot.port, 'PUT', '/gone.txt', 'bye');
    assert.equal((await send(docroot.port, 'DELETE', '/gone.txt')).status, 204);
    assert.equal(existsSync(path.join(root, 'gone.txt')), false);
    assert.equal((await send(docroot.port, 'GET', '/gone.txt')).status, 404);
    assert.equal((await send(docroot.port, 'DELETE', '/gone.txt')).status, 404);
    mkdirSync(path.join(root, 'full'));
    writeFileSync(path.join(root, 'full', 'x.txt'), 'x');
    assert.equal((await send(docroot.port, 'DELETE', '/full/')).status, 204);
    assert.equal(existsSync(path.join(root, 'full')), false);
    mkdirSync(path.join(root, 'empty'));
    assert.equal((await send(docroot.port, 'DELETE', '/empty/')).status, 204);
    assert.equal(existsSync(path.join(root, 'empty')), false);
    assert.equal((await send(docroot.port, 'DELETE', '/')).status, 403);
  });

  test('MKCOL makes a folder (201), then 405 when it exists, 409 without a parent', async () => {
    const made = await send(docroot.port, 'MKCOL', '/newdir/');
    assert.equal(made.status, 201);
    assert.equal(made.headers.location, '/newdir/');
    assert.ok(existsSync(path.join(root, 'newdir')));
    assert.equal((await send(docroot.port, 'MKCOL', '/newdir/')).status, 405);
    assert.equal((await send(docroot.port, 'MKCOL', '/no/such/')).status, 409);
    assert.equal((await send(docroot.port, 'MKCOL', '/withbody/', 'x')).status, 415);
  });

  test('OPTIONS and Allow list the write methods', async () => {
    const options = await send(docroot.port, 'OPTIONS', '/');
    const allow =
      'GET, HEAD, OPTIONS, PUT, PATCH, DELETE, MKCOL, POST, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK';
    assert.equal(options.headers.allow, allow);
    const trace = await send(docroot.port, 'TRACE', '/');
    assert.equal(trace.status, 405);
    assert.equal(trace.headers.allow, allow);
  });

  test('uploads obey the read rules: hidden names, escapes, and symlinks out of the root', async () => {
    const hidden = await send(docroot.port, 'PUT', '/.env', 'SECRET=1');
    assert.equal(hidden.status, 403);
    assert.equal(existsSync(path.join(root, '.env')), false);
    assert.equal((await send(docroot.port, 'PUT', '/.docroot-upload-x', 'x')).status, 403);
    assert.equal((await send(docroot.port, 'PUT', '/%2e%2e/escape.txt', 'x')).status, 400);
    assert.equal((await send(docroot.port, 'PUT', '/a%2fb.txt', 'x')).status, 400);
    const outside = mkdtempSync(path.join(os.tmpdir(), 'docroot-outside-'));
    try {
      symlinkSync(outside, path.join(root, 'out'));
      symlinkSync(path.join(outside, 'target.txt'), path.join(root, 'outfile.txt'));
      writeFileSync(path.join(outside, 'target.txt'), 'outside');
      assert.equal((await send(docroot.port, 'PUT', '/out/x.txt', 'x')).status, 403);
      assert.equal((await send(docroot.port, 'PUT', '/outfile.txt', 'x')).status, 403);
      assert.equal((await send(docroot.port, 'MKCOL', '/out/d/')).status, 403);
      assert.deepEqual(readdirSync(outside), ['target.txt']);
      assert.equal(readFileSync(path.join(outside, 'target.txt'), 'utf8'), 'outside');
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test('a multipart POST saves each file (basename only) and answers 303 back to the folder', async () => {
    mkdirSync(path.join(root, 'inbox'));
    const boundary = '----docroot-test-boundary';
    const payload = Buffer.alloc(200_000, 0x5a);
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="../../evil name.txt"\r\n` +
          'Content-Type: text/plain\r\n\r\n',
      ),
      payload,
      Buffer.from(
        `\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="two.txt"\r\n\r\nsecond\r\n` +
          `--${boundary}--\r\n`,
      ),
    ]);
    const answer = await send(docroot.port, 'POST', '/inbox/', body, {
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
    });
    assert.equal(answer.status, 303);
    assert.equal(answer.headers.location, '/inbox/');
    assert.deepEqual(allNames(path.join(root, 'inbox')), ['evil name.txt', 'two.txt']);
    assert.ok(readFileSync(path.join(root, 'inbox', 'evil name.txt')).equals(payload));
    const listing = await send(docroot.port, 'GET', '/inbox/', null, { Accept: 'text/html' });
    assert.match(listing.body.toString(), /<form id="upload" method="post" enctype="multipart\/form-data"/);
    assert.match(listing.body.toString(), /two\.txt/);
  });

  test('a multipart POST with a hidden file name is refused (400) and saves nothing', async () => {
    mkdirSync(path.join(root, 'inbox2'));
    const boundary = 'b0und';
    const body =
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename=".htaccess"\r\n\r\nDeny\r\n` +
      `--${boundary}--\r\n`;
    const answer = await send(docroot.port, 'POST', '/inbox2/', body, {
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
    });
    assert.equal(answer.status, 400);
    assert.deepEqual(allNames(path.join(root, 'inbox2')), []);
  });

  test('file names from forms are sanitized', () => {
    assert.equal(sanitizeFileName('C:\\Users\\me\\report.pdf', false), 'report.pdf');
    assert.equal(sanitizeFileName('a/b/../c.txt', false), 'c.txt');
    assert.ok(typeof sanitizeFileName('..', false) !== 'string');
    assert.ok(typeof sanitizeFileName('x\0y', false) !== 'string');
    assert.ok(typeof sanitizeFileName('.bashrc', false) !== 'string');
    assert.equal(sanitizeFileName('.bashrc', true), '.bashrc');
    assert.ok(typeof sanitizeFileName('.docroot-upload-1', true) !== 'string');
  });

  test('Content-Range and byte sizes parse as documented', () => {
    assert.deepEqual(parseContentRange('bytes 0-9/10'), { first: 0, last: 9, total: 10 });
    assert.deepEqual(parseContentRange('bytes 5-9/*'), { first: 5, last: 9, total: null });
    assert.equal(parseContentRange('bytes 9-5/10'), null);
    assert.equal(parseContentRange('bytes 0-10/10'), null);
    assert.equal(parseByteSize('10M'), 10 * 1024 * 1024);
    assert.equal(parseByteSize('1G'), 1024 ** 3);
    assert.equal(parseByteSize('512'), 512);
    assert.equal(parseByteSize('1.5k'), 1536);
    assert.equal(parseByteSize('lots'), null);
  });
});

describe('upload limits', () => {
  let root: string;
  let docroot: RunningDocroot;
  const maxBytes = 64 * 1024;
  before(async () => {
    root = makeRoot();
    docroot = await startDocroot({ root, upload: { maxBytes } });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('a declared body over --max-upload-size is 413 and nothing is left', async () => {
    const answer = await send(docroot.port, 'PUT', '/big.bin', Buffer.alloc(maxBytes + 1));
    assert.equal(answer.status, 413);
    assert.match(answer.body.toString(), /^413 Content Too Large: .*upload limit of 65536 bytes\n$/);
    assert.deepEqual(allNames(root), []);
  });

  test('a chunked body that grows past the limit is 413 and the temporary file is removed', async () => {
    const socket = await connect(docroot.port);
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => {});
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write('PUT /big.bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n');
    const piece = Buffer.alloc(16 * 1024, 0x62);
    // Send just past the limit, then stop: writing on would make the closing server reset the connection.
    const pieces = Math.floor(maxBytes / piece.length) + 1;
    for (let i = 0; i < pieces && !socket.destroyed && received.length === 0; i++) {
      socket.write(`${piece.length.toString(16)}\r\n`);
      socket.write(piece);
      await new Promise((resolve) => socket.write('\r\n', resolve));
    }
    await closed;
    assert.equal(parseResponses(Buffer.concat(received), [], true).responses[0]?.status, 413);
    await waitFor(() => allNames(root).length === 0, 'nothing left in the root');
  });

  test('a file of exactly the limit is accepted', async () => {
    assert.equal((await send(docroot.port, 'PUT', '/exact.bin', Buffer.alloc(maxBytes))).status, 201);
  });

  test('a form file over the limit is 413 and nothing is left', async () => {
    mkdirSync(path.join(root, 'form'));
    const boundary = 'xyz';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n`),
      Buffer.alloc(maxBytes + 10),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const answer = await send(docroot.port, 'POST', '/form/', body, {
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
    });
    assert.equal(answer.status, 413);
    assert.deepEqual(allNames(path.join(root, 'form')), []);
  });
});

describe('without --upload', () => {
  let docroot: RunningDocroot;
  before(async () => {
    docroot = await startDocroot();
  });
  after(() => docroot?.close());

  test('the write methods stay 405 and listings have no form', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE', 'MKCOL', 'POST']) {
      const answer = await send(docroot.port, method, '/text.txt', 'x');
      assert.equal(answer.status, 405, method);
      assert.equal(answer.headers.allow, 'GET, HEAD, OPTIONS, PROPFIND');
    }
    const listing = await send(docroot.port, 'GET', '/', null, { Accept: 'text/html' });
    assert.doesNotMatch(listing.body.toString(), /<form id="upload"/);
  });
});

describe('an unexpected write failure', () => {
  test('is a 500 with a generic line for the client, and goes to the server log', async (t) => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'docroot-upload-emfile-'));
    // Out of descriptors (EMFILE), the temporary file cannot be opened: no refusal a client caused.
    const child = await startChildServer({ root, upload: { maxBytes: 1024 } }, 64);
    try {
      // The first write loads the upload module: done before the flood, which would stop that too.
      const warm = await send(child.port, 'PUT', '/warm.txt', 'warm');
      assert.equal(warm.status, 201);
      const held = await openSockets(child.port, 120, 20);
      await waitFor(async () => {
        const stats = await child.stats();
        return stats.fds === -1 || stats.fds >= 60;
      }, 'the descriptor flood to reach the limit');
      const first = held[0]!;
      const received: Buffer[] = [];
      first.on('data', (chunk: Buffer) => received.push(chunk));
      first.write('PUT /new.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello');
      const answer = await waitFor(
        () => parseResponses(Buffer.concat(received), [], true).responses[0],
        'the answer to the PUT',
      );
      t.diagnostic(`PUT while out of descriptors: ${answer.status} ${answer.body.toString().trim()}`);
      for (const socket of held) socket.destroy();
      if (answer.status === 503) return t.skip('the connection was refused before the write (503)');
      assert.equal(answer.status, 500);
      assert.match(answer.body.toString(), /^500 Internal Server Error: the file could not be written\n$/);
      const stats = await child.stats();
      assert.ok(stats.errorContexts.includes('PUT /new.txt'), `logged: ${stats.errorContexts.join(', ')}`);
    } finally {
      await child.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
