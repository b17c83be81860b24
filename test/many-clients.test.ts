/**
 * Slow and many clients (the `npm test` sizes; `npm run stress` runs bigger ones): slowloris sockets
 * trickling header bytes, thousands of idle keep-alive connections, and `maxConnections`.
 * Timing bounds here are liveness bounds (a normal client is answered within 5 s), not performance ones.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { describe, test } from 'node:test';
import { openFileLimit, openSockets, waitUntil } from './helpers/load.js';
import { exchange, get, parseResponses } from './helpers/raw-client.js';
import { startDocroot } from './helpers/servers.js';
import { STRESS } from './helpers/stress.js';

const SLOW_HEAD_TIMEOUT_MS = 10_000;

/** How many client sockets this process can hold with the server in the same process. */
function scaled(want: number, diagnostic: (message: string) => void): number {
  const limit = openFileLimit();
  const n = Math.min(want, Math.floor((limit - 300) / 2));
  if (n < want) diagnostic(`scaled down from ${want} to ${n} sockets: the soft fd limit is ${limit}`);
  return n;
}

function collect(sockets: net.Socket[]): { data: Buffer[][]; closed: boolean[] } {
  const data = sockets.map(() => [] as Buffer[]);
  const closed = sockets.map(() => false);
  sockets.forEach((socket, i) => {
    socket.on('data', (chunk: Buffer) => data[i]!.push(chunk));
    socket.on('close', () => {
      closed[i] = true;
    });
  });
  return { data, closed };
}

describe('slow and many clients', STRESS, () => {
  test('5,000 slowloris sockets: a normal client is still answered, then each slow one gets 408', async (t) => {
    const n = scaled(5_000, (m) => t.diagnostic(m));
    if (n < 100) {
      t.skip('the fd limit is too low for a meaningful slowloris test');
      return;
    }
    // Long enough that a loaded machine still opens every socket and asks once before the first 408.
    const docroot = await startDocroot({ limits: { headersTimeoutMs: SLOW_HEAD_TIMEOUT_MS } });
    try {
      const sockets = await openSockets(docroot.port, n);
      assert.equal(sockets.length, n);
      const { data, closed } = collect(sockets);
      const prefix = 'GET /text.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ';
      let step = 0;
      const trickle = () => {
        const byte = step < prefix.length ? prefix[step]! : 'a';
        step++;
        for (const socket of sockets) if (!socket.destroyed) socket.write(byte);
      };
      trickle();
      const timer = setInterval(trickle, 400);
      try {
        for (let i = 0; i < 10; i++) {
          const { responses } = await exchange(docroot.port, get('/text.txt'));
          assert.equal(responses[0]?.status, 200);
          // Not queued behind the slow heads: answered while they are all still waiting for their 408.
          if (i === 0)
            assert.equal(
              closed.filter(Boolean).length,
              0,
              'the first normal request waited for the slow ones',
            );
        }
        t.diagnostic(`${n} slowloris sockets open, 10 normal requests answered`);
        assert.ok(
          await waitUntil(() => closed.every(Boolean), 20_000),
          `${closed.filter((c) => !c).length} slow sockets still open after the head timeout`,
        );
      } finally {
        clearInterval(timer);
        for (const socket of sockets) socket.destroy();
      }
      const statuses = data.map((chunks) => Buffer.concat(chunks).toString('latin1').slice(0, 12));
      assert.equal(statuses.filter((s) => s === 'HTTP/1.1 408').length, n, 'every slow socket got a 408');
    } finally {
      await docroot.close();
    }
  });

  test('2,000 idle keep-alive connections are held, stay usable, and do not block others', async (t) => {
    const n = scaled(2_000, (m) => t.diagnostic(m));
    const docroot = await startDocroot({ limits: { keepAliveTimeoutMs: 60_000 } });
    try {
      const sockets = await openSockets(docroot.port, n);
      const { data } = collect(sockets);
      const answered = (i: number) => parseResponses(Buffer.concat(data[i]!)).responses.length;
      for (const socket of sockets) socket.write(get('/text.txt'));
      assert.ok(await waitUntil(() => sockets.every((_, i) => answered(i) >= 1), 20_000));
      assert.equal(docroot.server.wire.connectionCount, n);
      const { responses } = await exchange(docroot.port, get('/a_web_page.html'));
      assert.equal(responses[0]?.status, 200);
      // Every idle connection can be reused.
      for (const socket of sockets) socket.write(get('/text.txt'));
      assert.ok(await waitUntil(() => sockets.every((_, i) => answered(i) >= 2), 20_000));
      for (let i = 0; i < n; i++) {
        const statuses = parseResponses(Buffer.concat(data[i]!)).responses.map((r) => r.status);
        assert.deepEqual(statuses, [200, 200]);
      }
      for (const socket of sockets) socket.destroy();
      assert.ok(await waitUntil(() => docroot.server.wire.connectionCount === 0, 10_000));
    } finally {
      await docroot.close();
    }
  });

  test('beyond maxConnections: a clean 503 and close; served again when load drops', async () => {
    const docroot = await startDocroot({ maxConnections: 50 });
    try {
      const held = await openSockets(docroot.port, 50);
      assert.ok(await waitUntil(() => docroot.server.wire.connectionCount === 50, 5_000));
      for (let i = 0; i < 20; i++) {
        const result = await exchange(docroot.port, get('/text.txt'), { waitForClose: true });
        assert.equal(result.closed, true);
        assert.equal(result.responses.length, 1);
        assert.equal(result.responses[0]?.status, 503);
        assert.equal(result.responses[0]?.headers.connection, 'close');
        assert.equal(result.responses[0]?.headers['retry-after'], '1');
      }
      assert.equal(docroot.server.wire.connectionCount, 50);
      for (const socket of held) socket.destroy();
      assert.ok(await waitUntil(() => docroot.server.wire.connectionCount === 0, 5_000));
      for (let i = 0; i < 10; i++) {
        const { responses } = await exchange(docroot.port, get('/text.txt'));
        assert.equal(responses[0]?.status, 200);
      }
    } finally {
      await docroot.close();
    }
  });
});
