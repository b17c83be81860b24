/**
 * Issue 8: the trace (exact lines for a known exchange), the access-log formats, observers combined, and
 * the buffered sink.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAccessLogObserver } from '../src/wire/access-log.js';
import { createBufferedLineSink } from '../src/wire/buffered-sink.js';
import { NotationFormatter } from '../src/wire/notation.js';
import type { WireObserver } from '../src/wire/observer.js';
import { combineObservers } from '../src/wire/observers.js';
import { createTraceObserver } from '../src/wire/trace.js';
import { connect, exchange, get } from './helpers/raw-client.js';
import { readAll, startDocroot, startWire } from './helpers/servers.js';
import { waitFor } from './helpers/wait.js';

/** Resolves once `lines` has a line matching `pattern` (the close is reported after the client sees it). */
async function waitForLine(lines: string[], pattern: RegExp): Promise<void> {
  await waitFor(() => lines.some((line) => pattern.test(line)), `a trace line matching ${pattern}`);
}

/** Masks the values that change from run to run: dates, validators and the client's port. */
function mask(line: string): string {
  return line
    .replace(/(Date|Last-Modified): [^<]*/, '$1: <masked>')
    .replace(/ETag: "[^"]*"/, 'ETag: <masked>')
    .replace(/from 127\.0\.0\.1:\d+/, 'from 127.0.0.1:<port>');
}

describe('--trace', () => {
  test('prints a keep-alive exchange line by line, the cached path like any other', async () => {
    const lines: string[] = [];
    const docroot = await startDocroot({
      observer: createTraceObserver({ writeLine: (l) => lines.push(l) }),
    });
    try {
      // The second GET of a small file is answered from the hot cache with a prepared header block.
      const result = await exchange(
        docroot.port,
        `${get('/text.txt')}${get('/text.txt', 'Connection: close\r\n')}`,
        { waitForClose: true },
      );
      assert.equal(result.responses.length, 2);
      await waitForLine(lines, /closed$/);
    } finally {
      await docroot.close();
    }
    const responseHead = (connectionClose: boolean) => [
      'S (<--): HTTP/1.1 200 OK<CRLF>',
      'S (<--): Date: <masked><CRLF>',
      'S (<--): Server: docroot/0.1.0<CRLF>',
      'S (<--): Content-Type: text/plain; charset=utf-8<CRLF>',
      'S (<--): Last-Modified: <masked><CRLF>',
      'S (<--): ETag: <masked><CRLF>',
      'S (<--): Accept-Ranges: bytes<CRLF>',
      'S (<--): X-Content-Type-Options: nosniff<CRLF>',
      'S (<--): Vary: Accept-Encoding<CRLF>',
      'S (<--): Content-Length: 43<CRLF>',
      ...(connectionClose ? ['S (<--): Connection: close<CRLF>'] : []),
      'S (<--): <CRLF>',
      'S (<--): [43 bytes of text/plain]',
    ];
    assert.deepEqual(
      lines.map(mask).map((line) => line.replace(/docroot\/\d+\.\d+\.\d+/, 'docroot/0.1.0')),
      [
        '* connection 1 opened from 127.0.0.1:<port>',
        'C (-->): GET /text.txt HTTP/1.1<CRLF>',
        'C (-->): Host: localhost<CRLF>',
        'C (-->): <CRLF>',
        ...responseHead(false),
        '* connection 1 reused for request 2 (keep-alive)',
        'C (-->): GET /text.txt HTTP/1.1<CRLF>',
        'C (-->): Host: localhost<CRLF>',
        'C (-->): Connection: close<CRLF>',
        'C (-->): <CRLF>',
        ...responseHead(true),
        '* connection 1 closed',
      ],
    );
  });

  test('summarises request bodies, omits bodies of HEAD and 304, and notes malformed heads', async () => {
    const lines: string[] = [];
    const docroot = await startDocroot({
      observer: createTraceObserver({ writeLine: (l) => lines.push(l) }),
    });
    try {
      await exchange(docroot.port, 'POST /text.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
      await exchange(docroot.port, get('/text.txt', '', 'HEAD'), { headResponses: [0] });
      await exchange(docroot.port, 'GET /text.txt HTTP/1.1\nHost: x\n\n', { waitForClose: true });
      await waitForLine(lines, /connection 3 closed/);
    } finally {
      await docroot.close();
    }
    assert.ok(lines.includes('C (-->): [5 bytes]'), lines.join('\n'));
    const afterHead = lines.slice(lines.indexOf('C (-->): HEAD /text.txt HTTP/1.1<CRLF>'));
    const headBlockEnd = afterHead.indexOf('S (<--): <CRLF>');
    assert.doesNotMatch(afterHead[headBlockEnd + 1] ?? '', /^S \(<--\): \[/, 'no body summary for HEAD');
    assert.ok(
      lines.includes('* connection 3: no valid request head (BAD_REQUEST_LINE); answering with an error'),
    );
    assert.ok(lines.includes('S (<--): HTTP/1.1 400 Bad Request<CRLF>'));
  });

  test('traces an interim 100 Continue before the final response of the same request', async () => {
    const lines: string[] = [];
    const server = await startWire(
      async (request) => ({
        status: 200,
        body: { kind: 'bytes', data: String((await readAll(request)).length) },
      }),
      {},
      { observer: createTraceObserver({ writeLine: (l) => lines.push(l) }) },
    );
    try {
      const socket = await connect(server.port);
      const received: Buffer[] = [];
      socket.on('data', (d) => received.push(d));
      socket.write('PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n');
      await waitFor(() => Buffer.concat(received).toString().includes('100 Continue'), '100 Continue');
      socket.write('abc');
      await waitFor(() => Buffer.concat(received).toString().includes('200 OK'), 'the final response');
      socket.destroy();
    } finally {
      await server.close();
    }
    const interim = lines.indexOf('S (<--): HTTP/1.1 100 Continue<CRLF>');
    const final = lines.indexOf('S (<--): HTTP/1.1 200 OK<CRLF>');
    assert.ok(interim !== -1 && final > interim, lines.join('\n'));
    assert.ok(!lines.some((line) => line.includes('no valid request head')), lines.join('\n'));
  });

  test('colour only when asked, and line endings other than CRLF are named', () => {
    const plain = new NotationFormatter(false);
    assert.deepEqual(plain.protocolLines('client', 'GET / HTTP/1.1\nHost: a\r\x01\r\n\r\n'), [
      'C (-->): GET / HTTP/1.1<LF>',
      'C (-->): Host: a<CR>',
      'C (-->): \\x01<CRLF>',
      'C (-->): <CRLF>',
    ]);
    assert.deepEqual(plain.body('server', Buffer.from([0, 1, 2, 255]), 'image/png'), [
      'S (<--): [4 bytes of image/png]',
    ]);
    const coloured = new NotationFormatter(true).protocolLines('server', 'HTTP/1.1 200 OK\r\n');
    assert.match(coloured[0] ?? '', /\x1b\[/);
  });
});

describe('access logs', () => {
  async function logLines(format: 'common' | 'combined' | 'json' | 'dev', color = false): Promise<string[]> {
    const lines: string[] = [];
    const docroot = await startDocroot({
      observer: createAccessLogObserver({ format, writeLine: (l) => lines.push(l), color }),
    });
    try {
      await exchange(
        docroot.port,
        get('/text.txt', 'Referer: http://example.test/from\r\nUser-Agent: test "agent"\r\n'),
      );
      await exchange(docroot.port, get('/missing'));
      await exchange(docroot.port, 'BAD\r\n\r\n', { waitForClose: true });
      await waitFor(() => lines.length >= 3, 'three access-log lines');
    } finally {
      await docroot.close();
    }
    assert.equal(lines.length, 3, lines.join('\n'));
    return lines;
  }

  const CLF_DATE = String.raw`\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\]`;

  test('common: Apache common log format plus milliseconds', async () => {
    const [ok, missing, bad] = await logLines('common');
    assert.match(
      ok!,
      new RegExp(String.raw`^127\.0\.0\.1 - - ${CLF_DATE} "GET /text\.txt HTTP/1\.1" 200 43 \d+$`),
    );
    assert.match(
      missing!,
      new RegExp(String.raw`^127\.0\.0\.1 - - ${CLF_DATE} "GET /missing HTTP/1\.1" 404 \d+ \d+$`),
    );
    assert.match(bad!, new RegExp(String.raw`^127\.0\.0\.1 - - ${CLF_DATE} "-" 400 \d+ \d+ BAD_METHOD$`));
  });

  test('combined: adds Referer and User-Agent, escaped', async () => {
    const [ok, , bad] = await logLines('combined');
    assert.match(
      ok!,
      new RegExp(
        String.raw`^127\.0\.0\.1 - - ${CLF_DATE} "GET /text\.txt HTTP/1\.1" 200 43 "http://example\.test/from" "test \\"agent\\"" \d+$`,
      ),
    );
    assert.match(bad!, /"-" 400 \d+ "-" "-" \d+ BAD_METHOD$/);
  });

  test('json: one object per line', async () => {
    const [ok, , bad] = (await logLines('json')).map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(ok!.method, 'GET');
    assert.equal(ok!.target, '/text.txt');
    assert.equal(ok!.version, 'HTTP/1.1');
    assert.equal(ok!.status, 200);
    assert.equal(ok!.bytes, 43);
    assert.equal(ok!.host, 'localhost');
    assert.equal(ok!.referer, 'http://example.test/from');
    assert.equal(ok!.userAgent, 'test "agent"');
    assert.equal(ok!.remoteAddress, '127.0.0.1');
    assert.equal(typeof ok!.durationMs, 'number');
    assert.match(String(ok!.time), /^\d{4}-\d{2}-\d{2}T/);
    assert.equal(ok!.error, null);
    assert.equal(bad!.method, null);
    assert.equal(bad!.status, 400);
    assert.equal(bad!.error, 'BAD_METHOD');
  });

  test('dev: method, path, status, size, time; coloured status only with colour', async () => {
    const [ok, missing, bad] = await logLines('dev');
    assert.match(ok!, /^GET \/text\.txt 200 43 B \d+ ms$/);
    assert.match(missing!, /^GET \/missing 404 \d+ B \d+ ms$/);
    assert.match(bad!, /^- - 400 \d+ B \d+ ms BAD_METHOD$/);
    const [colouredOk] = await logLines('dev', true);
    assert.match(colouredOk!, /^GET \/text\.txt \x1b\[32m200\x1b\[0m 43 B \d+ ms$/);
  });
});

describe('observer plumbing', () => {
  test('combineObservers calls each observer in order and keeps absent hooks absent', () => {
    const calls: string[] = [];
    const first: WireObserver = { onExchange: () => calls.push('first') };
    const second: WireObserver = { onExchange: () => calls.push('second'), onConnectionOpen: () => {} };
    const combined = combineObservers(first, undefined, second)!;
    combined.onExchange?.({
      request: null,
      status: 400,
      bytesSent: 0,
      startedAt: 0,
      finishedAt: 0,
      remoteAddress: '',
    });
    assert.deepEqual(calls, ['first', 'second']);
    assert.equal(combined.onRequestHead, undefined);
    assert.equal(combineObservers(first), first);
    assert.equal(combineObservers(), undefined);
  });

  test('the buffered sink writes in batches: on size, on its timer, and on close', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const writes: string[] = [];
    const sink = createBufferedLineSink((text) => writes.push(text), {
      maxBufferedChars: 20,
      flushIntervalMs: 20,
    });
    sink.writeLine('one');
    sink.writeLine('two');
    assert.deepEqual(writes, []);
    sink.writeLine('a line long enough');
    assert.deepEqual(writes, ['one\ntwo\na line long enough\n']);
    sink.writeLine('later');
    t.mock.timers.tick(19);
    assert.deepEqual(writes.at(-1), 'one\ntwo\na line long enough\n', 'not before its interval');
    t.mock.timers.tick(1);
    assert.deepEqual(writes.at(-1), 'later\n');
    sink.writeLine('last');
    sink.close();
    assert.deepEqual(writes.at(-1), 'last\n');
  });
});
