/**
 * Malformed multipart/form-data against `--upload`, in a child process so a crash shows as an exit: each
 * variant gets a 400 with a one-line reason (never a 5xx, never the end of the process), the temporary
 * files of the failed request are removed, and a canary GET is answered afterwards. Over HTTP/1.1 and
 * HTTP/2.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ChildServer, startChildServer } from './helpers/load.js';
import { parseResponses } from './helpers/raw-client.js';

const BOUNDARY = 'XyZ';
const FORM_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;
const filePart = (name: string) =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="${name}"\r\n\r\n`;

/** Bodies that are not well-formed multipart/form-data, each with the Content-Type it is sent with. */
export const MALFORMED_FORMS: ReadonlyArray<{ name: string; type: string; body: Buffer }> = [
  {
    name: 'part head without a colon (the issue)',
    type: FORM_TYPE,
    body: b('--XyZ\r\nbad\r\n\r\nx\r\n--XyZ--\r\n'),
  },
  { name: 'no closing delimiter', type: FORM_TYPE, body: b(`${filePart('a.txt')}abc`) },
  { name: 'cut inside a part head', type: FORM_TYPE, body: b('--XyZ\r\nContent-Disposition: form-da') },
  { name: 'empty body', type: FORM_TYPE, body: b('') },
  { name: 'preamble only', type: FORM_TYPE, body: b('just some text, no delimiter at all\r\n') },
  {
    name: 'a part head larger than any parser keeps',
    type: FORM_TYPE,
    body: b(`--XyZ\r\nX-Long: ${'a'.repeat(100_000)}\r\n\r\nx\r\n--XyZ--\r\n`),
  },
  {
    name: 'NUL and bare CR/LF in a part head',
    type: FORM_TYPE,
    body: b('--XyZ\r\nA\0B: c\rd\ne\r\n\r\nx\r\n--XyZ--\r\n'),
  },
  { name: 'no boundary parameter', type: 'multipart/form-data; charset=utf-8', body: b('--XyZ--\r\n') },
  { name: 'empty boundary', type: 'multipart/form-data; boundary=', body: b('--\r\n\r\n----\r\n') },
  {
    name: 'a large file part cut off (its temporary file must go)',
    type: FORM_TYPE,
    body: Buffer.concat([b(filePart('big.bin')), Buffer.alloc(300_000, 0x41)]),
  },
  {
    // busboy 1.6 starts such a part and never ends it: the request used to wait forever.
    name: 'a file part after the closing delimiter',
    type: FORM_TYPE,
    body: Buffer.concat([
      b(`--XyZ\r\nA: b\r\n\r\n\r\n--XyZ--\r\n--XyZ\r\n${filePart('late.txt')}`),
      Buffer.alloc(200_000, 0x41),
      b('\r\n--XyZ--\r\n'),
    ]),
  },
  {
    name: 'a good part, then a malformed one',
    type: FORM_TYPE,
    body: b(`${filePart('ok.txt')}fine\r\n--XyZ\r\nbroken head\r\n\r\nx\r\n--XyZ--\r\n`),
  },
];

function b(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

function tempFilesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.name.startsWith('.docroot-upload-')) found.push(path.join(entry.parentPath, entry.name));
  }
  return found;
}

describe('malformed forms never take the server down', () => {
  let root: string;
  let server: ChildServer;
  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'docroot-forms-'));
    mkdirSync(path.join(root, 'inbox'));
    writeFileSync(path.join(root, 'canary.txt'), 'alive');
    server = await startChildServer({ root, upload: { maxBytes: 1 << 20 }, tls: { selfSigned: true } });
  });
  after(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function canary(): Promise<void> {
    assert.equal(server.child.exitCode, null, 'the server process exited');
    const session = await h2Session(server.port);
    try {
      const answer = await h2Request(session, { ':path': '/canary.txt' });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.toString(), 'alive');
    } finally {
      session.close();
    }
  }

  for (const form of MALFORMED_FORMS) {
    test(`HTTP/1.1: ${form.name} → 400 with one line`, async () => {
      const result = await tlsExchange(server.port, form.type, form.body);
      const response = result.responses[0];
      assert.ok(response, `no response: ${result.raw.toString('latin1').slice(0, 200)}`);
      assert.equal(response.status, 400, response.body.toString());
      assert.match(response.body.toString(), /^400 Bad Request: [^\n]+\n$/);
      await canary();
      assert.deepEqual(tempFilesUnder(root), []);
    });
  }

  test('HTTP/2: every malformed form gets 400 on its stream; the session and the process go on', async () => {
    const session = await h2Session(server.port);
    try {
      for (const form of MALFORMED_FORMS) {
        const answer = await h2Request(
          session,
          { ':method': 'POST', ':path': '/inbox/', 'content-type': form.type },
          form.body,
        );
        assert.equal(answer.status, 400, `${form.name}: ${answer.body.toString()}`);
      }
      const alive = await h2Request(session, { ':path': '/canary.txt' });
      assert.equal(alive.status, 200);
    } finally {
      session.close();
    }
    await canary();
    assert.deepEqual(tempFilesUnder(root), []);
  });
});

/** The HTTP/1.1 exchange over TLS (the child serves HTTPS so that both versions share one process). */
async function tlsExchange(port: number, type: string, body: Buffer) {
  const tls = await import('node:tls');
  const head = `POST /inbox/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  return new Promise<ReturnType<typeof parseResponses> & { raw: Buffer }>((resolve, reject) => {
    const socket = tls.connect({
      port,
      host: '127.0.0.1',
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const chunks: Buffer[] = [];
    socket.on('secureConnect', () => socket.write(Buffer.concat([b(head), body])));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      const raw = Buffer.concat(chunks);
      try {
        resolve({ ...parseResponses(raw, [], true), raw });
      } catch (error) {
        reject(error);
      }
    });
  });
}

export function h2Session(port: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://localhost:${port}`, {
    rejectUnauthorized: false,
    host: '127.0.0.1',
  });
  session.on('error', () => {});
  return new Promise((resolve, reject) => {
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on('response', (fields) => {
      status = Number(fields[':status']);
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A reset after a complete response (RST_STREAM NO_ERROR to stop the upload) keeps the response.
    stream.on('close', () =>
      status === 0
        ? reject(new Error('stream closed without a response'))
        : resolve({ status, body: Buffer.concat(chunks) }),
    );
    stream.on('error', () => {});
    if (body !== undefined) stream.end(body);
  });
}
