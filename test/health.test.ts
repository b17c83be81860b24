/**
 * The health check: JSON for load balancers at /.well-known/docroot/health (or --health-path), whatever
 * the listing and dotfile settings, never cached.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { VERSION } from '../src/version.js';
import { exchange, get } from './helpers/raw-client.js';
import { FIXTURE_ROOT, type RunningDocroot, startDocroot } from './helpers/servers.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const HEALTH = '/.well-known/docroot/health';

describe('the health check', () => {
  let docroot: RunningDocroot;
  before(async () => {
    // Listings off and dotfiles hidden: neither may hide the health check.
    docroot = await startDocroot({ listing: false, dotfiles: false });
  });
  after(() => docroot.close());

  test('GET answers 200 JSON with status, uptime, version and connections, not to be stored', async () => {
    const { responses } = await exchange(docroot.port, get(HEALTH));
    const answer = responses[0]!;
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/json');
    assert.equal(answer.headers['cache-control'], 'no-store');
    const document = JSON.parse(answer.body.toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(document), ['status', 'uptimeSeconds', 'version', 'connections']);
    assert.equal(document.status, 'ok');
    assert.equal(document.version, VERSION);
    assert.equal(typeof document.uptimeSeconds, 'number');
    assert.ok((document.uptimeSeconds as number) >= 0);
    assert.equal(document.connections, 1);
  });

  test('HEAD has the length and no body; other methods are 405 with Allow', async () => {
    const { responses } = await exchange(docroot.port, get(HEALTH, '', 'HEAD'), { headResponses: [0] });
    assert.equal(responses[0]!.status, 200);
    assert.ok(Number(responses[0]!.headers['content-length']) > 0);
    assert.equal(responses[0]!.body.length, 0);
    const post = await exchange(
      docroot.port,
      `POST ${HEALTH} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`,
    );
    assert.equal(post.responses[0]!.status, 405);
    assert.equal(post.responses[0]!.headers.allow, 'GET, HEAD');
  });

  test('the rest of /.well-known stays hidden', async () => {
    const { responses } = await exchange(docroot.port, get('/.well-known/docroot/other'));
    assert.equal(responses[0]!.status, 404);
  });
});

describe('healthPath', () => {
  test('a custom path answers; the default one is then an ordinary path', async () => {
    const docroot = await startDocroot({ healthPath: '/healthz' });
    try {
      const custom = await exchange(docroot.port, get('/healthz'));
      assert.equal(custom.responses[0]!.status, 200);
      const old = await exchange(docroot.port, get(HEALTH));
      assert.equal(old.responses[0]!.status, 404);
    } finally {
      await docroot.close();
    }
  });

  test('--health-path on the command line, and off', async () => {
    const child = spawn(
      process.execPath,
      [CLI, FIXTURE_ROOT, '--port', '0', '--host', '127.0.0.1', '--log', 'off', '--health-path', '/up'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const match = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
          if (match) resolve(Number(match[1]));
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      const { responses } = await exchange(port, get('/up'));
      assert.equal(JSON.parse(responses[0]!.body.toString()).status, 'ok');
      // No QR code when stdout is not a terminal.
    } finally {
      child.kill('SIGTERM');
    }
    const off = await startDocroot({ healthPath: false });
    try {
      const { responses } = await exchange(off.port, get(HEALTH));
      assert.equal(responses[0]!.status, 404);
    } finally {
      await off.close();
    }
  });
});
