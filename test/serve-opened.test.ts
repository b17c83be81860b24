/**
 * Serve what was opened: the validators, the length and the bytes of a response all come from one
 * descriptor. A file replaced by rename while it is sent is still sent whole, in its old version, under
 * its old ETag; a file truncated or rewritten in place while it is sent is cut (a closed connection over
 * HTTP/1.1, RST_STREAM over HTTP/2), never a short or mixed response presented as complete.
 */
import assert from 'node:assert/strict';
import {
  closeSync,
  futimesSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { get, parseResponses } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

const SIZE = 8 * 1024 * 1024;

describe('serve what was opened', () => {
  let root: string;
  let docroot: RunningDocroot;
  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'docroot-opened-'));
    docroot = await startDocroot({ root, compress: false, tls: { selfSigned: true } });
    // Cutting a response whose file changed is logged; these tests change files on purpose.
    docroot.expectErrors(/changed while it was being sent/);
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function headOf(target: string) {
    const session = http2.connect(`https://localhost:${docroot.port}`, { rejectUnauthorized: false });
    session.on('error', () => {});
    try {
      return await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const stream = session.request({ ':method': 'HEAD', ':path': target });
        stream.on('response', resolve);
        stream.on('error', reject);
        stream.resume();
      });
    } finally {
      session.close();
    }
  }

  test('a file renamed over while it is sent: the old version, whole, under its old ETag', async () => {
    const file = path.join(root, 'replaced.bin');
    writeFileSync(file, Buffer.alloc(SIZE, 0x61));
    const before = await headOf('/replaced.bin');
    // What rsync and editors do: write the new version beside it, then rename it over the old one.
    const raw = await plainDownload('/replaced.bin', () => {
      const next = path.join(root, '.next');
      writeFileSync(next, Buffer.alloc(SIZE / 2, 0x62));
      renameSync(next, file);
    });
    const { responses } = parseResponses(raw, [], true);
    const response = responses[0]!;
    assert.equal(response.status, 200);
    assert.equal(response.headers.etag, before.etag);
    assert.equal(Number(response.headers['content-length']), SIZE);
    assert.equal(response.body.length, SIZE);
    assert.ok(!response.body.includes(0x62), 'no byte of the new version');
    const after = await headOf('/replaced.bin');
    assert.notEqual(after.etag, before.etag);
    assert.equal(Number(after['content-length']), SIZE / 2);
  });

  test('HTTP/1.1: a file truncated while it is sent cuts the connection short of its Content-Length', async () => {
    const file = path.join(root, 'shrinking.bin');
    writeFileSync(file, Buffer.alloc(SIZE, 0x61));
    const raw = await plainDownload('/shrinking.bin', () => truncateSync(file, 100_000));
    const end = raw.indexOf('\r\n\r\n');
    assert.match(raw.toString('latin1', 0, end), /^HTTP\/1\.1 200 /);
    assert.match(raw.toString('latin1', 0, end), new RegExp(`content-length: ${SIZE}`, 'i'));
    assert.ok(raw.length - end - 4 < SIZE, 'the body is short, so the client knows it is incomplete');
    assert.ok(docroot.errors.some((e) => /changed while it was being sent/.test(String(e))));
  });

  test('HTTP/1.1: a file rewritten in place (same size) while it is sent is cut, not sent mixed', async () => {
    const file = path.join(root, 'rewritten.bin');
    writeFileSync(file, Buffer.alloc(SIZE, 0x61));
    const raw = await plainDownload('/rewritten.bin', () => {
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.alloc(SIZE, 0x62), 0, SIZE, 0);
      futimesSync(fd, new Date(), new Date(Date.now() + 10_000));
      closeSync(fd);
    });
    const end = raw.indexOf('\r\n\r\n');
    assert.ok(raw.length - end - 4 < SIZE, 'the mixed body is never completed');
  });

  test('HTTP/2: a file truncated while it is sent resets the stream', async () => {
    const file = path.join(root, 'shrinking2.bin');
    writeFileSync(file, Buffer.alloc(SIZE, 0x61));
    const session = http2.connect(`https://localhost:${docroot.port}`, { rejectUnauthorized: false });
    session.on('error', () => {});
    try {
      const outcome = await new Promise<{ received: number; declared: number; rstCode: number }>(
        (resolve) => {
          const stream = session.request({ ':path': '/shrinking2.bin' });
          let declared = -1;
          let received = 0;
          stream.on('response', (headers) => {
            declared = Number(headers['content-length']);
          });
          stream.once('data', () => {
            stream.pause();
            truncateSync(file, 100_000);
            setImmediate(() => stream.resume());
          });
          stream.on('data', (chunk: Buffer) => {
            received += chunk.length;
          });
          stream.on('error', () => {});
          stream.on('close', () => resolve({ received, declared, rstCode: stream.rstCode ?? 0 }));
        },
      );
      assert.equal(outcome.declared, SIZE);
      assert.ok(outcome.received < SIZE);
      assert.notEqual(outcome.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'the stream was reset, not ended');
    } finally {
      session.close();
    }
  });

  function plainDownload(target: string, change: () => void): Promise<Buffer> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let first = true;
      const socket = tls.connect({
        port: docroot.port,
        host: '127.0.0.1',
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
      });
      socket.on('secureConnect', () => socket.write(get(target, 'Connection: close\r\n')));
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (!first) return;
        first = false;
        socket.pause();
        change();
        setImmediate(() => socket.resume());
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(Buffer.concat(chunks)));
    });
  }
});
