/**
 * Access control (--auth): the 401/403 matrix for anonymous, wrong-password, read-only and read-write users
 * on public and protected paths, hashed passwords, and the rule grammar.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCommandLine } from '../src/cli/args.js';
import { parseBasicCredentials } from '../src/handlers/auth.js';
import { type AuthRule, parseAuthRule } from '../src/handlers/auth-rules.js';
import { sha512Crypt, verifyPassword } from '../src/handlers/passwords.js';
import { exchange, type RawResponse } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

/** bcryptjs.hashSync('bpass', 4): a low cost keeps the test fast; the format is the same. */
const BCRYPT_HASH = '$2b$04$tsS.u8zfdnEasrUdGr19XeJXfvZJJFSyp7LdL.l1Fjm1zPO8hsgy.';
/** openssl passwd -6 -salt abcdefgh cryptpass */
const SHA512_CRYPT_HASH =
  '$6$abcdefgh$qOR70TCdeDG9N59p81G.HfhvL5z5RTLxIK.7HiEcFajG.qsZagRh1svTZvyTGwmlOS5JNIncz4Vh0DXVQ6K1C/';
/** printf hexpass | sha512sum */
const SHA512_HEX =
  'sha512:c03683791a737e35829746116ef76a27f905a8e49c4723a053564abc0719b52cbaae35d99461adc1f45cc9902b66cdfa347774efb5dd545f3c1d657eb16a733b';

function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

async function send(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body: string | null = null,
): Promise<RawResponse> {
  const fields = Object.entries({
    Host: 'localhost',
    ...(body !== null ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}),
    ...headers,
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const result = await exchange(port, `${method} ${target} HTTP/1.1\r\n${fields}\r\n${body ?? ''}`, {
    headResponses: method === 'HEAD' ? [0] : [],
  });
  const response = result.responses[0];
  assert.ok(response, `no response to ${method} ${target}`);
  return response;
}

describe('--auth rules', () => {
  let root: string;
  let docroot: RunningDocroot;
  const rules: string[] = [
    'admin:secret@/:rw',
    'viewer:viewpw@/:ro',
    '@/:ro',
    'admin:secret@/private:rw',
    'viewer:viewpw@/private:ro',
    `bob:${BCRYPT_HASH}@/private:rw`,
    `carol:${SHA512_CRYPT_HASH}@/private:ro`,
    `dave:${SHA512_HEX}@/private`,
  ];
  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'docroot-auth-'));
    writeFileSync(path.join(root, 'public.txt'), 'public');
    mkdirSync(path.join(root, 'private'));
    writeFileSync(path.join(root, 'private', 'secret.txt'), 'secret');
    const auth = rules.map((text) => parseAuthRule(text) as AuthRule);
    docroot = await startDocroot({ root, upload: {}, auth });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const anonymous = {};
  const wrong = basic('admin', 'nope');
  const viewer = basic('viewer', 'viewpw');
  const admin = basic('admin', 'secret');
  const matrix: ReadonlyArray<[string, Record<string, string>, string, string, number]> = [
    // who, credentials, method, path, status
    ['anonymous', anonymous, 'GET', '/public.txt', 200],
    ['wrong password', wrong, 'GET', '/public.txt', 401],
    ['ro user', viewer, 'GET', '/public.txt', 200],
    ['rw user', admin, 'GET', '/public.txt', 200],
    ['anonymous', anonymous, 'PUT', '/new.txt', 401],
    ['wrong password', wrong, 'PUT', '/new.txt', 401],
    ['ro user', viewer, 'PUT', '/new.txt', 403],
    ['rw user', admin, 'PUT', '/new.txt', 201],
    ['anonymous', anonymous, 'GET', '/private/secret.txt', 401],
    ['wrong password', wrong, 'GET', '/private/secret.txt', 401],
    ['ro user', viewer, 'GET', '/private/secret.txt', 200],
    ['rw user', admin, 'GET', '/private/secret.txt', 200],
    ['anonymous', anonymous, 'PUT', '/private/new.txt', 401],
    ['wrong password', wrong, 'PUT', '/private/new.txt', 401],
    ['ro user', viewer, 'PUT', '/private/new.txt', 403],
    ['rw user', admin, 'PUT', '/private/new.txt', 201],
  ];
  for (const [who, credentials, method, target, status] of matrix) {
    test(`${who}: ${method} ${target} → ${status}`, async () => {
      const answer = await send(docroot.port, method, target, credentials, method === 'PUT' ? 'data' : null);
      assert.equal(answer.status, status, answer.body.toString());
      if (status === 401) {
        assert.equal(answer.headers['www-authenticate'], 'Basic realm="docroot", charset="UTF-8"');
        assert.match(answer.body.toString(), /^401 Unauthorized: .+\n$/);
      }
      if (status === 403) assert.match(answer.body.toString(), /^403 Forbidden: .+\n$/);
    });
  }

  test('the folder listing and the hot file cache are protected too', async () => {
    assert.equal((await send(docroot.port, 'GET', '/private/')).status, 401);
    assert.equal((await send(docroot.port, 'GET', '/private/secret.txt', admin)).status, 200);
    assert.equal((await send(docroot.port, 'GET', '/private/secret.txt', admin)).status, 200);
    const cold = await send(docroot.port, 'GET', '/private/secret.txt');
    assert.equal(cold.status, 401);
    assert.doesNotMatch(cold.body.toString(), /secret$/);
    assert.equal((await send(docroot.port, 'HEAD', '/private/secret.txt')).status, 401);
  });

  test('a prefix matches whole segments only', async () => {
    writeFileSync(path.join(root, 'privateer.txt'), 'arr');
    assert.equal((await send(docroot.port, 'GET', '/privateer.txt')).status, 200);
    assert.equal((await send(docroot.port, 'GET', '/%70rivate/secret.txt')).status, 401);
  });

  test('bcrypt, SHA-512 crypt and sha512:<hex> passwords are accepted', async () => {
    assert.equal(
      (await send(docroot.port, 'PUT', '/private/bob.txt', basic('bob', 'bpass'), 'b')).status,
      201,
    );
    assert.equal((await send(docroot.port, 'GET', '/private/bob.txt', basic('bob', 'bpass'))).status, 200);
    assert.equal((await send(docroot.port, 'GET', '/private/bob.txt', basic('bob', 'bpasx'))).status, 401);
    assert.equal(
      (await send(docroot.port, 'GET', '/private/secret.txt', basic('carol', 'cryptpass'))).status,
      200,
    );
    assert.equal(
      (await send(docroot.port, 'GET', '/private/secret.txt', basic('carol', 'cryptpasx'))).status,
      401,
    );
    assert.equal(
      (await send(docroot.port, 'PUT', '/private/c.txt', basic('carol', 'cryptpass'), 'c')).status,
      403,
    );
    assert.equal(
      (await send(docroot.port, 'GET', '/private/secret.txt', basic('dave', 'hexpass'))).status,
      200,
    );
  });
});

describe('rules for scripts: wildcard segments and query conditions', () => {
  let root: string;
  let docroot: RunningDocroot;
  const dev = basic('dev', 'pw');
  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'docroot-auth-scripts-'));
    mkdirSync(path.join(root, 'repos', 'one'), { recursive: true });
    writeFileSync(path.join(root, 'repos', 'one', 'refs'), 'refs');
    writeFileSync(path.join(root, 'repos', 'one', 'fetch'), 'fetch');
    const auth = ['@/:ro', 'dev:pw@/:rw', '@/repos/*/fetch:rw', 'dev:pw@/repos/*/refs?service=push'].map(
      (text) => parseAuthRule(text) as AuthRule,
    );
    // No uploads: a request the rules let through gets the file handler's 200 or 405, never 401/403.
    docroot = await startDocroot({ root, auth });
  });
  after(async () => {
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const cases: Array<[string, Record<string, string>, string, string, number]> = [
    ['anonymous', {}, 'GET', '/repos/one/refs?service=fetch', 200],
    ['anonymous', {}, 'GET', '/repos/one/refs', 200],
    // The condition makes the rule more specific than the anonymous "/" rule: only dev.
    ['anonymous', {}, 'GET', '/repos/one/refs?service=push', 401],
    ['anonymous', {}, 'GET', '/repos/one/refs?a=1&service=p%75sh', 401],
    ['anonymous', {}, 'GET', '/repos/one/refs?service=fetch&service=push', 401],
    ['dev', dev, 'GET', '/repos/one/refs?service=push', 200],
    // Anyone may POST to the fetch endpoint of any repository (one segment for "*").
    ['anonymous', {}, 'POST', '/repos/one/fetch', 405],
    ['anonymous', {}, 'POST', '/repos/two/fetch', 405],
    ['anonymous', {}, 'POST', '/repos/one/two/fetch', 401],
    // Everything else still needs dev to write.
    ['anonymous', {}, 'POST', '/repos/one/refs', 401],
    ['dev', dev, 'POST', '/repos/one/refs', 405],
  ];
  for (const [who, credentials, method, target, status] of cases) {
    test(`${who}: ${method} ${target} → ${status}`, async () => {
      const answer = await send(docroot.port, method, target, credentials, method === 'POST' ? 'x' : null);
      assert.equal(answer.status, status, answer.body.toString());
    });
  }

  test('parse as documented', () => {
    assert.deepEqual(parseAuthRule('dev:pw@/cgi-bin/git/*/info/refs?service=git-receive-pack'), {
      user: 'dev',
      password: 'pw',
      pathPrefix: '/cgi-bin/git/*/info/refs',
      query: 'service=git-receive-pack',
      access: 'ro',
    });
    assert.deepEqual(parseAuthRule('@/a?flag:rw'), { pathPrefix: '/a', query: 'flag', access: 'rw' });
    assert.match(String(parseAuthRule('@/a?')), /needs a parameter name/);
    assert.match(String(parseAuthRule('@/a?x=1&y=2')), /one parameter/);
  });
});

describe('paths no rule covers', () => {
  let docroot: RunningDocroot;
  before(async () => {
    docroot = await startDocroot({
      upload: {},
      auth: [{ user: 'a', password: 'b', pathPrefix: '/docs', access: 'rw' }],
    });
  });
  after(() => docroot?.close());

  test('are readable by anyone and writable by no one', async () => {
    assert.equal((await send(docroot.port, 'GET', '/text.txt')).status, 200);
    assert.equal((await send(docroot.port, 'PUT', '/x.txt', basic('a', 'b'), 'x')).status, 403);
    assert.equal((await send(docroot.port, 'GET', '/docs/')).status, 401);
  });
});

describe('passwords and the rule grammar', () => {
  test('SHA-512 crypt matches the reference vectors', () => {
    // From Drepper's specification of SHA-crypt.
    assert.equal(
      sha512Crypt('Hello world!', '$6$saltstring'),
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    );
    assert.equal(
      sha512Crypt('Hello world!', '$6$rounds=10000$saltstringsaltstring'),
      '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
    );
  });

  test('plain and hashed passwords verify', async () => {
    assert.equal(await verifyPassword('secret', 'secret'), true);
    assert.equal(await verifyPassword('secreT', 'secret'), false);
    assert.equal(await verifyPassword('', 'secret'), false);
    assert.equal(await verifyPassword('bpass', BCRYPT_HASH), true);
    assert.equal(await verifyPassword('hexpass', SHA512_HEX), true);
  });

  test('rules parse as documented', () => {
    assert.deepEqual(parseAuthRule('admin:secret@/:rw'), {
      user: 'admin',
      password: 'secret',
      pathPrefix: '/',
      access: 'rw',
    });
    assert.deepEqual(parseAuthRule('@/'), { pathPrefix: '/', access: 'ro' });
    assert.deepEqual(parseAuthRule('@/docs/:ro'), { pathPrefix: '/docs', access: 'ro' });
    assert.deepEqual(parseAuthRule('u:p@ss:w@/x:rw'), {
      user: 'u',
      password: 'p@ss:w',
      pathPrefix: '/x',
      access: 'rw',
    });
    assert.equal(typeof parseAuthRule('admin@/'), 'string');
    assert.equal(typeof parseAuthRule('admin:secret'), 'string');
    assert.equal(typeof parseAuthRule('a:b@/../x'), 'string');
    const command = parseCommandLine(['--upload', '--max-upload-size', '10M', '--auth', 'a:b@/:rw']);
    assert.equal(command.kind, 'serve');
    if (command.kind === 'serve') {
      assert.deepEqual(command.options.upload, { maxBytes: 10 * 1024 * 1024 });
      assert.equal(command.options.auth.length, 1);
    }
    assert.equal(parseCommandLine(['--auth', 'nonsense']).kind, 'error');
    assert.equal(parseCommandLine(['--max-upload-size', '1M']).kind, 'error');
  });

  test('Basic credentials decode as UTF-8 and split at the first colon', () => {
    const header = `Basic ${Buffer.from('jürgen:pa:ss').toString('base64')}`;
    assert.deepEqual(parseBasicCredentials(header), { user: 'jürgen', password: 'pa:ss' });
    assert.equal(parseBasicCredentials('Bearer abc'), null);
    assert.equal(parseBasicCredentials(`Basic ${Buffer.from('nocolon').toString('base64')}`), null);
  });
});
