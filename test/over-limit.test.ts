/**
 * Connections over --max-connections get their 503 and are closed at once (no lingering), so a flood of
 * connectors keeps the server's descriptors bounded by the limit. The server runs in a child process, whose
 * own fd table is counted.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type ChildServer, openSockets, startChildServer, waitUntil } from './helpers/load.js';
import { exchange, get } from './helpers/raw-client.js';
import { FIXTURE_ROOT } from './helpers/servers.js';

const LIMIT = 20;
const FLOOD = 600;

/**
 * Connects, sends nothing, and resolves with what the server sent once the server has ended its side. The
 * client keeps its own side open (as a careless or hostile client does), so only the server can free the
 * connection.
 */
function refusedConnection(port: number, open: net.Socket[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    open.push(socket);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    const done = () => resolve(Buffer.concat(chunks).toString('latin1'));
    socket.on('end', done);
    socket.on('close', done);
  });
}

describe('connections over the limit', () => {
  let server: ChildServer;
  before(async () => {
    server = await startChildServer({ root: FIXTURE_ROOT, maxConnections: LIMIT });
  });
  after(async () => {
    await server?.stop();
  });

  test(`${FLOOD} connectors over a limit of ${LIMIT}: each gets a 503 and is closed at once`, async (t) => {
    const baseline = await server.stats();
    const held = await openSockets(server.port, LIMIT);
    assert.ok(await waitUntil(async () => (await server.stats()).connections === LIMIT, 5_000));
    // All at once: with a linger, each would hold a descriptor for seconds.
    const flood: net.Socket[] = [];
    const answers = await Promise.all(
      Array.from({ length: FLOOD }, () => refusedConnection(server.port, flood)),
    );
    const refused = answers.filter((text) => text.startsWith('HTTP/1.1 503 ')).length;
    assert.ok(refused >= FLOOD * 0.95, `${refused} of ${FLOOD} got the 503 before the close`);
    const during = await server.stats();
    t.diagnostic(`fds ${baseline.fds} → ${during.fds} after ${FLOOD} refused connectors (limit ${LIMIT})`);
    // Every refused connection is already closed on the server's side: only the held ones remain.
    assert.ok(during.fds <= baseline.fds + LIMIT + 5, `fds ${baseline.fds} → ${during.fds}`);
    assert.equal(during.connections, LIMIT);
    for (const socket of flood) socket.destroy();

    for (const socket of held) socket.destroy();
    assert.ok(await waitUntil(async () => (await server.stats()).connections === 0, 5_000));
    const { responses } = await exchange(server.port, get('/text.txt'));
    assert.equal(responses[0]?.status, 200);
  });

  test('a refused client that sent its request still reads the whole 503', async () => {
    const held = await openSockets(server.port, LIMIT);
    assert.ok(await waitUntil(async () => (await server.stats()).connections === LIMIT, 5_000));
    for (let i = 0; i < 20; i++) {
      const result = await exchange(server.port, get('/text.txt'), { waitForClose: true });
      assert.equal(result.responses[0]?.status, 503);
      assert.match(
        result.responses[0]!.body.toString(),
        /^503 Service Unavailable: .*limit of 20 connections\n$/,
      );
    }
    for (const socket of held) socket.destroy();
  });
});
