/**
 * HTTPS on docroot's own wire: a development certificate made at test time (nothing secret is committed),
 * node's https client trusting exactly that certificate, curl --insecure, and clients that get it wrong.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { generateSelfSignedCertificate, unsignedInteger } from '../src/tls/self-signed.js';
import { describeHandshakeError } from '../src/tls/server.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  reusedSocket: boolean;
}

function httpsGet(port: number, urlPath: string, ca: string, agent?: https.Agent): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      { host: '127.0.0.1', port, path: urlPath, ca, servername: 'localhost', agent: agent ?? false },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body,
            reusedSocket: request.reusedSocket,
          }),
        );
      },
    );
    request.on('error', reject);
  });
}

describe('the self-signed development certificate', () => {
  test('names localhost, 127.0.0.1 and ::1, is valid now, and verifies with its own key', () => {
    const generated = generateSelfSignedCertificate();
    const x509 = new X509Certificate(generated.cert);
    assert.equal(x509.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.ok(Date.parse(x509.validFrom) < Date.now() && Date.now() < Date.parse(x509.validTo));
    assert.ok(x509.verify(x509.publicKey), 'self-signed: the signature checks against its own key');
    assert.equal(x509.checkHost('localhost'), 'localhost');
    assert.equal(x509.checkIP('::1'), '::1');
    assert.equal(generated.fingerprint256, x509.fingerprint256);
    assert.match(generated.key, /^-----BEGIN PRIVATE KEY-----/);
  });

  test('every certificate has its own key and serial number', () => {
    const a = new X509Certificate(generateSelfSignedCertificate().cert);
    const b = new X509Certificate(generateSelfSignedCertificate().cert);
    assert.notEqual(a.serialNumber, b.serialNumber);
    assert.notEqual(a.fingerprint256, b.fingerprint256);
  });

  test('handshake errors are described in one line', () => {
    const plain = Object.assign(new Error('x:error:0A00009C:SSL routines::http request'), {
      code: 'ERR_SSL_HTTP_REQUEST',
    });
    assert.equal(describeHandshakeError(plain), 'the client sent plain HTTP to the HTTPS port; dropped');
    const other = Object.assign(new Error('long\nstack'), { reason: 'wrong version number' });
    assert.equal(describeHandshakeError(other), 'wrong version number');
  });
});

describe('HTTPS with tls: { selfSigned: true }', () => {
  let docroot: RunningDocroot;
  let ca: string;
  before(async () => {
    docroot = await startDocroot({ tls: { selfSigned: true }, cgi: { dir: 'cgi-bin' } });
    ca = docroot.server.certificate!.cert;
  });
  after(() => docroot.close());

  test('serves a file to a client that trusts exactly this certificate', async () => {
    const answer = await httpsGet(docroot.port, '/text.txt', ca);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'Hello from a plain text file.\nSecond line.\n');
    assert.equal(answer.headers['content-length'], String(Buffer.byteLength(answer.body)));
  });

  test('serves a listing', async () => {
    const answer = await httpsGet(docroot.port, '/docs/?format=text', ca);
    assert.equal(answer.status, 200);
    assert.match(answer.body, /^guide\/$/m);
  });

  test('keeps the connection alive across requests', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await httpsGet(docroot.port, '/text.txt', ca, agent);
      const second = await httpsGet(docroot.port, '/hello.js', ca, agent);
      assert.equal(first.status, 200);
      assert.equal(second.status, 200);
      assert.equal(second.reusedSocket, true);
    } finally {
      agent.destroy();
    }
  });

  test('offers h2 first, then http/1.1 (ALPN); HTTP/2 itself is tested in http2.test.ts', async () => {
    docroot.expectErrors(/^TLS handshake with .*: the client hung up during the handshake$/);
    const socket = tls.connect({
      host: '127.0.0.1',
      port: docroot.port,
      ca,
      servername: 'localhost',
      ALPNProtocols: ['h2', 'http/1.1'],
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    assert.equal(socket.alpnProtocol, 'h2');
    socket.destroy();
  });

  test('CGI scripts see HTTPS=on and REQUEST_SCHEME=https', async (t) => {
    if (spawnSync('python3', ['--version']).status !== 0) return t.skip('python3 is not installed');
    const answer = await httpsGet(docroot.port, '/cgi-bin/env.py', ca);
    assert.equal(answer.status, 200);
    const env = JSON.parse(answer.body) as Record<string, string>;
    assert.equal(env.HTTPS, 'on');
    assert.equal(env.REQUEST_SCHEME, 'https');
  });

  test('plain HTTP sent to the HTTPS port gets a 400 saying so, then the connection closes', async () => {
    const { raw, closed } = await new Promise<{ raw: string; closed: boolean }>((resolve) => {
      let raw = '';
      const socket = net.connect(docroot.port, '127.0.0.1', () => {
        socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
      });
      socket.on('data', (chunk: Buffer) => {
        raw += chunk.toString('latin1');
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve({ raw, closed: true }));
    });
    assert.ok(closed);
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(raw, /\r\nConnection: close\r\n/);
    assert.ok(
      raw.endsWith(
        '\r\n\r\n400 Bad Request: this port speaks HTTPS, and the request came as plain HTTP; use https://\n',
      ),
      raw,
    );
    // The server carries on with TLS clients.
    assert.equal((await httpsGet(docroot.port, '/text.txt', ca)).status, 200);
  });

  test('curl http:// to the HTTPS port shows the 400 and its reason', {
    skip: hasCurl() ? false : 'curl not installed',
  }, async () => {
    // Asynchronously: the server runs in this process.
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        'curl',
        ['-sS', '-w', '\n%{http_code}', `http://127.0.0.1:${docroot.port}/text.txt`],
        { timeout: 20_000 },
        (error, out, err) =>
          error === null ? resolve(out) : reject(new Error(`curl failed: ${err || error.message}`)),
      );
    });
    assert.equal(
      stdout,
      '400 Bad Request: this port speaks HTTPS, and the request came as plain HTTP; use https://\n\n400',
    );
  });

  test('bytes that are neither TLS nor HTTP still fail the handshake, logged, and the server carries on', async () => {
    docroot.expectErrors(/TLS handshake/);
    const closed = await new Promise<boolean>((resolve) => {
      const socket = net.connect(docroot.port, '127.0.0.1', () => {
        socket.write(Buffer.from([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]));
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(true));
    });
    assert.ok(closed, 'the connection was closed');
    assert.equal((await httpsGet(docroot.port, '/text.txt', ca)).status, 200);
    assert.ok(docroot.errors.length > 0, 'the failed handshake was logged');
  });

  test('a client that refuses the certificate does not disturb the server', async () => {
    docroot.expectErrors(/^TLS handshake with .*: the client hung up during the handshake$/);
    await assert.rejects(httpsGet(docroot.port, '/text.txt', generateSelfSignedCertificate().cert));
    assert.equal((await httpsGet(docroot.port, '/text.txt', ca)).status, 200);
  });
});

describe('docroot --tls-cert/--tls-key and --tls-self-signed', () => {
  let folder: string;
  let certFile: string;
  let keyFile: string;
  before(() => {
    folder = mkdtempSync(path.join(os.tmpdir(), 'docroot-tls-'));
    const generated = generateSelfSignedCertificate();
    certFile = path.join(folder, 'cert.pem');
    keyFile = path.join(folder, 'key.pem');
    writeFileSync(certFile, generated.cert);
    writeFileSync(keyFile, generated.key);
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  function startCli(...args: string[]): Promise<{ port: number; banner: string; stop(): Promise<number> }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args, '--port', '0', '--host', '127.0.0.1'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const match = /https:\/\/127\.0\.0\.1:(\d+)\/\n[\s\S]*?(\n|$)/.exec(out);
        if (match && (!args.includes('--tls-self-signed') || /fingerprint .+\n/.test(out))) {
          resolve({
            port: Number(match[1]),
            banner: out,
            stop: () =>
              new Promise((r) => {
                child.once('exit', (code) => r(code ?? -1));
                child.kill('SIGTERM');
              }),
          });
        }
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
    });
  }

  function curlInsecure(url: string): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync('curl', ['-sk', '-v', url, url], { encoding: 'utf8', timeout: 10_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  test('serves HTTPS from PEM files (curl --insecure, one connection for two requests)', async (t) => {
    if (spawnSync('curl', ['--version']).status !== 0) return t.skip('curl is not installed');
    const server = await startCli(FIXTURE_ROOT_PATH, '--tls-cert', certFile, '--tls-key', keyFile);
    try {
      assert.match(server.banner, /https:\/\/127\.0\.0\.1:\d+\//);
      const result = curlInsecure(`https://127.0.0.1:${server.port}/text.txt`);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, 'Hello from a plain text file.\nSecond line.\n'.repeat(2));
      // curl offers h2 when it was built with nghttp2, and docroot now accepts it.
      assert.match(result.stderr, /ALPN: server accepted (h2|http\/1\.1)/);
      assert.match(result.stderr, /Re-using existing connection/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('--tls-self-signed prints the certificate fingerprint and serves https', async () => {
    const server = await startCli(FIXTURE_ROOT_PATH, '--tls-self-signed');
    try {
      const fingerprint = /SHA-256 fingerprint ([0-9A-F:]{95})\n/.exec(server.banner)?.[1];
      assert.ok(fingerprint, server.banner);
      const socket = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      assert.equal(socket.getPeerX509Certificate()?.fingerprint256, fingerprint);
      socket.destroy();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  function run(...args: string[]) {
    return spawnSync(process.execPath, [CLI, FIXTURE_ROOT_PATH, ...args], {
      encoding: 'utf8',
      timeout: 10_000,
    });
  }

  test('flag mistakes are one-line errors', () => {
    assert.equal(run('--tls-cert', certFile).stderr, 'docroot: --tls-cert needs --tls-key <file> too\n');
    assert.equal(run('--tls-key', keyFile).stderr, 'docroot: --tls-key needs --tls-cert <file> too\n');
    assert.equal(
      run('--tls-self-signed', '--tls-cert', certFile, '--tls-key', keyFile).stderr,
      'docroot: --tls-self-signed makes its own certificate; leave out --tls-cert and --tls-key\n',
    );
    const missing = run('--tls-cert', path.join(folder, 'nope.pem'), '--tls-key', keyFile);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^docroot: cannot read the --tls-cert file .*nope\.pem \(ENOENT\)\n$/);
  });

  test('a key that does not match the certificate is a one-line error', () => {
    const otherKey = path.join(folder, 'other-key.pem');
    writeFileSync(otherKey, generateSelfSignedCertificate().key);
    const result = run('--port', '0', '--tls-cert', certFile, '--tls-key', otherKey);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^docroot: cannot use the TLS certificate and key: .+\n$/);
  });
});

const FIXTURE_ROOT_PATH = new URL('../../test/fixtures/root/', import.meta.url).pathname;

function hasCurl(): boolean {
  return spawnSync('curl', ['--version']).status === 0;
}

test('serial numbers are DER INTEGERs in minimal form, whatever their random first bytes', () => {
  const table: Array<[number[], number[]]> = [
    [
      [0x00, 0x12, 0x34],
      [0x02, 0x02, 0x12, 0x34],
    ],
    [
      [0x00, 0x00, 0x92],
      [0x02, 0x02, 0x00, 0x92],
    ],
    [
      [0x92, 0x01],
      [0x02, 0x03, 0x00, 0x92, 0x01],
    ],
    [[0x7f], [0x02, 0x01, 0x7f]],
    [[0x00], [0x02, 0x01, 0x00]],
  ];
  for (const [input, expected] of table) {
    assert.deepEqual([...unsignedInteger(Buffer.from(input))], expected, input.join(','));
  }
});
