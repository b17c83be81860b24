/**
 * Issue 12: one response model for every transport. The same cases run against docroot's HTTP/1.1 wire,
 * HTTP/2, node:http and Express, each with the same handler: every transport must give the expected
 * answer, and they must agree with each other (status, the fields that carry meaning, the body). A
 * transport that differs fails here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { FIXTURE_ROOT } from '../helpers/servers.js';
import {
  type ContractRequest,
  type ContractResponse,
  type ContractTransports,
  CRLF_FIELD_PATH,
  startContractTransports,
  THROWING_PATH,
  TRANSPORTS,
  type TransportName,
  VANISHED_PATH,
} from './transports.js';

const TEXT = readFileSync(`${FIXTURE_ROOT}text.txt`);
const LOGO = readFileSync(`${FIXTURE_ROOT}images/logo.png`);
const BIG = readFileSync(`${FIXTURE_ROOT}docs/big.txt`);

/** Fields compared across transports when present; the rest (Date's value, framing) may differ in form. */
const COMPARED_FIELDS = [
  'content-type',
  'content-encoding',
  'content-range',
  'etag',
  'last-modified',
  'vary',
  'accept-ranges',
  'cache-control',
  'x-content-type-options',
  'retry-after',
];

let transports: ContractTransports;

before(async () => {
  transports = await startContractTransports();
});
after(async () => {
  await transports.close();
});

/** The request on every transport; checks Server and Date on each answer; returns the answers by transport. */
async function onEveryTransport(request: ContractRequest): Promise<Record<TransportName, ContractResponse>> {
  const answers = {} as Record<TransportName, ContractResponse>;
  for (const transport of TRANSPORTS) {
    const answer = await transports.request(transport, request);
    assert.match(answer.headers.server ?? '', /^docroot\//, `${transport}: Server on ${request.path}`);
    assert.ok(
      !Number.isNaN(Date.parse(answer.headers.date ?? '')),
      `${transport}: Date on ${request.path}: ${answer.headers.date}`,
    );
    answers[transport] = answer;
  }
  return answers;
}

/** What must be the same whatever the transport. */
function comparable(answer: ContractResponse, body: (bytes: Buffer) => unknown) {
  const fields: Record<string, string> = {};
  for (const name of COMPARED_FIELDS) {
    const value = answer.headers[name];
    // A multipart boundary is made per response.
    if (value !== undefined) fields[name] = value.replace(/boundary=[0-9a-f]+/, 'boundary=<boundary>');
  }
  return { status: answer.status, fields, body: body(answer.body) };
}

/** Asserts that every transport agrees with the HTTP/1.1 wire, then runs `check` on each answer. */
async function contract(
  request: ContractRequest,
  check: (answer: ContractResponse, transport: TransportName) => void,
  body: (bytes: Buffer) => unknown = (bytes) => bytes.toString('latin1'),
): Promise<void> {
  const answers = await onEveryTransport(request);
  for (const transport of TRANSPORTS) check(answers[transport], transport);
  const reference = comparable(answers['http/1.1'], body);
  for (const transport of TRANSPORTS) {
    assert.deepEqual(
      comparable(answers[transport], body),
      reference,
      `${transport} differs from the HTTP/1.1 wire`,
    );
  }
}

/** A multipart body's boundary differs per response; the parts must not. */
function withoutBoundary(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/[0-9a-f]{16,}/g, '<boundary>');
}

describe('the response contract on every transport', () => {
  test('HEAD: the length a GET would get, no body (cached and file bodies)', async () => {
    for (const [path, size] of [
      ['/text.txt', TEXT.length],
      ['/images/logo.png', LOGO.length],
    ] as const) {
      await contract({ method: 'HEAD', path }, (answer, transport) => {
        assert.equal(answer.status, 200, transport);
        assert.equal(answer.headers['content-length'], String(size), `${transport} ${path}`);
        assert.equal(answer.body.length, 0, transport);
      });
    }
  });

  test('304 for If-None-Match with the ETag, with the validators and no body', async () => {
    for (const path of ['/text.txt', '/images/logo.png']) {
      const first = await transports.request('http/1.1', { path });
      const etag = first.headers.etag!;
      await contract({ path, headers: { 'If-None-Match': etag } }, (answer, transport) => {
        assert.equal(answer.status, 304, `${transport} ${path}`);
        assert.equal(answer.headers.etag, etag, transport);
        assert.equal(answer.headers['content-length'], undefined, transport);
        assert.equal(answer.body.length, 0, transport);
      });
    }
  });

  test('206 for one range, 416 beyond the end, multipart/byteranges for two', async () => {
    await contract({ path: '/images/logo.png', headers: { Range: 'bytes=0-9' } }, (answer, transport) => {
      assert.equal(answer.status, 206, transport);
      assert.equal(answer.headers['content-range'], `bytes 0-9/${LOGO.length}`, transport);
      assert.deepEqual(answer.body, LOGO.subarray(0, 10), transport);
    });
    await contract({ path: '/text.txt', headers: { Range: 'bytes=100-200' } }, (answer, transport) => {
      assert.equal(answer.status, 416, transport);
      assert.equal(answer.headers['content-range'], `bytes */${TEXT.length}`, transport);
      assert.match(answer.body.toString(), /^416 Range Not Satisfiable: /, transport);
    });
    await contract(
      { path: '/images/logo.png', headers: { Range: 'bytes=0-1,4-5' } },
      (answer, transport) => {
        assert.equal(answer.status, 206, transport);
        assert.match(answer.headers['content-type'] ?? '', /^multipart\/byteranges; boundary=/, transport);
        const body = answer.body.toString('latin1');
        assert.ok(body.includes(`Content-Range: bytes 0-1/${LOGO.length}`), transport);
        assert.ok(body.includes(`Content-Range: bytes 4-5/${LOGO.length}`), transport);
      },
      withoutBoundary,
    );
  });

  test('compression: gzip when asked for, with Vary and the coding in the ETag', async () => {
    await contract(
      { path: '/docs/big.txt', headers: { 'Accept-Encoding': 'gzip' } },
      (answer, transport) => {
        assert.equal(answer.status, 200, transport);
        assert.equal(answer.headers['content-encoding'], 'gzip', transport);
        assert.equal(answer.headers.vary, 'Accept-Encoding', transport);
        assert.match(answer.headers.etag ?? '', /-gzip"$/, transport);
        assert.deepEqual(gunzipSync(answer.body), BIG, transport);
      },
      (bytes) => gunzipSync(bytes).length,
    );
    await contract(
      { path: '/docs/big.txt' },
      (answer, transport) => {
        assert.equal(answer.headers['content-encoding'], undefined, transport);
        assert.equal(answer.headers.vary, 'Accept-Encoding', transport);
        assert.equal(answer.body.length, BIG.length, transport);
      },
      (bytes) => bytes.length,
    );
  });

  test('a file that vanished between stat and open is a 404 with one line, before any head', async () => {
    await contract({ path: VANISHED_PATH }, (answer, transport) => {
      assert.equal(answer.status, 404, transport);
      assert.equal(answer.body.toString(), '404 Not Found: the file could not be opened\n', transport);
      assert.equal(answer.headers['x-content-type-options'], 'nosniff', transport);
    });
  });

  test('a handler that throws is a 500 with one line, for that request only', async () => {
    await contract({ path: THROWING_PATH }, (answer, transport) => {
      assert.equal(answer.status, 500, transport);
      assert.equal(
        answer.body.toString(),
        '500 Internal Server Error: the server failed while handling this request (details are in the server log)\n',
        transport,
      );
    });
    // Browsers get the same line as a page.
    await contract({ path: THROWING_PATH, headers: { Accept: 'text/html' } }, (answer, transport) => {
      assert.equal(answer.status, 500, transport);
      assert.match(answer.headers['content-type'] ?? '', /^text\/html/, transport);
    });
  });

  test('a handler field with CR/LF is refused: a 500, never a split response', async () => {
    await contract({ path: CRLF_FIELD_PATH }, (answer, transport) => {
      assert.equal(answer.status, 500, transport);
      assert.equal(answer.headers.injected, undefined, transport);
      assert.equal(answer.headers['x-split'], undefined, transport);
      assert.equal(
        answer.body.toString(),
        '500 Internal Server Error: the server built an invalid response (details are in the server log)\n',
        transport,
      );
    });
  });

  test('a hot-cache hit answers like the first request', async () => {
    const first = await onEveryTransport({ path: '/text.txt' });
    await contract({ path: '/text.txt' }, (answer, transport) => {
      assert.equal(answer.status, 200, transport);
      assert.deepEqual(answer.body, TEXT, transport);
      assert.equal(answer.headers['content-length'], String(TEXT.length), transport);
      assert.equal(answer.headers.etag, first[transport].headers.etag, transport);
    });
  });

  test('a listing', async () => {
    await contract({ path: '/images/', headers: { Accept: 'text/plain' } }, (answer, transport) => {
      assert.equal(answer.status, 200, transport);
      assert.match(answer.headers['content-type'] ?? '', /^text\/plain/, transport);
      assert.match(answer.body.toString(), /logo\.png/, transport);
      assert.match(answer.body.toString(), /photo\.jpg/, transport);
    });
  });

  test('a CGI response', { skip: python3Skip() }, async () => {
    await contract({ path: '/cgi-bin/hello.py' }, (answer, transport) => {
      assert.equal(answer.status, 200, transport);
      assert.match(answer.headers['content-type'] ?? '', /^text\/plain/, transport);
      assert.equal(answer.body.toString(), 'Hello from CGI\n', transport);
    });
  });
});

function python3Skip(): string | false {
  return spawnSync('python3', ['--version']).status === 0 ? false : 'python3 not installed';
}
