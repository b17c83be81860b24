/**
 * A raw HTTP/1.1 client for tests: writes exact bytes to a socket and parses what comes back without any
 * normalisation (fetch and node:http would hide exactly what these tests look at).
 */
import net from 'node:net';
import { DEFAULT_DEADLINE_MS } from './wait.js';

export interface RawResponse {
  version: string;
  status: number;
  reason: string;
  /** Lower-cased names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  /** Field lines as sent. */
  fieldLines: string[];
  head: string;
  body: Buffer;
}

export interface ExchangeResult {
  responses: RawResponse[];
  /** The server closed the connection. */
  closed: boolean;
  /** Everything received. */
  raw: Buffer;
  timedOut: boolean;
}

export interface ExchangeOptions {
  /** Responses to wait for before resolving (unless waitForClose). @default 1 */
  responses?: number;
  /** Indexes (0-based) of responses that have no body (answers to HEAD). */
  headResponses?: number[];
  /** Resolve only when the server closes the socket. */
  waitForClose?: boolean;
  /** Give up after this long and resolve with what arrived. @default DEFAULT_DEADLINE_MS */
  timeoutMs?: number;
  /** Write the request in pieces of this many bytes, one per event-loop turn. */
  splitEvery?: number;
  /** Disable Nagle, so that each piece of `splitEvery` leaves in its own segment. */
  noDelay?: boolean;
  host?: string;
}

/** Parses as many complete responses as `buf` holds; `closed` lets a close-delimited body complete. */
export function parseResponses(
  buf: Buffer,
  headResponses: number[] = [],
  closed = false,
): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const headEnd = buf.indexOf('\r\n\r\n', pos, 'latin1');
    if (headEnd === -1) break;
    const head = buf.toString('latin1', pos, headEnd);
    const [statusLine, ...fieldLines] = head.split('\r\n');
    const match = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(statusLine ?? '');
    if (!match) throw new Error(`not a status line: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const line of fieldLines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const status = Number(match[2]);
    let bodyStart = headEnd + 4;
    let body: Buffer;
    const noBody =
      headResponses.includes(responses.length) || status < 200 || status === 204 || status === 304;
    if (status >= 100 && status < 200) {
      responses.push({
        version: match[1]!,
        status,
        reason: match[3]!,
        headers,
        fieldLines,
        head,
        body: Buffer.alloc(0),
      });
      pos = bodyStart;
      continue;
    }
    if (noBody) {
      body = Buffer.alloc(0);
    } else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', p, 'latin1');
        if (lineEnd === -1) break;
        const size = Number.parseInt(buf.toString('latin1', p, lineEnd), 16);
        if (size === 0) {
          const end = buf.indexOf('\r\n\r\n', lineEnd, 'latin1');
          if (end === -1) break;
          p = end + 4;
          complete = true;
          break;
        }
        if (lineEnd + 2 + size + 2 > buf.length) break;
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      bodyStart = p;
      responses.push({ version: match[1]!, status, reason: match[3]!, headers, fieldLines, head, body });
      pos = bodyStart;
      continue;
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (bodyStart + length > buf.length) break;
      body = buf.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    } else {
      if (!closed) break;
      body = buf.subarray(bodyStart);
      bodyStart = buf.length;
    }
    responses.push({ version: match[1]!, status, reason: match[3]!, headers, fieldLines, head, body });
    pos = bodyStart;
  }
  return { responses, rest: buf.subarray(pos) };
}

/** Sends `data` and collects responses. */
export function exchange(
  port: number,
  data: string | Buffer,
  options: ExchangeOptions = {},
): Promise<ExchangeResult> {
  const want = options.responses ?? 1;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, options.host ?? '127.0.0.1');
    if (options.noDelay) socket.setNoDelay(true);
    const chunks: Buffer[] = [];
    let closed = false;
    let settled = false;
    const finish = (timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      try {
        const { responses } = parseResponses(raw, options.headResponses, closed);
        resolve({ responses, closed, raw, timedOut });
      } catch (error) {
        reject(error);
      }
      socket.destroy();
    };
    const timer = setTimeout(() => finish(true), options.timeoutMs ?? DEFAULT_DEADLINE_MS);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (options.waitForClose) return;
      const { responses } = parseResponses(Buffer.concat(chunks), options.headResponses, false);
      const finals = responses.filter((r) => r.status >= 200);
      if (finals.length >= want) finish(false);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      finish(false);
    });
    socket.on('connect', async () => {
      if (!options.splitEvery) {
        socket.write(bytes);
        return;
      }
      for (let i = 0; i < bytes.length && !socket.destroyed; i += options.splitEvery) {
        socket.write(bytes.subarray(i, i + options.splitEvery));
        await new Promise((r) => setImmediate(r));
      }
    });
  });
}

/** Opens a socket and resolves once connected. */
export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A GET request in origin-form with a Host field. */
export function get(path: string, extra = '', method = 'GET'): string {
  return `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n${extra}\r\n`;
}
