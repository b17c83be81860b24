/**
 * Issue 12: HTTP/2 seen like HTTP/1.1. h2 streams go through the same observer as the HTTP/1.1 wire
 * (`--trace` in the same notation with pseudo-header fields as such, the access log, onRequestHead /
 * onResponseHead), handlers see version `2`, and the 503 for a connection over the limit is observed too.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import http2 from 'node:http2';
import { describe, test } from 'node:test';
import type { ExchangeRecord, WireObserver } from '../src/wire/observer.js';
import { createTraceObserver } from '../src/wire/trace.js';
import { waitUntil } from './helpers/load.js';
import { connect, exchange, get } from './helpers/raw-client.js';
import { FIXTURE_ROOT, startDocroot } from './helpers/servers.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

function h2Get(port: number, path: string, extra: http2.OutgoingHttpHeaders = {}) {
  return new Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const session = http2.connect(`https://localhost:${port}`, {
      rejectUnauthorized: false,
      host: '127.0.0.1',
    });
    session.on('error', reject);
    const stream = session.request({ ':path': path, ...extra }, { endStream: true });
    let headers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (received) => {
      headers = received;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('end', () => {
      session.close();
      resolve({ headers, body: Buffer.concat(chunks) });
    });
  });
}

/** Items observed so far, and a way to wait (on the arrival events, not on a clock) until one matches. */
class Collected<T> {
  readonly items: T[] = [];
  private readonly waiters: Array<() => void> = [];

  add(item: T): void {
    this.items.push(item);
    for (const wake of this.waiters.splice(0)) wake();
  }

  async until(predicate: (items: readonly T[]) => boolean): Promise<void> {
    while (!predicate(this.items)) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

describe('HTTP/2 through the observers', () => {
  test('--trace shows an h2 exchange in the C (-->)/S (<--) notation, pseudo-headers as such', async () => {
    const lines = new Collected<string>();
    const docroot = await startDocroot({
      tls: { selfSigned: true },
      observer: createTraceObserver({ writeLine: (line) => lines.add(line) }),
    });
    try {
      const answer = await h2Get(docroot.port, '/text.txt', { 'user-agent': 'h2-test' });
      assert.equal(answer.headers[':status'], 200);
      await lines.until((all) => all.some((line) => / closed$/.test(line)));
    } finally {
      await docroot.close();
    }
    const shown = lines.items
      .map((line) => line.replace(/from 127\.0\.0\.1:\d+/, 'from 127.0.0.1:<port>'))
      .map((line) => line.replace(/(date|last-modified|etag|server|:authority): .*/, '$1: <masked>'));
    assert.deepEqual(shown.slice(0, 2), [
      '* connection 1 opened from 127.0.0.1:<port> (HTTP/2)',
      '* connection 1, stream 1: request',
    ]);
    assert.ok(shown.includes('C (-->): :method: GET'), shown.join('\n'));
    assert.ok(shown.includes('C (-->): :path: /text.txt'), shown.join('\n'));
    assert.ok(shown.includes('C (-->): :scheme: https'));
    assert.ok(shown.includes('C (-->): user-agent: h2-test'));
    const response = shown.indexOf('* connection 1, stream 1: response');
    assert.ok(response > 0, shown.join('\n'));
    assert.deepEqual(shown.slice(response + 1, response + 4), [
      'S (<--): :status: 200',
      'S (<--): server: <masked>',
      'S (<--): date: <masked>',
    ]);
    assert.ok(shown.includes('S (<--): content-type: text/plain; charset=utf-8'));
    assert.ok(shown.includes('S (<--): content-length: 43'));
    assert.ok(shown.includes('S (<--): [43 bytes of text/plain]'));
    assert.equal(shown.at(-1), '* connection 1 closed');
    // No HTTP/1.1 line terminators are invented for HTTP/2.
    assert.ok(!shown.some((line) => line.includes('<CRLF>')));
  });

  test('onRequestHead, onResponseHead and onExchange see h2 streams; handlers see version 2', async () => {
    const events = new Collected<string>();
    const records: ExchangeRecord[] = [];
    const observer: WireObserver = {
      onConnectionOpen: (connection) => events.add(`open ${connection.protocol}`),
      onRequestHead: (_connection, head) => events.add(`request ${head.method} ${head.path} ${head.version}`),
      onResponseHead: (_connection, head, _body, request) =>
        events.add(`response ${head.split('\n')[0]} to stream ${request?.streamId}`),
      onExchange: (record) => records.push(record),
      onConnectionClose: (connection) => events.add(`close ${connection.protocol}`),
    };
    const docroot = await startDocroot({
      tls: { selfSigned: true },
      observer,
      cgi: { dir: 'cgi-bin', interpreters: { '.py': 'python3' } },
    });
    try {
      const answer = await h2Get(docroot.port, '/cgi-bin/env.py');
      assert.equal(answer.headers[':status'], 200);
      // The handler (here a CGI script's environment) is told the request came over HTTP/2.
      assert.equal(JSON.parse(answer.body.toString()).SERVER_PROTOCOL, 'HTTP/2.0');
      await events.until((all) => all.includes('close HTTP/2'));
    } finally {
      await docroot.close();
    }
    assert.deepEqual(events.items, [
      'open HTTP/2',
      'request GET /cgi-bin/env.py 2',
      'response :status: 200 to stream 1',
      'close HTTP/2',
    ]);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.protocol, 'HTTP/2');
    assert.equal(records[0]?.request?.version, '2');
    assert.equal(records[0]?.status, 200);
  });

  test('the 503 for a connection over --max-connections goes through the observer', async () => {
    const lines: string[] = [];
    const statuses: number[] = [];
    const trace = createTraceObserver({ writeLine: (line) => lines.push(line) });
    const docroot = await startDocroot({
      maxConnections: 1,
      observer: { ...trace, onExchange: (record) => statuses.push(record.status) },
    });
    try {
      const held = await connect(docroot.port);
      await waitUntil(() => docroot.server.wire.connectionCount === 1, 5_000);
      const refused = await exchange(docroot.port, get('/text.txt'), { waitForClose: true });
      assert.equal(refused.responses[0]?.status, 503);
      assert.match(
        refused.responses[0]!.body.toString(),
        /^503 Service Unavailable: the server is at its limit of 1 connections\n$/,
      );
      assert.equal(refused.responses[0]?.headers['x-content-type-options'], 'nosniff');
      assert.ok(refused.responses[0]?.headers.date !== undefined);
      held.destroy();
    } finally {
      await docroot.close();
    }
    assert.deepEqual(statuses, [503]);
    assert.ok(lines.includes('S (<--): HTTP/1.1 503 Service Unavailable<CRLF>'), lines.join('\n'));
  });

  test('curl --http2 against docroot --tls-self-signed --trace', { skip: curlSkip() }, async () => {
    const child = spawn(
      process.execPath,
      [CLI, FIXTURE_ROOT, '--port', '0', '--tls-self-signed', '--trace', '--log', 'off'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const match = /https:\/\/[^\s:]+:(\d+)/.exec(stdout);
          if (match) resolve(Number(match[1]));
        });
        child.once('exit', () => reject(new Error(`docroot exited: ${stderr}`)));
      });
      const curl = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const run = spawn('curl', ['-sk', '--http2', `https://127.0.0.1:${port}/text.txt`], {
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        let out = '';
        run.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        run.once('close', (code) => resolve({ code, out }));
      });
      assert.equal(curl.code, 0);
      assert.match(curl.out, /^Hello from a plain text file/);
      await new Promise<void>((resolve) => {
        const check = () => {
          if (/\[43 bytes of text\/plain\]/.test(stderr)) resolve();
          else child.stderr.once('data', check);
        };
        check();
      });
      assert.match(stderr, /\(HTTP\/2\)/);
      assert.match(stderr, /C \(-->\): :method: GET/);
      assert.match(stderr, /C \(-->\): :path: \/text\.txt/);
      assert.match(stderr, /C \(-->\): user-agent: curl\//);
      assert.match(stderr, /S \(<--\): :status: 200/);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

function curlSkip(): string | false {
  const probe = spawnSync('curl', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) return 'curl not installed';
  if (!/HTTP2/.test(probe.stdout)) return 'curl has no HTTP/2 support';
  return false;
}
