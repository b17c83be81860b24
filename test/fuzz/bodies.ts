/**
 * Body fuzzing: a grammar of multipart/form-data bodies (odd boundaries, part heads with NUL/CR/LF, huge
 * heads, many parts, boundary fragments inside content, truncation and insertions anywhere), sent with
 * Content-Length or chunked framing (random chunk sizes, extensions, sometimes broken chunk lines) to the
 * upload and CGI paths of a docroot in a child process, over HTTP/1.1 and HTTP/2. The properties: the
 * process survives, a canary request is answered after every case, and a client's fault never gets a 5xx.
 * Used by `test/fuzz-bodies.test.ts` (a bounded number of runs) and `npm run fuzz` (for as long as asked).
 * @module
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import fc from 'fast-check';
import { type ChildServer, startChildServer } from '../helpers/load.js';
import { parseResponses } from '../helpers/raw-client.js';
import { FIXTURE_ROOT } from '../helpers/servers.js';

export type Transport = 'h1' | 'h2';

export interface BodyCase {
  transport: Transport;
  target: string;
  contentType: string;
  body: Buffer;
  /** HTTP/1.1 only: chunk sizes (chunked framing), or null for Content-Length. */
  chunks: number[] | null;
  /** HTTP/1.1 chunked only: a chunk line that breaks the framing, inserted before this chunk. */
  brokenChunkLineAt: number | null;
}

export const UPLOAD_TARGET = '/inbox/';
export const CGI_TARGET = '/cgi-bin/echo.py';

const BOUNDARIES = [
  'XyZ',
  'b',
  '----WebKitFormBoundary7MA4YWxkTrZu0gW',
  'a'.repeat(70),
  'a'.repeat(300),
  '--',
  'with space',
  '=?x?=',
];

const boundary = fc.constantFrom(...BOUNDARIES);

/** The Content-Type a form is sent with: right, quoted, odd, or missing its boundary. */
function contentTypeFor(b: string): fc.Arbitrary<string> {
  return fc.constantFrom(
    `multipart/form-data; boundary=${b}`,
    `multipart/form-data; boundary="${b}"`,
    `Multipart/Form-Data;boundary=${b};charset=utf-8`,
    `multipart/form-data; boundary=${b}; boundary=other`,
    'multipart/form-data',
    'multipart/form-data; boundary=',
    'multipart/form-data; boundary="unterminated',
    `multipart/mixed; boundary=${b}`,
  );
}

const fileName = fc.oneof(
  fc.constantFrom('a.txt', 'report.pdf', '../../etc/passwd', '', '.hidden', 'x\u0000y', 'C:\\x\\y.txt'),
  fc.constantFrom('é.txt', '"quoted".txt', 'semi;colon.txt', 'n'.repeat(300)),
  fc.string({ maxLength: 20 }),
);

const headLine = fc.oneof(
  {
    weight: 4,
    arbitrary: fileName.map((name) => `Content-Disposition: form-data; name="f"; filename="${name}"`),
  },
  { weight: 1, arbitrary: fc.constant('Content-Disposition: form-data; name="field"') },
  {
    weight: 1,
    arbitrary: fileName.map((name) => `Content-Disposition: form-data; name="f"; filename*=UTF-8''${name}`),
  },
  { weight: 1, arbitrary: fc.constant('Content-Type: text/plain') },
  { weight: 1, arbitrary: fc.constant('no colon here') },
  { weight: 1, arbitrary: fc.constant(`X-Huge: ${'h'.repeat(20_000)}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('A\u0000B: c', 'A: b\rc', 'A: b\nc', ': empty name', 'Folded:\r\n continued'),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

function contentFor(b: string): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)) },
    { weight: 1, arbitrary: fc.nat({ max: 300_000 }).map((n) => Buffer.alloc(n, 0x41)) },
    {
      weight: 2,
      arbitrary: fc
        .array(fc.constantFrom('\r\n', `--${b}`, `\r\n--${b}`, `\r\n--${b}--`, '\u0000', '\r', '\n', 'x'), {
          maxLength: 12,
        })
        .map((pieces) => Buffer.from(pieces.join(''), 'latin1')),
    },
  );
}

const part = (b: string) => fc.record({ head: fc.array(headLine, { maxLength: 4 }), content: contentFor(b) });

/** Bytes put in at a random place: the ones parsers trip on. */
const insertion = fc.record({
  at: fc.nat(),
  bytes: fc.constantFrom(
    '\u0000',
    '\r',
    '\n',
    '\r\n',
    '\r\n\r\n',
    '--',
    '--XyZ',
    '\r\n--XyZ--\r\n',
    '\u00ff',
  ),
});

/** A multipart body and its Content-Type. */
export const multipartBody: fc.Arbitrary<{ contentType: string; body: Buffer }> = boundary.chain((b) =>
  fc
    .record({
      contentType: contentTypeFor(b),
      parts: fc.oneof(
        { weight: 5, arbitrary: fc.array(part(b), { maxLength: 6 }) },
        // Many parts.
        {
          weight: 1,
          arbitrary: fc.nat({ max: 1500 }).map((n) =>
            Array.from({ length: n }, () => ({
              head: ['Content-Disposition: form-data; name="k"'],
              content: Buffer.from('v'),
            })),
          ),
        },
      ),
      preamble: fc.constantFrom('', 'preamble\r\n', '\r\n'),
      closed: fc.boolean(),
      truncateAt: fc.option(fc.nat(), { freq: 3 }),
      insertions: fc.array(insertion, { maxLength: 3 }),
    })
    .map(({ contentType, parts, preamble, closed, truncateAt, insertions }) => {
      const pieces: Buffer[] = [Buffer.from(preamble, 'latin1')];
      for (const { head, content } of parts) {
        pieces.push(Buffer.from(`--${b}\r\n${head.map((line) => `${line}\r\n`).join('')}\r\n`, 'latin1'));
        pieces.push(content, Buffer.from('\r\n', 'latin1'));
      }
      if (closed) pieces.push(Buffer.from(`--${b}--\r\n`, 'latin1'));
      let body = Buffer.concat(pieces);
      for (const { at, bytes } of insertions) {
        const where = body.length === 0 ? 0 : at % (body.length + 1);
        body = Buffer.concat([body.subarray(0, where), Buffer.from(bytes, 'latin1'), body.subarray(where)]);
      }
      if (truncateAt !== null)
        body = body.subarray(0, body.length === 0 ? 0 : truncateAt % (body.length + 1));
      return { contentType, body };
    }),
);

export const bodyCase: fc.Arbitrary<BodyCase> = fc
  .record({
    transport: fc.constantFrom<Transport>('h1', 'h1', 'h2'),
    target: fc.constantFrom(UPLOAD_TARGET, UPLOAD_TARGET, UPLOAD_TARGET, CGI_TARGET),
    form: multipartBody,
    chunked: fc.boolean(),
    chunkSizes: fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }),
    brokenChunkLineAt: fc.option(fc.nat({ max: 5 }), { freq: 6 }),
  })
  .map(({ transport, target, form, chunked, chunkSizes, brokenChunkLineAt }) => ({
    transport,
    target,
    contentType: form.contentType,
    body: form.body,
    chunks: transport === 'h1' && chunked ? chunkSizes : null,
    brokenChunkLineAt: transport === 'h1' && chunked ? brokenChunkLineAt : null,
  }));

/** The HTTP/1.1 request bytes of a case: head, then the body framed by Content-Length or in chunks. */
export function requestBytes(c: BodyCase): Buffer {
  const framing = c.chunks === null ? `Content-Length: ${c.body.length}` : 'Transfer-Encoding: chunked';
  const head = Buffer.from(
    `POST ${c.target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${c.contentType.replace(/[\r\n\u0000]/g, ' ')}\r\n${framing}\r\nConnection: close\r\n\r\n`,
    'latin1',
  );
  if (c.chunks === null) return Buffer.concat([head, c.body]);
  const pieces: Buffer[] = [head];
  let at = 0;
  let index = 0;
  while (at < c.body.length) {
    const size = Math.min(c.chunks[index % c.chunks.length]!, c.body.length - at);
    if (c.brokenChunkLineAt === index) pieces.push(Buffer.from('zz;\r\n', 'latin1'));
    const extension = index % 3 === 1 ? ';name=value' : '';
    pieces.push(
      Buffer.from(`${size.toString(16)}${extension}\r\n`, 'latin1'),
      c.body.subarray(at, at + size),
    );
    pieces.push(Buffer.from('\r\n', 'latin1'));
    at += size;
    index++;
  }
  pieces.push(Buffer.from('0\r\n\r\n', 'latin1'));
  return Buffer.concat(pieces);
}

export interface CaseOutcome {
  /** The final status, or 0 when the connection or stream ended without one. */
  status: number;
  /** How an HTTP/2 stream ended without a status (its RST_STREAM code, the session's state), for the report. */
  detail?: string;
  /** Neither an answer nor a close within the time allowed. */
  timedOut: boolean;
}

/** Sends a case over HTTP/1.1 on TLS (ALPN http/1.1) and waits for the server to close. */
export function sendOverH1(port: number, c: BodyCase, timeoutMs: number): Promise<CaseOutcome> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      port,
      host: '127.0.0.1',
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const received: Buffer[] = [];
    let settled = false;
    const finish = (timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      let status = 0;
      try {
        status =
          parseResponses(Buffer.concat(received), [], true).responses.find((r) => r.status >= 200)?.status ??
          0;
      } catch {
        status = -1;
      }
      resolve({ status, timedOut });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('secureConnect', () => socket.write(requestBytes(c)));
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => finish(false));
  });
}

/** Sends a case on a new stream of `session` and waits for the stream to close. */
export function sendOverH2(
  session: http2.ClientHttp2Session,
  c: BodyCase,
  timeoutMs: number,
): Promise<CaseOutcome> {
  return new Promise((resolve) => {
    let status = 0;
    let settled = false;
    const finish = (timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const detail =
        status === 0
          ? `stream closed with code ${stream.rstCode}; session ${session.closed ? 'closed' : 'open'}${session.destroyed ? ', destroyed' : ''}`
          : undefined;
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      resolve({ status, timedOut, ...(detail === undefined ? {} : { detail }) });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    const stream = session.request({
      ':method': 'POST',
      ':path': c.target,
      // node:http2 refuses control characters in field values; the wire's own check is fuzzed over h1.
      'content-type': c.contentType.replace(/[\u0000-\u001f\u007f]/g, ' '),
    });
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    stream.on('data', () => {});
    stream.on('error', () => {});
    stream.on('close', () => finish(false));
    stream.end(c.body);
  });
}

/** Opens an HTTP/2 session to the test server (self-signed certificate). */
export function connectH2(port: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://localhost:${port}`, { rejectUnauthorized: false });
  session.on('error', () => {});
  return new Promise((resolve, reject) => {
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

/** GET of the canary file over a new HTTP/1.1 connection: its status (200 expected). */
export async function canaryStatus(port: number): Promise<number> {
  const outcome = await new Promise<number>((resolve) => {
    const socket = tls.connect({
      port,
      host: '127.0.0.1',
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const received: Buffer[] = [];
    socket.on('secureConnect', () =>
      socket.write('GET /canary.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
    );
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      try {
        resolve(parseResponses(Buffer.concat(received), [], true).responses[0]?.status ?? 0);
      } catch {
        resolve(-1);
      }
    });
  });
  return outcome;
}

/** A docroot in a child process with uploads and CGI on, over TLS (h1 and h2), and a canary file. */
export async function startBodyFuzzServer(): Promise<{
  server: ChildServer;
  root: string;
  cgi: boolean;
  stop(): Promise<void>;
}> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'docroot-fuzz-bodies-'));
  mkdirSync(path.join(root, 'inbox'));
  mkdirSync(path.join(root, 'cgi-bin'));
  writeFileSync(path.join(root, 'canary.txt'), 'alive');
  copyFileSync(path.join(FIXTURE_ROOT, 'cgi-bin', 'echo.py'), path.join(root, 'cgi-bin', 'echo.py'));
  const cgi = spawnSync('python3', ['--version']).error === undefined;
  const server = await startChildServer({
    root,
    upload: { maxBytes: 1 << 20 },
    cgi: { timeoutMs: 10_000 },
    tls: { selfSigned: true },
    limits: { bodyTimeoutMs: 2_000 },
  });
  return {
    server,
    root,
    cgi,
    async stop() {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export { fc };
