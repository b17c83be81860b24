/**
 * Pipelining of any depth (RFC 9112 §9.3.2): a thousand requests in one write, or one byte at a time, are
 * all answered, in order, whatever mix of synchronous, asynchronous and large answers the handler gives.
 * The batches are large enough that the socket's buffer fills while responses are corked together, which
 * is where a drain handler that forgets to uncork stalls the connection.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RequestHandler } from '../src/wire/message.js';
import { type RunningDocroot, type RunningWire, startDocroot, startWire } from './helpers/servers.js';

const DEPTH = 1000;

/** Counts complete Content-Length responses as they stream in; resolves with their bodies once `want` are in. */
function collect(
  socket: net.Socket,
  want: number,
): Promise<{ statuses: number[]; bodies: Buffer[]; closedEarly: boolean }> {
  return new Promise((resolve) => {
    let buffer: Buffer = Buffer.alloc(0);
    const statuses: number[] = [];
    const bodies: Buffer[] = [];
    const done = (closedEarly: boolean) => {
      socket.removeAllListeners('data');
      resolve({ statuses, bodies, closedEarly });
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      for (;;) {
        const headEnd = buffer.indexOf('\r\n\r\n');
        if (headEnd === -1) break;
        const head = buffer.toString('latin1', 0, headEnd);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffer.length < headEnd + 4 + length) break;
        statuses.push(Number(head.slice(9, 12)));
        bodies.push(buffer.subarray(headEnd + 4, headEnd + 4 + length));
        buffer = buffer.subarray(headEnd + 4 + length);
      }
      if (statuses.length >= want) done(false);
    });
    socket.once('close', () => done(true));
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.setNoDelay(true);
    socket.once('error', reject);
  });
}

/** Writes `bytes` one byte per write, yielding to the event loop every `every` bytes. */
async function writeByteByByte(socket: net.Socket, bytes: Buffer, every = 64): Promise<void> {
  for (let i = 0; i < bytes.length; i++) {
    socket.write(bytes.subarray(i, i + 1));
    if (i % every === every - 1) await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Answers `/n/<i>` with `<i>` padded to a size that varies with i (up to 20 KB, so the socket buffer
 * fills mid-batch); every third answer is asynchronous, every fifth a stream.
 */
const numbered: RequestHandler = (request) => {
  const n = Number(request.path.slice(3));
  const data = `${n}:`.padEnd(64 + (n % 7) * 3000, '.');
  const description = {
    status: 200,
    headers: { 'Content-Type': 'text/plain' },
    body: { kind: 'bytes' as const, data },
  };
  if (n % 3 === 0) return new Promise((resolve) => setImmediate(() => resolve(description)));
  return description;
};

function requests(count: number, pathOf: (i: number) => string): Buffer {
  let text = '';
  for (let i = 0; i < count; i++) text += `GET ${pathOf(i)} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
  return Buffer.from(text, 'latin1');
}

describe('pipelining of any depth', () => {
  let wire: RunningWire;
  let docroot: RunningDocroot;
  let root: string;
  before(async () => {
    wire = await startWire(numbered);
    root = mkdtempSync(path.join(os.tmpdir(), 'docroot-pipeline-'));
    writeFileSync(path.join(root, 'f.txt'), 'x'.repeat(10_000));
    writeFileSync(path.join(root, 'big.txt'), 'y'.repeat(100_000));
    docroot = await startDocroot({ root });
  });
  after(async () => {
    await wire?.close();
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const inOrder = (bodies: Buffer[]) => bodies.map((body) => Number(body.toString('latin1').split(':')[0]));

  test(`${DEPTH} requests in one write are answered, in order`, async () => {
    const socket = await connect(wire.port);
    const answers = collect(socket, DEPTH);
    socket.write(requests(DEPTH, (i) => `/n/${i}`));
    const got = await answers;
    socket.destroy();
    assert.equal(got.closedEarly, false, `the connection closed after ${got.statuses.length} answers`);
    assert.deepEqual(
      inOrder(got.bodies),
      Array.from({ length: DEPTH }, (_, i) => i),
    );
  });

  test(`${DEPTH} requests sent one byte at a time are answered, in order`, async () => {
    const socket = await connect(wire.port);
    const answers = collect(socket, DEPTH);
    await writeByteByByte(
      socket,
      requests(DEPTH, (i) => `/n/${i}`),
    );
    const got = await answers;
    socket.destroy();
    assert.equal(got.closedEarly, false, `the connection closed after ${got.statuses.length} answers`);
    assert.deepEqual(
      inOrder(got.bodies),
      Array.from({ length: DEPTH }, (_, i) => i),
    );
  });

  test(`${DEPTH} pipelined GETs of a cached file (the prepared, single-write path) are all answered`, async () => {
    const socket = await connect(docroot.port);
    const answers = collect(socket, DEPTH);
    socket.write(requests(DEPTH, () => '/f.txt'));
    const got = await answers;
    socket.destroy();
    assert.equal(got.closedEarly, false, `the connection closed after ${got.statuses.length} answers`);
    assert.equal(got.statuses.length, DEPTH);
    assert.ok(got.statuses.every((status) => status === 200));
    assert.ok(got.bodies.every((body) => body.length === 10_000));
  });

  test('a client that reads late still gets every answer once it reads (drain resumes the batch)', async () => {
    const socket = await connect(docroot.port);
    socket.pause();
    // 30 MB of answers: more than the socket buffers of both ends hold.
    socket.write(requests(300, () => '/big.txt'));
    // Wait until the server has stopped writing into a full buffer: its connection waits for drain.
    const connections = (docroot.server.wire as unknown as { connections: Set<{ readState: string }> })
      .connections;
    await new Promise<void>((resolve) => {
      const check = () => {
        if ([...connections].some((connection) => connection.readState === 'draining')) resolve();
        else setImmediate(check);
      };
      check();
    });
    const answers = collect(socket, 300);
    socket.resume();
    const got = await answers;
    socket.destroy();
    assert.equal(got.closedEarly, false, `the connection closed after ${got.statuses.length} answers`);
    assert.equal(got.statuses.length, 300);
  });
});
