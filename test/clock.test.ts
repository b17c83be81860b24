import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clockNow, holdClockReading, releaseClockReading } from '../src/wire/clock.js';
import type { ResponseDescription } from '../src/wire/message.js';
import { exchange } from './helpers/raw-client.js';
import { startWire } from './helpers/servers.js';

/** Returns once `Date.now()` has moved past `after` (at most a millisecond of spinning, no timer). */
function clockPast(after: number): number {
  let now = Date.now();
  while (now <= after) now = Date.now();
  return now;
}

test('clockNow() is Date.now() outside a held reading, and one fixed reading inside it', () => {
  const before = Date.now();
  assert.ok(clockNow() >= before);
  assert.equal(holdClockReading(), true);
  const held = clockNow();
  try {
    assert.equal(holdClockReading(), false, 'an inner hold must not take over (or release) the reading');
    clockPast(held);
    assert.equal(clockNow(), held);
  } finally {
    releaseClockReading();
  }
  const later = clockPast(held);
  assert.ok(clockNow() >= later, 'the reading must not outlive its release');
});

test('a read hands back the clock when it is done, even when its handler throws', async () => {
  const server = await startWire((request): ResponseDescription => {
    // Inside the read, the reading is held: two calls apart in time answer the same instant.
    const first = clockNow();
    clockPast(first);
    if (clockNow() !== first)
      return {
        status: 500,
        headers: { 'content-type': 'text/plain' },
        body: { kind: 'bytes', data: 'the reading was not held' },
      };
    if (request.path === '/throw') throw new Error('thrown by the test handler');
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: { kind: 'bytes', data: 'held' } };
  });
  server.expectErrors(/thrown by the test handler/);
  try {
    const ok = await exchange(server.port, 'GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal(ok.responses[0]?.status, 200);
    assert.equal(ok.responses[0]?.body.toString(), 'held');
    const thrown = await exchange(server.port, 'GET /throw HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal(thrown.responses[0]?.status, 500);
    // Back in the test, outside any read: the clock follows Date.now() again.
    const now = clockPast(Date.now());
    assert.ok(clockNow() >= now, 'a read left its clock reading behind');
  } finally {
    await server.close();
  }
});
