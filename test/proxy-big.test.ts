/**
 * 1 GiB through the proxy in each direction, streamed: the process's RSS (client, docroot and backend
 * all live in it) must stay within a bound far below the size sent, which it could not if any of them
 * buffered the body. PROXY_BIG_BYTES overrides the size (e.g. for a quick local run).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

const BIG = Number(process.env.PROXY_BIG_BYTES ?? 1024 * 1024 * 1024);
/** Far below BIG: what a streaming proxy needs (socket and stream buffers, garbage not yet collected). */
const RSS_GROWTH_LIMIT = 192 * 1024 * 1024;
const PIECE = Buffer.alloc(1024 * 1024, 0x78);
const SAMPLE_EVERY = 16 * 1024 * 1024;

/** Writes `total` bytes of PIECE to `out` with backpressure; resolves when all are handed over. */
async function writeBytes(out: NodeJS.WritableStream, total: number): Promise<void> {
  let left = total;
  while (left > 0) {
    const piece = left >= PIECE.length ? PIECE : PIECE.subarray(0, left);
    left -= piece.length;
    if (!out.write(piece)) await once(out, 'drain');
  }
}

/** Tracks the largest RSS seen, sampled every SAMPLE_EVERY bytes of progress. */
class RssWatch {
  readonly start = process.memoryUsage.rss();
  peak = this.start;
  private nextSample = SAMPLE_EVERY;
  progress(bytes: number): void {
    if (bytes < this.nextSample) return;
    this.nextSample += SAMPLE_EVERY;
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }
  get growth(): number {
    return this.peak - this.start;
  }
}

describe('proxy: 1 GiB each way without buffering', () => {
  let backend: http.Server;
  let docroot: RunningDocroot;
  let received = 0;
  let uploadWatch: RssWatch | null = null;

  before(async () => {
    backend = http.createServer((req, res) => {
      if (req.method === 'PUT') {
        received = 0;
        req.on('data', (d: Buffer) => {
          received += d.length;
          uploadWatch?.progress(received);
        });
        req.on('end', () => res.end(String(received)));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': BIG });
      writeBytes(res, BIG).then(() => res.end());
    });
    backend.listen(0, '127.0.0.1');
    await once(backend, 'listening');
    const port = (backend.address() as net.AddressInfo).port;
    docroot = await startDocroot({ proxy: { routes: [`/big=http://127.0.0.1:${port}`], log: () => {} } });
  });
  after(async () => {
    await docroot.close();
    backend.closeAllConnections();
    backend.close();
  });

  test('download', async () => {
    const socket = await connect(docroot.port);
    socket.write('GET /big/file HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    const watch = new RssWatch();
    let total = 0;
    let headEnd = -1;
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (headEnd === -1) {
        head += chunk.toString('latin1');
        headEnd = head.indexOf('\r\n\r\n');
        if (headEnd !== -1) total = Buffer.byteLength(head, 'latin1') - headEnd - 4;
        return;
      }
      total += chunk.length;
      watch.progress(total);
    });
    await once(socket, 'close');
    assert.match(head.slice(0, headEnd), new RegExp(`\r\nContent-Length: ${BIG}\r\n`));
    assert.equal(total, BIG);
    assert.ok(watch.growth < RSS_GROWTH_LIMIT, `RSS grew by ${Math.round(watch.growth / 2 ** 20)} MiB`);
  });

  test('upload', async () => {
    const socket = await connect(docroot.port);
    uploadWatch = new RssWatch();
    const answer: Buffer[] = [];
    socket.on('data', (d: Buffer) => answer.push(d));
    socket.write(
      `PUT /big/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${BIG}\r\nConnection: close\r\n\r\n`,
    );
    await writeBytes(socket, BIG);
    await once(socket, 'close');
    const text = Buffer.concat(answer).toString();
    assert.match(text, /^HTTP\/1.1 200 /);
    assert.ok(text.endsWith(`\r\n\r\n${BIG}`), text);
    const growth = uploadWatch.growth;
    uploadWatch = null;
    assert.ok(growth < RSS_GROWTH_LIMIT, `RSS grew by ${Math.round(growth / 2 ** 20)} MiB`);
  });
});
