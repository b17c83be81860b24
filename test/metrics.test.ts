/**
 * --metrics: the exposition text checked by promtool (Prometheus's own linter), and exact values after
 * known sequences of requests, in one process and summed over `--workers 2`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningCli, startCli } from './helpers/cli.js';
import { connect, exchange, get } from './helpers/raw-client.js';
import { FIXTURE_ROOT, type RunningDocroot, startDocroot } from './helpers/servers.js';

const promtool = spawnSync('promtool', ['--version']).error === undefined;

/** `name{labels}` exactly as printed → value. */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

async function scrape(port: number, extra = ''): Promise<{ status: number; type: string; text: string }> {
  const { responses } = await exchange(port, get('/metrics', `Connection: close\r\n${extra}`));
  const response = responses[0]!;
  return {
    status: response.status,
    type: response.headers['content-type'] ?? '',
    text: response.body.toString(),
  };
}

function requests(samples: Map<string, number>, method: string, status: string, transport = 'h1'): number {
  return (
    samples.get(
      `docroot_http_requests_total{method="${method}",status="${status}",transport="${transport}"}`,
    ) ?? -1
  );
}

/** 7 answers in 2xx and 3 in 4xx, each on its own connection. */
async function knownSequence(port: number): Promise<void> {
  for (let i = 0; i < 7; i++) {
    const { responses } = await exchange(port, get('/small.txt', 'Connection: close\r\n'));
    assert.equal(responses[0]?.status, 200);
  }
  for (let i = 0; i < 3; i++) {
    const { responses } = await exchange(port, get(`/missing-${i}`, 'Connection: close\r\n'));
    assert.equal(responses[0]?.status, 404);
  }
}

/** promtool's verdict on the text; without promtool the counts are still checked, and the test says so. */
function checkWithPromtool(text: string, t: { diagnostic(message: string): void }): void {
  if (!promtool) {
    t.diagnostic('promtool not installed (Debian prometheus): the format was not checked');
    return;
  }
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(result.status, 0, `promtool check metrics: ${result.stdout}${result.stderr}`);
}

let root: string;
before(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'docroot-metrics-'));
  writeFileSync(path.join(root, 'small.txt'), 'small\n');
  writeFileSync(path.join(root, 'big.txt'), 'compressible text line\n'.repeat(200));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('--metrics in one process', () => {
  let server: RunningDocroot;
  before(async () => {
    // A long revalidation period, so a slow machine cannot turn a cache hit into a miss.
    server = await startDocroot({ root, metrics: { path: '/metrics' }, cache: { revalidateMs: 600_000 } });
  });
  after(() => server.close());

  test('exact counts after 7 2xx and 3 4xx; promtool accepts the text', async (t) => {
    await knownSequence(server.port);
    const scraped = await scrape(server.port);
    assert.equal(scraped.status, 200);
    assert.equal(scraped.type, 'text/plain; version=0.0.4; charset=utf-8');
    checkWithPromtool(scraped.text, t);
    const samples = parseExposition(scraped.text);
    assert.equal(requests(samples, 'GET', '2xx'), 7);
    assert.equal(requests(samples, 'GET', '4xx'), 3);
    assert.equal(requests(samples, 'GET', '5xx'), 0);
    assert.equal(samples.get('docroot_http_request_duration_seconds_count'), 10);
    assert.equal(samples.get('docroot_http_request_duration_seconds_bucket{le="+Inf"}'), 10);
    // The first GET of small.txt went to the disk; the six after it came from the cache.
    assert.equal(samples.get('docroot_file_cache_hits_total'), 6);
    assert.equal(samples.get('docroot_file_cache_entries'), 1);
    assert.ok((samples.get('process_resident_memory_bytes') ?? 0) > 0);
    assert.ok((samples.get('process_open_fds') ?? 0) > 0);
    assert.equal(samples.get('docroot_processes'), 1);
  });

  test('OpenMetrics when the scraper asks for it', async () => {
    const scraped = await scrape(
      server.port,
      'Accept: application/openmetrics-text; version=1.0.0,text/plain;q=0.5\r\n',
    );
    assert.equal(scraped.type, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.match(scraped.text, /^# TYPE docroot_http_requests counter$/m);
    assert.match(scraped.text, /^docroot_http_requests_total\{/m);
    assert.ok(scraped.text.endsWith('# EOF\n'));
  });

  test('keep-alive reuse and compression', async () => {
    const before = server.server.metricsSnapshot()!;
    const { responses } = await exchange(
      server.port,
      get('/small.txt') +
        get('/small.txt') +
        get('/big.txt', 'Accept-Encoding: gzip\r\nConnection: close\r\n'),
      { responses: 3 },
    );
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200, 200],
    );
    assert.equal(responses[2]!.headers['content-encoding'], 'gzip');
    const now = server.server.metricsSnapshot()!;
    assert.equal(now.keepAliveReused - before.keepAliveReused, 2);
    assert.equal(now.compressed[1]! - before.compressed[1]!, 1, 'one gzip response');
  });

  test('only GET and HEAD on the metrics path', async () => {
    const { responses } = await exchange(server.port, get('/metrics', 'Content-Length: 0\r\n', 'POST'));
    assert.equal(responses[0]?.status, 405);
    assert.equal(responses[0]?.headers.allow, 'GET, HEAD');
  });
});

test('connections refused by maxConnections are counted', async () => {
  const server = await startDocroot({ root, metrics: { path: '/metrics' }, maxConnections: 1 });
  const held = await connect(server.port);
  try {
    // An answered request proves the server accepted the held connection before the next one comes.
    const answered = new Promise((resolve) => held.once('data', resolve));
    held.write(get('/small.txt'));
    await answered;
    const refused = await exchange(server.port, get('/small.txt'));
    assert.equal(refused.responses[0]?.status, 503);
    assert.equal(server.server.metricsSnapshot()!.connectionsRefused, 1);
  } finally {
    held.destroy();
    await server.close();
  }
});

test('HTTP/2 exchanges are counted with transport h2', async () => {
  const server = await startDocroot({ root, tls: { selfSigned: true }, metrics: { path: '/metrics' } });
  const session = http2.connect(`https://localhost:${server.port}`, {
    rejectUnauthorized: false,
    host: '127.0.0.1',
  });
  const fetch2 = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = session.request({ ':path': path });
      let status = 0;
      let body = '';
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        body += chunk;
      });
      stream.on('end', () => resolve({ status, body }));
      stream.on('error', reject);
    });
  try {
    assert.equal((await fetch2('/small.txt')).status, 200);
    assert.equal((await fetch2('/missing')).status, 404);
    const scraped = await fetch2('/metrics');
    assert.equal(scraped.status, 200);
    const samples = parseExposition(scraped.body);
    assert.equal(requests(samples, 'GET', '2xx', 'h2'), 1);
    assert.equal(requests(samples, 'GET', '4xx', 'h2'), 1);
    assert.equal(requests(samples, 'GET', '2xx', 'h1'), 0);
    assert.equal(samples.get('docroot_connections_open'), 1, 'the HTTP/2 session');
  } finally {
    session.close();
    await server.close();
  }
});

describe('--metrics counts CGI, uploads and auth failures', () => {
  test('CGI runs, failures and timeouts', async () => {
    const server = await startDocroot({
      root: FIXTURE_ROOT,
      cgi: { timeoutMs: 300 },
      metrics: { path: '/metrics' },
    });
    server.expectErrors(/^cgi: \/cgi-bin\/(crash|hang)\.py: /);
    try {
      const statuses = [];
      for (const script of ['hello.py', 'crash.py', 'hang.py']) {
        const { responses } = await exchange(server.port, get(`/cgi-bin/${script}`, 'Connection: close\r\n'));
        statuses.push(responses[0]?.status);
      }
      assert.deepEqual(statuses, [200, 502, 504]);
      const snapshot = server.server.metricsSnapshot()!;
      assert.deepEqual([snapshot.cgiRuns, snapshot.cgiFailures, snapshot.cgiTimeouts], [3, 1, 1]);
    } finally {
      await server.close();
    }
  });

  test('uploads and auth failures; the metrics path follows --auth', async () => {
    const server = await startDocroot({
      root,
      upload: {},
      auth: [{ user: 'ops', password: 'secret', pathPrefix: '/', access: 'rw' }],
      metrics: { path: '/metrics' },
    });
    try {
      const good = `Authorization: Basic ${Buffer.from('ops:secret').toString('base64')}\r\n`;
      const bad = `Authorization: Basic ${Buffer.from('ops:wrong').toString('base64')}\r\n`;
      const put = await exchange(
        server.port,
        `PUT /up.txt HTTP/1.1\r\nHost: localhost\r\n${good}Content-Length: 2\r\n\r\nhi`,
      );
      assert.equal(put.responses[0]?.status, 201);
      const denied = await exchange(server.port, get('/metrics', bad));
      assert.equal(denied.responses[0]?.status, 401);
      const anonymous = await exchange(server.port, get('/metrics'));
      assert.equal(anonymous.responses[0]?.status, 401);
      const allowed = await exchange(server.port, get('/metrics', good));
      assert.equal(allowed.responses[0]?.status, 200);
      const samples = parseExposition(allowed.responses[0]!.body.toString());
      assert.equal(samples.get('docroot_uploads_total'), 1);
      // Only the request that carried wrong credentials; the anonymous one is the usual challenge.
      assert.equal(samples.get('docroot_auth_failures_total'), 1);
    } finally {
      await server.close();
    }
  });
});

describe('--metrics with --workers 2', { timeout: 60_000 }, () => {
  let server: RunningCli;
  let port: number;
  before(async () => {
    server = await startCli([root, '--workers', '2', '--metrics', '/metrics', '--log', 'off'], {
      DOCROOT_EXPOSE_WORKER: '1',
    });
    port = server.port;
  });
  after(() => server.stop());

  test('one scrape sums both workers', async (t) => {
    // Both workers must be up before counting, or the second one's share would be missing.
    const pids = new Set<string>();
    while (pids.size < 2) {
      const { responses } = await exchange(port, get('/small.txt', 'Connection: close\r\n'));
      pids.add(responses[0]!.headers['x-docroot-worker']!);
    }
    const baseline = parseExposition((await scrape(port)).text);
    await knownSequence(port);
    const scraped = await scrape(port);
    checkWithPromtool(scraped.text, t);
    const samples = parseExposition(scraped.text);
    assert.equal(samples.get('docroot_processes'), 2);
    // The warm-up requests and the baseline scrape itself are in the baseline and later.
    assert.equal(requests(samples, 'GET', '2xx') - requests(baseline, 'GET', '2xx'), 7 + 1);
    assert.equal(requests(samples, 'GET', '4xx') - requests(baseline, 'GET', '4xx'), 3);
  });

  test('after SIGHUP replaces both workers, the totals keep what the old ones counted', async () => {
    const before = parseExposition((await scrape(port)).text);
    server.child.kill('SIGHUP');
    await server.waitForStderr(/restart finished/);
    const after = parseExposition((await scrape(port)).text);
    // Everything counted before, plus the scrape that measured it.
    assert.equal(requests(after, 'GET', '2xx'), requests(before, 'GET', '2xx') + 1);
    assert.equal(requests(after, 'GET', '4xx'), requests(before, 'GET', '4xx'));
    assert.equal(after.get('docroot_processes'), 2);
  });
});
