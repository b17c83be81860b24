/**
 * Same-origin writes and the Host check (issue 17): cross-site unsafe requests are refused unless --cors,
 * and a server on loopback only answers Host names that are its own (DNS rebinding); 100 Continue is sent
 * only once every refusal has had its chance.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkOrigin } from '../src/handlers/origin-guard.js';
import { isLoopbackHost } from '../src/wire/endpoints.js';
import type { HttpRequest } from '../src/wire/message.js';
import { exchange, type RawResponse } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

async function send(port: number, text: string): Promise<RawResponse> {
  const result = await exchange(port, text);
  const response = result.responses[0];
  assert.ok(response, `no response to ${text.split('\r\n')[0]}`);
  return response;
}

function put(target: string, host: string, extra: string, body: string): string {
  return `PUT ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

function makeRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'docroot-origin-'));
  writeFileSync(path.join(root, 'index.html'), '<h1>original</h1>');
  mkdirSync(path.join(root, 'evil.example'));
  return root;
}

describe('cross-origin writes', () => {
  let root: string;
  let docroot: RunningDocroot;
  let self: string;
  before(async () => {
    root = makeRoot();
    docroot = await startDocroot({ root, upload: {} });
    self = `localhost:${docroot.port}`;
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('a cross-site form POST does not replace index.html (403, one line)', async () => {
    const boundary = 'XyZ';
    const form =
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="index.html"\r\n` +
      `Content-Type: text/html\r\n\r\n<h1>owned</h1>\r\n--${boundary}--\r\n`;
    const response = await send(
      docroot.port,
      `POST / HTTP/1.1\r\nHost: ${self}\r\nOrigin: https://evil.example\r\nSec-Fetch-Site: cross-site\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${form.length}\r\n\r\n${form}`,
    );
    assert.equal(response.status, 403);
    assert.match(
      response.body.toString(),
      /^403 Forbidden: a cross-origin POST is refused: the browser marked it Sec-Fetch-Site: cross-site; .*--cors.*\n$/,
    );
    assert.equal(readFileSync(path.join(root, 'index.html'), 'utf8'), '<h1>original</h1>');
  });

  test('Sec-Fetch-Site same-site is refused too; same-origin and none are allowed', async () => {
    assert.equal(
      (await send(docroot.port, put('/a.txt', self, 'Sec-Fetch-Site: same-site\r\n', 'a'))).status,
      403,
    );
    assert.equal(
      (await send(docroot.port, put('/a.txt', self, 'Sec-Fetch-Site: same-origin\r\n', 'a'))).status,
      201,
    );
    assert.equal(
      (await send(docroot.port, put('/a.txt', self, 'Sec-Fetch-Site: none\r\n', 'b'))).status,
      204,
    );
  });

  test('without Fetch Metadata, a foreign Origin is refused and our own is allowed', async () => {
    const foreign = await send(docroot.port, put('/b.txt', self, 'Origin: https://evil.example\r\n', 'x'));
    assert.equal(foreign.status, 403);
    assert.match(foreign.body.toString(), /its Origin https:\/\/evil\.example is not this server/);
    assert.equal((await send(docroot.port, put('/b.txt', self, 'Origin: null\r\n', 'x'))).status, 403);
    const otherPort = await send(docroot.port, put('/b.txt', self, 'Origin: http://localhost:1\r\n', 'x'));
    assert.equal(otherPort.status, 403);
    assert.equal(
      (await send(docroot.port, put('/b.txt', self, `Origin: http://${self}\r\n`, 'x'))).status,
      201,
    );
    // Tools send no Origin at all.
    assert.equal((await send(docroot.port, put('/b.txt', self, '', 'y'))).status, 204);
    // Reading is never refused for its origin.
    const read = await send(
      docroot.port,
      `GET /b.txt HTTP/1.1\r\nHost: ${self}\r\nOrigin: https://evil.example\r\nSec-Fetch-Site: cross-site\r\n\r\n`,
    );
    assert.equal(read.status, 200);
  });

  test('--cors allows cross-origin writes', async () => {
    const open = await startDocroot({ root, upload: {}, cors: true });
    try {
      const response = await send(
        open.port,
        put(
          '/c.txt',
          `localhost:${open.port}`,
          'Origin: https://app.example\r\nSec-Fetch-Site: cross-site\r\n',
          'c',
        ),
      );
      assert.equal(response.status, 201);
    } finally {
      await open.close();
    }
  });
});

describe('Host on a loopback server (DNS rebinding)', () => {
  let root: string;
  let docroot: RunningDocroot;
  before(async () => {
    root = makeRoot();
    docroot = await startDocroot({ root, allowedHosts: ['docs.test', '.example.com'] });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const get = (host: string, target = '/') => `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

  test('a foreign name is 421 with a one-line reason naming the flag', async () => {
    const response = await send(docroot.port, get('evil.example'));
    assert.equal(response.status, 421);
    assert.equal(
      response.body.toString(),
      '421 Misdirected Request: the Host "evil.example" does not name this server, which listens on loopback only (DNS rebinding guard); start it with --allowed-host evil.example to serve that name\n',
    );
    assert.equal((await send(docroot.port, get(`evil.example:${docroot.port}`))).status, 421);
    // Absolute-form wins over Host (RFC 9112 §3.2.2), and is checked the same way.
    const absolute = await send(docroot.port, `GET http://evil.example/ HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    assert.equal(absolute.status, 421);
  });

  test('curl through a rebound name (--resolve evil.example to 127.0.0.1) gets 421', {
    skip: curlMissing(),
  }, async () => {
    const out = await run('curl', [
      '-sS',
      '-w',
      '%{http_code}',
      '--resolve',
      `evil.example:${docroot.port}:127.0.0.1`,
      `http://evil.example:${docroot.port}/index.html`,
    ]);
    assert.match(out, /^421 Misdirected Request: the Host "evil.example" does not name this server.*\n421$/);
    const own = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `http://localhost:${docroot.port}/index.html`,
    ]);
    assert.equal(own, '200');
  });

  test('localhost names, addresses and --allowed-host names are served', async () => {
    for (const host of [
      'localhost',
      `localhost:${docroot.port}`,
      'LOCALHOST.',
      'app.localhost',
      '127.0.0.1',
      `127.0.0.1:${docroot.port}`,
      '[::1]:8080',
      '192.168.1.20',
      'docs.test',
      'example.com',
      'a.example.com:80',
    ]) {
      assert.equal((await send(docroot.port, get(host))).status, 200, host);
    }
    assert.equal((await send(docroot.port, get('notexample.com'))).status, 421);
  });

  test('only loopback servers check Host', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', 'app.localhost']) {
      assert.equal(isLoopbackHost(host), true, host);
    }
    for (const host of ['0.0.0.0', '::', '192.168.1.2', 'example.com'])
      assert.equal(isLoopbackHost(host), false, host);
    const request = {
      method: 'GET',
      headers: {},
      authority: 'evil.example',
      body: null,
    } as unknown as HttpRequest;
    assert.equal(checkOrigin(request, { allowedHosts: null, crossOriginWrites: false }), null);
    assert.equal(checkOrigin(request, { allowedHosts: true, crossOriginWrites: false }), null);
    assert.equal(checkOrigin(request, { allowedHosts: [], crossOriginWrites: false })?.status, 421);
  });
});

describe('redirects stay on this origin', () => {
  test('GET //evil.example answers a Location that is a path, never //host', async () => {
    const root = makeRoot();
    const docroot = await startDocroot({ root, upload: {} });
    try {
      for (const target of ['//evil.example', '///evil.example', '//evil.example?x=1']) {
        const response = await send(docroot.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
        assert.equal(response.status, 301, target);
        const location = response.headers.location ?? '';
        assert.ok(location.startsWith('/') && !location.startsWith('//'), `${target} → ${location}`);
        assert.equal(new URL(location, 'http://localhost/').host, 'localhost');
      }
      const boundary = 'B';
      const form = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n\r\nf\r\n--${boundary}--\r\n`;
      const posted = await send(
        docroot.port,
        `POST //evil.example/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${form.length}\r\n\r\n${form}`,
      );
      assert.equal(posted.status, 303);
      assert.equal(posted.headers.location, '/evil.example/');
    } finally {
      await docroot.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('100 Continue only when the request will be read', () => {
  let root: string;
  let protectedServer: RunningDocroot;
  let readOnly: RunningDocroot;
  let limited: RunningDocroot;
  before(async () => {
    root = makeRoot();
    protectedServer = await startDocroot({
      root,
      upload: {},
      auth: [
        { user: 'admin', password: 'secret', pathPrefix: '/', access: 'rw' },
        { pathPrefix: '/', access: 'ro' },
      ],
    });
    readOnly = await startDocroot({ root });
    limited = await startDocroot({ root, upload: { maxBytes: 1000 } });
  });
  after(async () => {
    await protectedServer?.close();
    await readOnly?.close();
    await limited?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const expectingPut = (target: string, length: number, extra = '') =>
    `PUT ${target} HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: ${length}\r\n${extra}\r\n`;

  for (const [name, server, target, length, status, extra] of [
    ['an anonymous write (auth)', () => protectedServer, '/x.bin', 5_000_000, 401, ''],
    ['a write without --upload (method)', () => readOnly, '/x.bin', 5_000_000, 405, ''],
    ['a write over the size limit (size)', () => limited, '/x.bin', 5_000, 413, ''],
    ['a write to a hidden name (path)', () => limited, '/.env', 10, 403, ''],
    ['a cross-site write (origin)', () => limited, '/x.bin', 10, 403, 'Sec-Fetch-Site: cross-site\r\n'],
  ] as const) {
    test(`${name} is answered ${status} with no 100 Continue first`, async () => {
      const result = await exchange(server().port, expectingPut(target, length, extra), {
        waitForClose: true,
      });
      assert.ok(!result.raw.toString('latin1').includes('100 Continue'), result.raw.toString('latin1'));
      assert.equal(result.responses[0]?.status, status);
      // The client will not send the body it was not invited to: the connection closes after the answer.
      assert.equal(result.closed, true);
    });
  }

  test('an accepted write gets 100 Continue, then its answer', async () => {
    const authorization = `Authorization: Basic ${Buffer.from('admin:secret').toString('base64')}\r\n`;
    const socket = net.connect(protectedServer.port, '127.0.0.1');
    socket.write(expectingPut('/ok.txt', 2, authorization));
    let received = '';
    const answered = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        // The body goes only once the server asked for it.
        if (received === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write('ok');
        if (received.includes('201 Created: /ok.txt\n')) resolve();
      });
    });
    await answered;
    socket.destroy();
    assert.match(received, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
    assert.equal(readFileSync(path.join(root, 'ok.txt'), 'utf8'), 'ok');
  });

  test('curl -T of a large file to a protected path sends no body', { skip: curlMissing() }, async () => {
    const file = path.join(root, 'large.bin');
    writeFileSync(file, '');
    truncateSync(file, 50 * 1024 * 1024);
    const out = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{size_upload}',
      '-T',
      file,
      `http://127.0.0.1:${protectedServer.port}/large-copy.bin`,
    ]);
    const [code, uploaded] = out.trim().split(' ');
    assert.equal(code, '401');
    assert.equal(Number(uploaded), 0, `curl sent ${uploaded} bytes of the body`);
  });
});

function curlMissing(): string | false {
  try {
    readFileSync('/usr/bin/curl');
    return false;
  } catch {
    return 'curl not installed';
  }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${command} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}
