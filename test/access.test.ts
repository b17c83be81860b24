/**
 * Who may do what (issue 17): bounded password guessing (rate limit, worker-thread checks, a dummy check
 * for unknown users, the length cap), the decision naming its rule, rules applied to the resolved path and
 * case-insensitively on a case-folding disk, and a rule's own prefix folder kept.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CaseProbe, detectCaseInsensitive } from '../src/files/real-path.js';
import { createAuthGate } from '../src/handlers/auth.js';
import { clientKey, FailureLimiter, MAX_TRACKED_CLIENTS, parseAuthRate } from '../src/handlers/auth-rate.js';
import { type AuthRule, parseAuthRule } from '../src/handlers/auth-rules.js';
import {
  createPasswordVerifier,
  MAX_QUEUED_VERIFICATIONS,
  VerifierBusyError,
} from '../src/handlers/password-verifier.js';
import { MAX_PASSWORD_BYTES, sha512Crypt } from '../src/handlers/passwords.js';
import type { HttpRequest } from '../src/wire/message.js';
import { exchange, parseResponses, type RawResponse } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

/** bcryptjs.hashSync('right', 8): tens of milliseconds per check, far above a connection's own noise. */
const BCRYPT_RIGHT = '$2b$08$G7tLfLuXJ9ZbRIMONZ14o.DF4oYg7Ma6kjc0eHOcaX.65MwxhkT8.';

function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

function rulesOf(...texts: string[]): AuthRule[] {
  return texts.map((text) => parseAuthRule(text) as AuthRule);
}

function requestText(method: string, target: string, headers: Record<string, string>, body: string | null) {
  const fields = Object.entries({
    Host: 'localhost',
    ...(body !== null ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}),
    ...headers,
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return `${method} ${target} HTTP/1.1\r\n${fields}\r\n${body ?? ''}`;
}

async function send(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body: string | null = null,
): Promise<RawResponse> {
  const result = await exchange(port, requestText(method, target, headers, body), {
    headResponses: method === 'HEAD' ? [0] : [],
  });
  const response = result.responses[0];
  assert.ok(response, `no response to ${method} ${target}`);
  return response;
}

/** One request from a chosen loopback source address (Linux routes all of 127/8 to lo). */
function sendFrom(localAddress: string, port: number, text: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const { responses } = parseResponses(Buffer.concat(chunks));
      if (responses[0] !== undefined) {
        socket.destroy();
        resolve(responses[0]);
      }
    });
    socket.on('error', reject);
    socket.on('connect', () => socket.write(text));
  });
}

function makeRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'docroot-access-'));
  writeFileSync(path.join(root, 'public.txt'), 'public');
  mkdirSync(path.join(root, 'private'));
  writeFileSync(path.join(root, 'private', 'secret.txt'), 'secret');
  mkdirSync(path.join(root, 'drop'));
  mkdirSync(path.join(root, 'pub'));
  // A link inside the root into the protected folder.
  symlinkSync('../private', path.join(root, 'pub', 'door'));
  return root;
}

describe('bounded guessing', () => {
  let root: string;
  let docroot: RunningDocroot;
  before(async () => {
    root = makeRoot();
    docroot = await startDocroot({
      root,
      auth: rulesOf('admin:secret@/private:rw', '@/:ro'),
      authRate: { failures: 3, windowMs: 60_000 },
    });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('successes do not count; the failure after the limit is 429 with Retry-After, even with the right password', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await send(docroot.port, 'GET', '/private/secret.txt', basic('admin', 'secret'))).status,
        200,
      );
    }
    for (let i = 0; i < 3; i++) {
      const wrong = await send(docroot.port, 'GET', '/private/secret.txt', basic('admin', `guess${i}`));
      assert.equal(wrong.status, 401);
    }
    const limited = await send(docroot.port, 'GET', '/private/secret.txt', basic('admin', 'guess3'));
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${limited.headers['retry-after']}`);
    assert.match(limited.body.toString(), /^429 Too Many Requests: too many failed logins from this address/);
    assert.equal(limited.body.toString().trim().split('\n').length, 1);
    // While locked nothing is checked, so a right guess is not told apart from a wrong one.
    assert.equal(
      (await send(docroot.port, 'GET', '/private/secret.txt', basic('admin', 'secret'))).status,
      429,
    );
    // Public files and requests without credentials are not affected.
    assert.equal((await send(docroot.port, 'GET', '/public.txt')).status, 200);
    assert.equal((await send(docroot.port, 'GET', '/private/secret.txt')).status, 401);
    // Another client address is counted on its own (Linux routes all of 127/8 to the loopback device).
    if (process.platform !== 'linux') return;
    const other = await sendFrom(
      '127.0.0.2',
      docroot.port,
      requestText('GET', '/private/secret.txt', basic('admin', 'secret'), null),
    );
    assert.equal(other.status, 200);
  });

  test('the limiter forgets failures after the window and keeps a bounded number of clients', () => {
    let now = 1_000_000;
    const limiter = new FailureLimiter({ failures: 2, windowMs: 10_000 }, () => now);
    limiter.recordFailure('10.0.0.1');
    now += 4000;
    limiter.recordFailure('10.0.0.1');
    assert.equal(limiter.retryAfterMs('10.0.0.1'), 6000);
    now += 6000;
    assert.equal(limiter.retryAfterMs('10.0.0.1'), 0);
    for (let i = 0; i < MAX_TRACKED_CLIENTS + 500; i++)
      limiter.recordFailure(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    assert.equal(limiter.trackedClients, MAX_TRACKED_CLIENTS);
    // One IPv6 subscriber (a /64) is one client.
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), clientKey('2001:db8:1:2:bbbb::2'));
    assert.notEqual(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
    assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
  });

  test('--auth-rate parses as documented', () => {
    assert.deepEqual(parseAuthRate('10/min'), { failures: 10, windowMs: 60_000 });
    assert.deepEqual(parseAuthRate('5/30s'), { failures: 5, windowMs: 30_000 });
    assert.deepEqual(parseAuthRate('100/hour'), { failures: 100, windowMs: 3_600_000 });
    assert.deepEqual(parseAuthRate('7'), { failures: 7, windowMs: 60_000 });
    assert.equal(parseAuthRate('off'), false);
    for (const bad of ['', '0', '10/fortnight', '-1/min', 'ten']) {
      assert.match(String(parseAuthRate(bad)), /^--auth-rate needs/);
    }
  });
});

describe('password checks', () => {
  let root: string;
  let docroot: RunningDocroot;
  /** SHA-512 crypt with many rounds: about a fifth of a second per check on this machine. */
  const slowCrypt = sha512Crypt('right', '$6$rounds=80000$saltsalt$')!;
  before(async () => {
    root = makeRoot();
    docroot = await startDocroot({
      root,
      auth: rulesOf(
        `admin:${BCRYPT_RIGHT}@/private:rw`,
        `slow:${slowCrypt}@/slow:rw`,
        'bob:bobpw@/pub:rw',
        '@/:ro',
      ),
      authRate: false,
    });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('a slow hash is checked off the event loop: a public file is served while the checks run', async () => {
    const order: string[] = [];
    const guesses = [1, 2, 3, 4].map((i) =>
      send(docroot.port, 'GET', '/slow/x', basic('slow', `wrong${i}`)).then((response) => {
        order.push(`guess ${response.status}`);
      }),
    );
    const publicFile = send(docroot.port, 'GET', '/public.txt').then((response) => {
      order.push(`public ${response.status}`);
    });
    await Promise.all([...guesses, publicFile]);
    assert.equal(order.length, 5);
    // Blocking checks would answer the public file only after the guesses queued before it.
    assert.ok(order.indexOf('public 200') <= 1, `order: ${order.join(', ')}`);
  });

  test('an unknown user costs the same check as a known one (counted, and timed coarsely)', async (t) => {
    const calls: string[] = [];
    const real = createPasswordVerifier();
    const gate = createAuthGate({
      rules: rulesOf(`admin:${BCRYPT_RIGHT}@/private:rw`, '@/:ro'),
      rate: false,
      verifier: {
        get count() {
          return real.count;
        },
        verify(given, stored) {
          calls.push(stored);
          return real.verify(given, stored);
        },
        close: () => real.close(),
      },
    });
    const request = (user: string, password: string): HttpRequest => ({
      method: 'GET',
      target: '/private/x',
      path: '/private/x',
      query: '',
      version: '1.1',
      headers: { host: 'localhost', authorization: basic(user, password).Authorization! },
      rawHeaders: [],
      body: null,
      contentLength: null,
      authority: 'localhost',
      remoteAddress: '127.0.0.1',
      remotePort: 1,
      localAddress: '127.0.0.1',
      localPort: 2,
      secure: false,
    });
    try {
      assert.equal((await gate.check(request('admin', 'wrong')))?.status, 401);
      assert.deepEqual(calls, [BCRYPT_RIGHT]);
      assert.equal((await gate.check(request('mallory', 'wrong')))?.status, 401);
      // The same bcrypt check against a real secret of the rules (its result ignored).
      assert.deepEqual(calls, [BCRYPT_RIGHT, BCRYPT_RIGHT]);
      assert.equal(gate.verifier.count, 2);
      // A right password is remembered: the second request costs no check.
      assert.equal(await gate.check(request('admin', 'right')), null);
      assert.equal(await gate.check(request('admin', 'right')), null);
      assert.equal(calls.length, 3);
    } finally {
      await gate.close();
    }

    // Over the wire: medians of interleaved attempts. Before the dummy check the unknown user answered
    // in under a millisecond against milliseconds for bcrypt; the tolerance only has to catch that.
    const known: number[] = [];
    const unknown: number[] = [];
    const timed = async (user: string, into: number[]) => {
      const started = process.hrtime.bigint();
      assert.equal((await send(docroot.port, 'GET', '/private/x', basic(user, 'wrong'))).status, 401);
      into.push(Number(process.hrtime.bigint() - started) / 1e6);
    };
    // Warm up the worker's bcrypt code first; then alternate which goes first, so neither pays for it.
    for (let i = 0; i < 3; i++) {
      await timed('admin', []);
      await timed('mallory', []);
    }
    for (let i = 0; i < 15; i++) {
      if (i % 2 === 0) {
        await timed('admin', known);
        await timed('mallory', unknown);
      } else {
        await timed('mallory', unknown);
        await timed('admin', known);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
    const ratio = median(unknown) / median(known);
    t.diagnostic(`median known ${median(known).toFixed(1)} ms, unknown ${median(unknown).toFixed(1)} ms`);
    assert.ok(ratio > 0.5 && ratio < 2, `unknown/known median ratio ${ratio.toFixed(2)}`);
  });

  test('at most 64 slow checks wait for the worker; beyond that the verifier refuses at once', async () => {
    const verifier = createPasswordVerifier();
    const quick = sha512Crypt('right', '$6$rounds=1000$saltsalt$')!;
    try {
      const results = await Promise.allSettled(
        Array.from({ length: MAX_QUEUED_VERIFICATIONS + 6 }, (_, i) =>
          verifier.verify(i === 0 ? 'right' : 'wrong', quick),
        ),
      );
      const refused = results.filter((result) => result.status === 'rejected');
      assert.equal(refused.length, 6);
      for (const result of refused)
        assert.ok((result as PromiseRejectedResult).reason instanceof VerifierBusyError);
      assert.deepEqual((results[0] as PromiseFulfilledResult<boolean>).value, true);
      assert.deepEqual((results[1] as PromiseFulfilledResult<boolean>).value, false);
    } finally {
      await verifier.close();
    }
  });

  test('a password longer than 1 KiB is 400 before any check', async () => {
    const long = await send(
      docroot.port,
      'GET',
      '/slow/x',
      basic('slow', 'x'.repeat(MAX_PASSWORD_BYTES + 1)),
    );
    assert.equal(long.status, 400);
    assert.match(long.body.toString(), /^400 Bad Request: the password is longer than 1024 bytes\n$/);
    const atLimit = await send(docroot.port, 'GET', '/pub/x', basic('bob', 'x'.repeat(MAX_PASSWORD_BYTES)));
    // Exactly 1 KiB is checked (and is wrong).
    assert.equal(atLimit.status, 401);
  });

  test('a right password under a prefix whose rules do not name the user says which rule decided', async () => {
    const response = await send(docroot.port, 'PUT', '/private/x.txt', basic('bob', 'bobpw'), 'x');
    assert.equal(response.status, 403);
    assert.equal(
      response.body.toString(),
      '403 Forbidden: the --auth rules for /private do not name the user bob\n',
    );
    const wrong = await send(docroot.port, 'PUT', '/private/x.txt', basic('bob', 'nope'), 'x');
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.toString(), /the user name or password is wrong/);
  });
});

describe('rules match the way the disk matches', () => {
  let root: string;
  before(() => {
    root = makeRoot();
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** A case-folding file system, as macOS and Windows have by default. */
  const foldingProbe: CaseProbe = {
    names: () => ['Public.txt'],
    identity: (file) => `inode-of:${file.toLowerCase()}`,
  };

  test('detection: a case-folding probe says insensitive; this disk says sensitive', () => {
    assert.equal(detectCaseInsensitive(root, foldingProbe), true);
    assert.equal(detectCaseInsensitive(root), false);
    // No name with letters: the root's own name is tried.
    assert.equal(
      detectCaseInsensitive(root, { names: () => ['123'], identity: foldingProbe.identity }),
      true,
    );
  });

  test('on a case-insensitive disk /PRIVATE is governed by the /private rule; on this disk it is just missing', async () => {
    const auth = rulesOf('admin:secret@/private:rw', '@/:ro');
    const folding = await startDocroot({
      root,
      auth,
      caseInsensitive: detectCaseInsensitive(root, foldingProbe),
    });
    const exact = await startDocroot({ root, auth, caseInsensitive: detectCaseInsensitive(root) });
    try {
      for (const target of ['/PRIVATE/secret.txt', '/Private/', '/pRiVaTe']) {
        assert.equal((await send(folding.port, 'GET', target)).status, 401, target);
        assert.equal((await send(exact.port, 'GET', target)).status, 404, target);
      }
      assert.equal(
        (await send(folding.port, 'GET', '/PRIVATE/secret.txt', basic('admin', 'secret'))).status,
        404,
      );
    } finally {
      await folding.close();
      await exact.close();
    }
  });

  test('a symlink into a protected folder is protected; the rule of the real path decides', async () => {
    const docroot = await startDocroot({
      root,
      upload: {},
      auth: rulesOf('admin:secret@/private:rw', '@/pub:rw', '@/:ro'),
    });
    try {
      // /pub is writable by anyone, but not through the link into /private.
      const write = await send(docroot.port, 'PUT', '/pub/door/planted.txt', {}, 'x');
      assert.equal(write.status, 401);
      assert.equal((await send(docroot.port, 'PUT', '/pub/own.txt', {}, 'x')).status, 201);
      const anonymous = await send(docroot.port, 'GET', '/pub/door/secret.txt');
      assert.equal(anonymous.status, 401);
      const listing = await send(docroot.port, 'GET', '/pub/door/');
      assert.equal(listing.status, 401);
      const admin = await send(docroot.port, 'GET', '/pub/door/secret.txt', basic('admin', 'secret'));
      assert.equal(admin.status, 200);
      assert.equal(admin.body.toString(), 'secret');
    } finally {
      await docroot.close();
    }
  });

  test("a rule's own prefix folder cannot be deleted or replaced through that rule", async () => {
    const docroot = await startDocroot({ root, upload: {}, auth: rulesOf('@/drop:rw', '@/:ro') });
    try {
      const removal = await send(docroot.port, 'DELETE', '/drop');
      assert.equal(removal.status, 403);
      assert.match(removal.body.toString(), /\/drop is the folder an --auth rule applies to/);
      assert.equal((await send(docroot.port, 'DELETE', '/drop/')).status, 403);
      assert.equal((await send(docroot.port, 'PUT', '/drop', {}, 'a file instead')).status, 403);
      // Inside it, the rule grants what it says.
      assert.equal((await send(docroot.port, 'PUT', '/drop/note.txt', {}, 'hi')).status, 201);
      assert.equal((await send(docroot.port, 'DELETE', '/drop/note.txt')).status, 204);
      assert.equal((await send(docroot.port, 'GET', '/drop/')).status, 200);
    } finally {
      await docroot.close();
    }
  });
});
