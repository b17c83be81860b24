/**
 * Closing in stages (RFC 9112 §9.6): after refusing a request whose body is still arriving, the server
 * half-closes and keeps reading until the client closes, so the client reads the error and sees a clean
 * end of stream, not a connection reset.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseResponses } from './helpers/raw-client.js';
import { echoHandler, type RunningWire, startWire } from './helpers/servers.js';

/** Sends `head`, then keeps streaming body bytes for `ms` while the server answers, then ends. */
function refusedUpload(
  port: number,
  head: string,
  ms: number,
): Promise<{ raw: Buffer; error: string | null }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | null = null;
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
      socket.write(head);
      const piece = Buffer.alloc(16 * 1024, 0x78);
      const until = Date.now() + ms;
      const pump = () => {
        if (socket.destroyed) return;
        if (Date.now() >= until) {
          socket.end();
          return;
        }
        socket.write(piece, () => setImmediate(pump));
      };
      pump();
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => resolve({ raw: Buffer.concat(chunks), error }));
    setTimeout(() => socket.destroy(), 10_000).unref(); // deadline
  });
}

describe('lingering close', () => {
  let wire: RunningWire;
  before(async () => {
    wire = await startWire(echoHandler, { maxBodyBytes: 1024 });
  });
  after(async () => {
    await wire.close();
  });

  test('a 413 for a body still being sent arrives, then a clean close (no reset)', async () => {
    const { raw, error } = await refusedUpload(
      wire.port,
      'POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 50000000\r\n\r\n',
      300,
    );
    const { responses } = parseResponses(raw, [], true);
    assert.equal(responses[0]?.status, 413);
    assert.equal(error, null, `the client saw ${error}`);
  });

  test('a 400 in the middle of a chunked body, then a clean close', async () => {
    const { raw, error } = await refusedUpload(
      wire.port,
      'POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      300,
    );
    const { responses } = parseResponses(raw, [], true);
    assert.equal(responses[0]?.status, 400);
    assert.equal(error, null, `the client saw ${error}`);
  });
});
