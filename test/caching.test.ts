/**
 * Issue 4 over real sockets: validators and conditional requests, ranges and multipart/byteranges,
 * compression (negotiated, precompressed, on the fly), the hot cache's freshness, and curl's resume.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { exchange, get, type RawResponse } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

const PAST = new Date('2024-03-01T12:00:00Z');
const zstdDecompress = (zlib as unknown as { zstdDecompressSync?: (b: Buffer) => Buffer }).zstdDecompressSync;

function makeText(lines: number, tag: string): string {
  let text = '';
  for (let i = 0; i < lines; i++) text += `${tag} line ${i} — some compressible text for docroot\n`;
  return text;
}

/** Splits a multipart/byteranges body into its parts (RFC 9110 §14.6). */
function parseMultipart(
  body: Buffer,
  contentType: string,
): Array<{ range: string; type: string; data: Buffer }> {
  const boundary = /boundary=([^;]+)/.exec(contentType)?.[1];
  assert.ok(boundary, 'multipart boundary');
  const text = body.toString('latin1');
  const sections = text.split(`--${boundary}`);
  assert.equal(sections.at(-1), '--\r\n', 'closing delimiter');
  return sections.slice(1, -1).map((section) => {
    const headEnd = section.indexOf('\r\n\r\n');
    const head = section.slice(2, headEnd);
    const data = Buffer.from(section.slice(headEnd + 4, -2), 'latin1');
    const fields = Object.fromEntries(
      head
        .split('\r\n')
        .map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
    );
    return { range: fields['content-range'] ?? '', type: fields['content-type'] ?? '', data };
  });
}

describe('caching, ranges and compression', () => {
  let dir: string;
  let docroot: RunningDocroot;
  let data: Buffer;
  let etag: string;
  let lastModified: string;

  const send = async (target: string, extra = '', method = 'GET'): Promise<RawResponse> => {
    const { responses } = await exchange(docroot.port, get(target, extra, method), {
      headResponses: method === 'HEAD' ? [0] : [],
    });
    assert.ok(responses[0], `a response for ${target}`);
    return responses[0];
  };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'docroot-caching-'));
    data = Buffer.alloc(10_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) % 251;
    writeFileSync(path.join(dir, 'data.bin'), data);
    utimesSync(path.join(dir, 'data.bin'), PAST, PAST);
    writeFileSync(path.join(dir, 'page.html'), `<!doctype html><title>p</title>${makeText(200, 'page')}`);
    writeFileSync(path.join(dir, 'large.txt'), makeText(12_000, 'large'));
    writeFileSync(path.join(dir, 'app.js'), makeText(100, 'identity'));
    writeFileSync(path.join(dir, 'app.js.gz'), zlib.gzipSync(makeText(100, 'from-the-sidecar')));
    writeFileSync(path.join(dir, 'stale.css'), makeText(100, 'fresh'));
    writeFileSync(path.join(dir, 'stale.css.br'), zlib.brotliCompressSync(makeText(100, 'stale-sidecar')));
    utimesSync(path.join(dir, 'stale.css.br'), PAST, PAST);
    writeFileSync(path.join(dir, 'empty.txt'), '');
    docroot = await startDocroot({ root: dir });
    const first = await send('/data.bin');
    etag = first.headers.etag!;
    lastModified = first.headers['last-modified']!;
  });
  after(async () => {
    await docroot.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('files carry a strong ETag, Last-Modified and Accept-Ranges', () => {
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.equal(lastModified, 'Fri, 01 Mar 2024 12:00:00 GMT');
  });

  const conditionals: Array<[string, () => string, number]> = [
    ['If-None-Match with the ETag', () => `If-None-Match: ${etag}\r\n`, 304],
    ['If-None-Match with the weak form of the ETag', () => `If-None-Match: W/${etag}\r\n`, 304],
    ['If-None-Match with a list containing the ETag', () => `If-None-Match: "x", ${etag}, "y"\r\n`, 304],
    ['If-None-Match: *', () => 'If-None-Match: *\r\n', 304],
    ['If-None-Match with another ETag', () => 'If-None-Match: "other"\r\n', 200],
    ['If-Modified-Since equal to Last-Modified', () => `If-Modified-Since: ${lastModified}\r\n`, 304],
    [
      'If-Modified-Since later than Last-Modified',
      () => 'If-Modified-Since: Sat, 02 Mar 2024 00:00:00 GMT\r\n',
      304,
    ],
    [
      'If-Modified-Since earlier than Last-Modified',
      () => 'If-Modified-Since: Thu, 29 Feb 2024 00:00:00 GMT\r\n',
      200,
    ],
    ['If-Modified-Since that is not a date', () => 'If-Modified-Since: yesterday\r\n', 200],
    [
      'If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)',
      () => `If-None-Match: "other"\r\nIf-Modified-Since: ${lastModified}\r\n`,
      200,
    ],
    ['If-Match with the ETag', () => `If-Match: ${etag}\r\n`, 200],
    ['If-Match: *', () => 'If-Match: *\r\n', 200],
    ['If-Match with another ETag', () => 'If-Match: "other"\r\n', 412],
    ['If-Match with the weak ETag (strong comparison fails)', () => `If-Match: W/${etag}\r\n`, 412],
    [
      'If-Unmodified-Since before Last-Modified',
      () => 'If-Unmodified-Since: Thu, 29 Feb 2024 00:00:00 GMT\r\n',
      412,
    ],
    [
      'If-Unmodified-Since after Last-Modified',
      () => 'If-Unmodified-Since: Sat, 02 Mar 2024 00:00:00 GMT\r\n',
      200,
    ],
    [
      'If-Match wins over If-Unmodified-Since',
      () => `If-Match: ${etag}\r\nIf-Unmodified-Since: Thu, 29 Feb 2024 00:00:00 GMT\r\n`,
      200,
    ],
  ];
  for (const [name, header, status] of conditionals) {
    test(`${name} → ${status}`, async () => {
      const r = await send('/data.bin', header());
      assert.equal(r.status, status);
      if (status === 304) {
        assert.equal(r.body.length, 0);
        assert.equal(r.headers.etag, etag);
        assert.equal(r.headers['content-length'], undefined);
        // RFC 9110 §15.4.5: no metadata of the body the client holds; Last-Modified only without an ETag.
        assert.equal(r.headers['last-modified'], undefined);
        assert.equal(r.headers['content-type'], undefined);
        assert.equal(r.headers['accept-ranges'], undefined);
      }
      if (status === 200) assert.deepEqual(r.body, data);
      if (status === 412) assert.match(r.body.toString(), /^412 Precondition Failed: /);
    });
  }

  test('HEAD answers 304 to a matching If-None-Match too', async () => {
    const r = await send('/data.bin', `If-None-Match: ${etag}\r\n`, 'HEAD');
    assert.equal(r.status, 304);
  });

  const singleRanges: Array<[string, number, number]> = [
    ['bytes=0-99', 0, 99],
    ['bytes=-500', 9500, 9999],
    ['bytes=100-', 100, 9999],
    ['bytes=9990-20000', 9990, 9999],
    ['bytes=0-0', 0, 0],
    ['bytes=-20000', 0, 9999],
    ['bytes=0-10, 5-20', 0, 20],
    ['bytes=0-,0-,0-', 0, 9999],
  ];
  for (const [range, start, end] of singleRanges) {
    test(`Range: ${range} → 206 bytes ${start}-${end}`, async () => {
      const r = await send('/data.bin', `Range: ${range}\r\n`);
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], `bytes ${start}-${end}/10000`);
      assert.equal(Number(r.headers['content-length']), end - start + 1);
      assert.deepEqual(r.body, data.subarray(start, end + 1));
    });
  }

  test('several ranges → multipart/byteranges whose parts equal the file bytes', async () => {
    const r = await send('/data.bin', 'Range: bytes=0-9, 100-199, -50\r\n');
    assert.equal(r.status, 206);
    assert.match(r.headers['content-type'] ?? '', /^multipart\/byteranges; boundary=/);
    assert.equal(Number(r.headers['content-length']), r.body.length);
    const parts = parseMultipart(r.body, r.headers['content-type']!);
    assert.deepEqual(
      parts.map((p) => p.range),
      ['bytes 0-9/10000', 'bytes 100-199/10000', 'bytes 9950-9999/10000'],
    );
    assert.deepEqual(parts[0]!.data, data.subarray(0, 10));
    assert.deepEqual(parts[1]!.data, data.subarray(100, 200));
    assert.deepEqual(parts[2]!.data, data.subarray(9950));
    assert.equal(parts[0]!.type, 'application/octet-stream');
  });

  const ignored = ['bytes=500-200', 'items=0-5', 'bytes=abc', 'bytes=0-1,,x'];
  for (const range of ignored) {
    test(`an invalid Range (${range}) is ignored: 200 with the whole file`, async () => {
      const r = await send('/data.bin', `Range: ${range}\r\n`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, data);
    });
  }

  test('an unsatisfiable range → 416 with Content-Range: bytes */size', async () => {
    const r = await send('/data.bin', 'Range: bytes=10000-\r\n');
    assert.equal(r.status, 416);
    assert.equal(r.headers['content-range'], 'bytes */10000');
    assert.match(r.body.toString(), /^416 Range Not Satisfiable: /);
  });

  test('a Range on an empty file is ignored', async () => {
    const r = await send('/empty.txt', 'Range: bytes=0-5\r\n');
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
  });

  test('If-Range with the current ETag honours the range; with another ETag sends everything', async () => {
    const honoured = await send('/data.bin', `Range: bytes=0-9\r\nIf-Range: ${etag}\r\n`);
    assert.equal(honoured.status, 206);
    const stale = await send('/data.bin', 'Range: bytes=0-9\r\nIf-Range: "old"\r\n');
    assert.equal(stale.status, 200);
    assert.deepEqual(stale.body, data);
  });

  test('If-Range with the Last-Modified date honours the range; another date does not', async () => {
    const honoured = await send('/data.bin', `Range: bytes=0-9\r\nIf-Range: ${lastModified}\r\n`);
    assert.equal(honoured.status, 206);
    const other = await send('/data.bin', 'Range: bytes=0-9\r\nIf-Range: Thu, 29 Feb 2024 00:00:00 GMT\r\n');
    assert.equal(other.status, 200);
  });

  const codings: Array<[string, (b: Buffer) => Buffer]> = [
    ['br', (b) => zlib.brotliDecompressSync(b)],
    ['gzip', (b) => zlib.gunzipSync(b)],
  ];
  if (zstdDecompress) codings.push(['zstd', zstdDecompress]);
  for (const file of ['page.html', 'large.txt']) {
    for (const [coding, decompress] of codings) {
      test(`${file} in ${coding} decompresses to the file (${file === 'large.txt' ? 'streamed' : 'cached'})`, async () => {
        const original = readFileSync(path.join(dir, file));
        const r = await send(`/${file}`, `Accept-Encoding: ${coding}\r\n`);
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-encoding'], coding);
        assert.equal(r.headers.vary, 'Accept-Encoding');
        assert.ok(r.body.length < original.length / 2, 'actually smaller');
        assert.deepEqual(decompress(r.body), original);
        const identity = await send(`/${file}`);
        assert.notEqual(r.headers.etag, identity.headers.etag, 'a compressed body has its own ETag');
        const revalidated = await send(
          `/${file}`,
          `Accept-Encoding: ${coding}\r\nIf-None-Match: ${r.headers.etag}\r\n`,
        );
        assert.equal(revalidated.status, 304);
      });
    }
  }

  test('q-values pick the encoding: gzip;q=1, br;q=0.5 → gzip', async () => {
    const r = await send('/page.html', 'Accept-Encoding: gzip;q=1, br;q=0.5\r\n');
    assert.equal(r.headers['content-encoding'], 'gzip');
  });

  test('identity when the client names nothing we have', async () => {
    const r = await send('/page.html', 'Accept-Encoding: compress\r\n');
    assert.equal(r.headers['content-encoding'], undefined);
  });

  test('a fresh precompressed sidecar is preferred over compressing on the fly', async () => {
    const r = await send('/app.js', 'Accept-Encoding: gzip\r\n');
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.match(zlib.gunzipSync(r.body).toString(), /^from-the-sidecar line 0/);
  });

  test('a sidecar older than its file is not served', async () => {
    const r = await send('/stale.css', 'Accept-Encoding: br\r\n');
    assert.equal(r.headers['content-encoding'], 'br');
    assert.match(zlib.brotliDecompressSync(r.body).toString(), /^fresh line 0/);
  });

  test('a range request is answered from the identity body even when compression is accepted', async () => {
    const r = await send('/large.txt', 'Accept-Encoding: gzip, br\r\nRange: bytes=0-4\r\n');
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.body.toString(), 'large');
  });

  test('binary types are not compressed', async () => {
    const r = await send('/data.bin', 'Accept-Encoding: gzip, br\r\n');
    assert.equal(r.headers['content-encoding'], undefined);
    assert.deepEqual(r.body, data);
  });

  test('an edited file is served fresh within a second', async (t) => {
    // The server's clock (Date.now) stands still unless the test moves it: the re-check is exact.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const file = path.join(dir, 'edited.txt');
    writeFileSync(file, 'version one');
    assert.equal((await send('/edited.txt')).body.toString(), 'version one');
    assert.equal((await send('/edited.txt')).body.toString(), 'version one');
    writeFileSync(file, 'version two');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    t.mock.timers.tick(999);
    assert.equal((await send('/edited.txt')).body.toString(), 'version one', 'trusted for a second');
    t.mock.timers.tick(2);
    assert.equal((await send('/edited.txt')).body.toString(), 'version two');
  });

  test('the Date field is rebuilt when the second changes, on the hot path too', async (t) => {
    writeFileSync(path.join(dir, 'hot.txt'), 'served from the hot cache');
    const start = Math.ceil(Date.now() / 1000) * 1000 + 100;
    t.mock.timers.enable({ apis: ['Date'], now: start });
    const dates = async () => {
      const { responses } = await exchange(
        docroot.port,
        get('/hot.txt') + get('/hot.txt') + get('/missing'),
        {
          responses: 3,
        },
      );
      return responses.map((r) => r.headers.date);
    };
    const first = new Date(start).toUTCString();
    assert.deepEqual(await dates(), [first, first, first]);
    t.mock.timers.tick(899);
    assert.deepEqual(await dates(), [first, first, first]);
    t.mock.timers.tick(1);
    const next = new Date(start + 900).toUTCString();
    assert.notEqual(next, first);
    assert.deepEqual(await dates(), [next, next, next]);
  });

  test("curl's --continue-at resumes a download", async () => {
    const out = path.join(dir, 'download.part');
    writeFileSync(out, data.subarray(0, 3000));
    // Asynchronously: the server runs in this process and must keep answering while curl waits.
    await promisify(execFile)('curl', [
      '-s',
      '-S',
      '-C',
      '-',
      '-o',
      out,
      `http://127.0.0.1:${docroot.port}/data.bin`,
    ]);
    assert.deepEqual(readFileSync(out), data);
  });
});

describe('compression switched off', () => {
  test('--no-compress sends identity', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'docroot-nocompress-'));
    writeFileSync(path.join(dir, 'a.txt'), makeText(100, 'a'));
    const docroot = await startDocroot({ root: dir, compress: false });
    const { responses } = await exchange(docroot.port, get('/a.txt', 'Accept-Encoding: gzip, br\r\n'));
    assert.equal(responses[0]?.headers['content-encoding'], undefined);
    assert.equal(responses[0]?.headers.vary, undefined);
    await docroot.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
