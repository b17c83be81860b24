/**
 * A request body that stops arriving is its own error: `408` with the code `BODY_TIMEOUT` (not the
 * head timeout's `HEADERS_TIMEOUT`), carried in the exchange record, the access log and `--trace`.
 * The clients here send a head with `Content-Length`, part of the content, and then nothing more.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { createAccessLogObserver } from '../src/wire/access-log.js';
import type { ExchangeRecord } from '../src/wire/observer.js';
import { combineObservers } from '../src/wire/observers.js';
import { createTraceObserver } from '../src/wire/trace.js';
import { exchange } from './helpers/raw-client.js';
import { echoHandler, type RunningWire, startWire } from './helpers/servers.js';
import { nextEvent, waitFor } from './helpers/wait.js';

/** Short, so that a stall is declared quickly; the tests wait for the answer, never for the clock. */
const BODY_TIMEOUT_MS = 150;

describe('a stalled request body', () => {
  let server: RunningWire;
  const records: ExchangeRecord[] = [];
  const commonLines: string[] = [];
  const jsonLines: string[] = [];
  const devLines: string[] = [];
  const traceLines: string[] = [];

  before(async () => {
    server = await startWire(
      echoHandler,
      { bodyTimeoutMs: BODY_TIMEOUT_MS, headersTimeoutMs: BODY_TIMEOUT_MS },
      {
        observer: combineObservers(
          { onExchange: (record) => records.push(record) },
          createAccessLogObserver({ format: 'common', writeLine: (l) => commonLines.push(l) }),
          createAccessLogObserver({ format: 'json', writeLine: (l) => jsonLines.push(l) }),
          createAccessLogObserver({ format: 'dev', writeLine: (l) => devLines.push(l) }),
          createTraceObserver({ writeLine: (l) => traceLines.push(l) }),
        ),
      },
    );
  });
  after(() => server.close());

  test('is answered 408 with BODY_TIMEOUT in the record, every log format and the trace', async () => {
    const first = records.length;
    const { responses, closed } = await exchange(
      server.port,
      'PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc',
      { waitForClose: true },
    );
    assert.equal(responses[0]?.status, 408);
    assert.match(
      responses[0]?.body.toString() ?? '',
      new RegExp(`the request body stalled for ${BODY_TIMEOUT_MS} ms`),
    );
    assert.ok(closed, 'the connection is closed after the 408');

    await waitFor(() => records.length > first, 'the exchange record');
    const record = records[first]!;
    assert.equal(record.errorCode, 'BODY_TIMEOUT');
    assert.equal(record.status, 408);
    assert.equal(record.request?.target, '/upload', 'the head was parsed: the record names the request');

    assert.match(commonLines.at(-1)!, /"PUT \/upload HTTP\/1\.1" 408 \d+ \d+ BODY_TIMEOUT$/);
    assert.match(devLines.at(-1)!, /^PUT \/upload 408 \d+ B \d+ ms BODY_TIMEOUT$/);
    const json = JSON.parse(jsonLines.at(-1)!) as Record<string, unknown>;
    assert.equal(json.error, 'BODY_TIMEOUT');
    assert.equal(json.status, 408);

    const put = traceLines.lastIndexOf('C (-->): PUT /upload HTTP/1.1<CRLF>');
    const after = traceLines.slice(put);
    const note = after.findIndex((line) =>
      /: the request body failed \(BODY_TIMEOUT\); answering/.test(line),
    );
    const status = after.indexOf('S (<--): HTTP/1.1 408 Request Timeout<CRLF>');
    assert.ok(put !== -1 && note !== -1 && status > note, traceLines.join('\n'));
  });

  test('a stalled head keeps its own code, HEADERS_TIMEOUT, in the log and the trace', async () => {
    const first = records.length;
    const { responses } = await exchange(server.port, 'PUT /upload HTTP/1.1\r\nHost: x\r\n', {
      waitForClose: true,
    });
    assert.equal(responses[0]?.status, 408);
    await waitFor(() => records.length > first, 'the exchange record');
    assert.equal(records[first]?.errorCode, 'HEADERS_TIMEOUT');
    assert.match(commonLines.at(-1)!, /"-" 408 \d+ \d+ HEADERS_TIMEOUT$/);
    assert.ok(
      traceLines.some((line) => /: no valid request head \(HEADERS_TIMEOUT\); answering/.test(line)),
      traceLines.join('\n'),
    );
  });

  test('an exchange without a protocol error has no code anywhere', async () => {
    const first = records.length;
    const { responses } = await exchange(
      server.port,
      'PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc',
      { waitForClose: true },
    );
    assert.equal(responses[0]?.status, 200);
    await waitFor(() => records.length > first, 'the exchange record');
    assert.equal(records[first]?.errorCode, undefined);
    assert.match(commonLines.at(-1)!, /"PUT \/upload HTTP\/1\.1" 200 \d+ \d+$/);
    assert.match(devLines.at(-1)!, / ms$/);
    assert.equal((JSON.parse(jsonLines.at(-1)!) as Record<string, unknown>).error, null);
  });

  test("Python's http.client sending 3 of 10 announced bytes gets the 408", {
    skip: pythonSkip(),
  }, async () => {
    const first = records.length;
    // CPython's own HTTP client: a head with Content-Length: 10, three bytes, then it waits for the answer.
    const client = spawn('python3', [
      '-c',
      [
        'import http.client, sys',
        `c = http.client.HTTPConnection('127.0.0.1', ${server.port})`,
        "c.putrequest('PUT', '/upload')",
        "c.putheader('Content-Length', '10')",
        'c.endheaders()',
        "c.send(b'abc')",
        'r = c.getresponse()',
        "sys.stdout.write('%d %s' % (r.status, r.read().decode()))",
      ].join('\n'),
    ]);
    try {
      let out = '';
      client.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      const [code] = await nextEvent(client, 'close', 'python3 to finish');
      assert.equal(code, 0);
      assert.match(out, /^408 .*the request body stalled for \d+ ms/);
    } finally {
      client.kill();
    }
    await waitFor(() => records.length > first, 'the exchange record');
    assert.equal(records[first]?.errorCode, 'BODY_TIMEOUT');
    assert.match(commonLines.at(-1)!, /"PUT \/upload HTTP\/1\.1" 408 \d+ \d+ BODY_TIMEOUT$/);
  });
});

function pythonSkip(): string | false {
  return spawnSync('python3', ['--version']).status === 0 ? false : 'python3 not installed';
}
