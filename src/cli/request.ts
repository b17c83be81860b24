/**
 * `docroot request <url>`: a raw HTTP client for looking at the protocol. It sends a composed request (or
 * the exact bytes of `--raw`, escapes understood) over a plain TCP socket and prints both directions in
 * the lecture's notation, until the server closes or the timeout passes. It works against any server,
 * which makes it the tool for trying malformed requests. No printing here: main.ts passes the writers.
 * @module
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { VERSION } from '../version.js';
import { contentTypeInHead, NotationFormatter } from '../wire/notation.js';

export const REQUEST_USAGE = `Usage: docroot request <url> [options]

Sends one HTTP/1.1 request over a plain TCP socket and prints what was sent (C (-->)) and what came
back (S (<--)), line by line with <CRLF> made visible, until the server closes or the timeout passes.

Options:
      --raw <bytes>          send exactly these bytes instead of a composed request; understands
                             \\r \\n \\t \\0 \\xHH and \\\\ (e.g. --raw 'GET / HTTP/1.0\\r\\n\\r\\n')
  -X, --method <m>           request method (default GET, or POST with --data)
  -H, --header <'N: v'>      add a header field (repeatable); 'Name:' with no value removes a
                             default field (e.g. -H 'Host:' to send no Host)
      --data <text>          request body (sent with Content-Length)
      --timeout <s>          seconds to wait for the server to close (default 10)
  -h, --help                 show this help

Exit code 0 when a response arrived, 1 when the connection failed or nothing came back.
`;

/** How long to wait for the server to finish, unless --timeout says otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_S = 10;
const MAX_REQUEST_TIMEOUT_S = 3600;
const HTTP_DEFAULT_PORT = 80;

const REQUEST_FLAGS = {
  raw: { type: 'string' },
  method: { type: 'string', short: 'X' },
  header: { type: 'string', short: 'H', multiple: true },
  data: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface RequestPlan {
  host: string;
  port: number;
  /** The bytes to send. */
  bytes: Buffer;
  /** Where the head ends in `bytes` (composed requests), so the body can be shown as a body; null for raw. */
  headLength: number | null;
  /**
   * The method of each request sent, in order, so the answer to a HEAD is known to have no body whatever
   * its Content-Length says (for --raw, read from its request lines).
   */
  methods: string[];
  timeoutMs: number;
}

export type RequestCommand =
  | { kind: 'help' }
  | { kind: 'error'; message: string }
  | { kind: 'request'; plan: RequestPlan };

export interface RequestIo {
  /** Standard output. */
  out(text: string): void;
  /** One line of error (main.ts adds the `docroot: ` prefix and newline). */
  error(message: string): void;
  color: boolean;
}

export function parseRequestCommand(argv: readonly string[]): RequestCommand {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof REQUEST_FLAGS; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({ args: [...argv], options: REQUEST_FLAGS, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    return { kind: 'error', message: `${message} (see docroot request --help)` };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (positionals.length !== 1) {
    return {
      kind: 'error',
      message: 'docroot request needs one URL, e.g. docroot request http://localhost:8080/',
    };
  }
  const text = positionals[0]!;
  let url: URL;
  try {
    url = new URL(text.includes('://') ? text : `http://${text}`);
  } catch {
    return { kind: 'error', message: `not a URL: "${text}"` };
  }
  if (url.protocol !== 'http:') {
    return { kind: 'error', message: `only http:// URLs are supported, got ${url.protocol}//` };
  }

  let timeoutS = DEFAULT_REQUEST_TIMEOUT_S;
  if (values.timeout !== undefined) {
    timeoutS = Number(values.timeout);
    if (!(timeoutS > 0 && timeoutS <= MAX_REQUEST_TIMEOUT_S)) {
      return {
        kind: 'error',
        message: `--timeout needs seconds between 0 and ${MAX_REQUEST_TIMEOUT_S}, got "${values.timeout}"`,
      };
    }
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? HTTP_DEFAULT_PORT : Number(url.port);
  const timeoutMs = Math.round(timeoutS * 1000);

  if (values.raw !== undefined) {
    if (values.method !== undefined || values.header !== undefined || values.data !== undefined) {
      return {
        kind: 'error',
        message: '--raw sends its bytes as they are; it cannot be combined with -X, -H or --data',
      };
    }
    let bytes: Buffer;
    try {
      bytes = unescapeRaw(values.raw);
    } catch (error) {
      return { kind: 'error', message: (error as Error).message };
    }
    const methods = [...bytes.toString('latin1').matchAll(REQUEST_LINE)].map((match) => match[1]!);
    return { kind: 'request', plan: { host, port, bytes, headLength: null, methods, timeoutMs } };
  }

  const method = values.method ?? (values.data !== undefined ? 'POST' : 'GET');
  const fields = new Map<string, [string, string]>();
  const setField = (name: string, value: string) => fields.set(name.toLowerCase(), [name, value]);
  setField('Host', url.host);
  setField('User-Agent', `docroot/${VERSION}`);
  setField('Connection', 'close');
  const body = values.data === undefined ? null : Buffer.from(values.data, 'utf8');
  if (body !== null) setField('Content-Length', String(body.length));
  for (const field of values.header ?? []) {
    const colon = field.indexOf(':');
    if (colon <= 0) return { kind: 'error', message: `-H needs 'Name: value', got "${field}"` };
    const name = field.slice(0, colon).trim();
    const value = field.slice(colon + 1).trim();
    if (value === '') fields.delete(name.toLowerCase());
    else setField(name, value);
  }
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\n`;
  for (const [name, value] of fields.values()) head += `${name}: ${value}\r\n`;
  head += '\r\n';
  const headBytes = Buffer.from(head, 'latin1');
  return {
    kind: 'request',
    plan: {
      host,
      port,
      bytes: body === null ? headBytes : Buffer.concat([headBytes, body]),
      headLength: headBytes.length,
      methods: [method],
      timeoutMs,
    },
  };
}

/** A request line anywhere in raw bytes (pipelined requests), for knowing which answers are to HEAD. */
const REQUEST_LINE = /(?:^|\n)([!#$%&'*+.^_`|~0-9A-Za-z-]+) [^ \r\n]+ HTTP\/\d\.\d\r?\n/g;

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { r: 0x0d, n: 0x0a, t: 0x09, '0': 0x00, '\\': 0x5c };

/** `--raw` text → bytes: `\r \n \t \0 \xHH \\` are escapes; other text is sent as UTF-8. */
export function unescapeRaw(text: string): Buffer {
  const parts: Buffer[] = [];
  let literalStart = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '\\') continue;
    parts.push(Buffer.from(text.slice(literalStart, i), 'utf8'));
    const next = text[i + 1];
    if (next === undefined) throw new Error('--raw ends with a lone backslash (write \\\\ for one)');
    const simple = SIMPLE_ESCAPES[next];
    if (simple !== undefined) {
      parts.push(Buffer.of(simple));
      i += 1;
    } else if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
      parts.push(Buffer.of(Number.parseInt(text.slice(i + 2, i + 4), 16)));
      i += 3;
    } else {
      throw new Error(`--raw has an unknown escape \\${next} (known: \\r \\n \\t \\0 \\xHH \\\\)`);
    }
    literalStart = i + 1;
  }
  parts.push(Buffer.from(text.slice(literalStart), 'utf8'));
  return Buffer.concat(parts);
}

/** One response cut out of the received bytes, for display. */
export interface ReceivedResponse {
  /** The head including its terminating empty line, one character per byte. */
  head: string;
  /** The body as it was on the wire (chunked framing included). */
  body: Buffer;
}

/**
 * Cuts the first complete response from `buf`: the head up to the empty line, then a body framed by
 * status, HEAD, `Transfer-Encoding: chunked`, `Content-Length`, or the close. Returns null while more bytes
 * are needed, and when the bytes are not an HTTP response at all (they are then shown as they are).
 */
export function takeResponse(
  buf: Buffer,
  closed: boolean,
  isHead: boolean,
): { response: ReceivedResponse; consumed: number } | null {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  let headEnd: number;
  if (crlf !== -1 && (lf === -1 || crlf < lf)) headEnd = crlf + 4;
  else if (lf !== -1) headEnd = lf + 2;
  else return null;
  const head = buf.toString('latin1', 0, headEnd);
  const status = /^HTTP\/\d\.\d (\d{3})/.exec(head);
  if (status === null) return null;
  const code = Number(status[1]);
  const done = (bodyEnd: number) => ({
    response: { head, body: buf.subarray(headEnd, bodyEnd) },
    consumed: bodyEnd,
  });
  if (code < 200 || code === 204 || code === 304 || isHead) return done(headEnd);
  if (/(?:^|\n)transfer-encoding:[^\r\n]*chunked/i.test(head)) {
    const end = chunkedBodyEnd(buf, headEnd);
    if (end !== null) return done(end);
    return closed ? done(buf.length) : null;
  }
  const length = /(?:^|\n)content-length:[ \t]*(\d+)/i.exec(head);
  if (length !== null) {
    const end = headEnd + Number(length[1]);
    if (end <= buf.length) return done(end);
    return closed ? done(buf.length) : null;
  }
  return closed ? done(buf.length) : null;
}

/** Where a chunked body that starts at `start` ends (after its trailer section), or null if incomplete. */
function chunkedBodyEnd(buf: Buffer, start: number): number | null {
  let pos = start;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', pos);
    if (lineEnd === -1) return null;
    const size = Number.parseInt(buf.toString('latin1', pos, lineEnd), 16);
    if (Number.isNaN(size)) return null;
    if (size === 0) {
      // Trailer fields, then an empty line.
      let trailer = lineEnd + 2;
      for (;;) {
        const end = buf.indexOf('\r\n', trailer);
        if (end === -1) return null;
        if (end === trailer) return end + 2;
        trailer = end + 2;
      }
    }
    pos = lineEnd + 2 + size + 2;
    if (pos > buf.length) return null;
  }
}

export async function runRequestCommand(argv: readonly string[], io: RequestIo): Promise<number> {
  const command = parseRequestCommand(argv);
  if (command.kind === 'help') {
    io.out(REQUEST_USAGE);
    return 0;
  }
  if (command.kind === 'error') {
    io.error(command.message);
    return 1;
  }
  return sendAndShow(command.plan, io);
}

function sendAndShow(plan: RequestPlan, io: RequestIo): Promise<number> {
  const format = new NotationFormatter(io.color);
  const print = (lines: readonly string[]) => {
    if (lines.length > 0) io.out(`${lines.join('\n')}\n`);
  };
  const where = `${plan.host.includes(':') ? `[${plan.host}]` : plan.host}:${plan.port}`;

  return new Promise((resolve) => {
    const socket = net.connect({ host: plan.host, port: plan.port });
    let received: Buffer = Buffer.alloc(0);
    let anyResponse = false;
    let connected = false;
    let settled = false;
    let finalResponses = 0;

    /** Prints every complete response in `received`, or everything left when the connection is over. */
    const showReceived = (closed: boolean) => {
      for (;;) {
        const taken = takeResponse(received, closed, plan.methods[finalResponses] === 'HEAD');
        if (taken === null) break;
        const { head, body } = taken.response;
        if (!/^HTTP\/\d\.\d 1\d\d/.test(head)) finalResponses++;
        anyResponse = true;
        print(format.protocolLines('server', head));
        print(format.body('server', body, contentTypeInHead(head)));
        received = received.subarray(taken.consumed);
        if (received.length === 0) break;
      }
      if (closed && received.length > 0) {
        // Not (or not all) an HTTP response: show the bytes as they are.
        anyResponse = true;
        print(format.body('server', received, undefined));
        received = Buffer.alloc(0);
      }
    };

    const finish = (code: number, event: string | null, error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (connected) showReceived(true);
      if (event !== null) print([format.event(event)]);
      if (error !== null) io.error(error);
      socket.destroy();
      resolve(code);
    };

    const timer = setTimeout(() => {
      const seconds = plan.timeoutMs / 1000;
      if (!connected) finish(1, null, `cannot connect to ${where}: no answer within ${seconds} s`);
      else if (anyResponse || received.length > 0)
        finish(0, `no more bytes within ${seconds} s; closing the connection`, null);
      else finish(1, null, `no response from ${where} within ${seconds} s`);
    }, plan.timeoutMs);

    socket.on('connect', () => {
      connected = true;
      print([format.event(`connected to ${where}`)]);
      socket.write(plan.bytes);
      if (plan.headLength === null) {
        print(format.protocolLines('client', plan.bytes.toString('latin1')));
      } else {
        print(format.protocolLines('client', plan.bytes.toString('latin1', 0, plan.headLength)));
        print(format.body('client', plan.bytes.subarray(plan.headLength), undefined));
      }
    });
    socket.on('data', (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      showReceived(false);
    });
    socket.on('end', () => {
      const got = anyResponse || received.length > 0;
      finish(
        got ? 0 : 1,
        'connection closed by the server',
        got ? null : `${where} closed the connection without a response`,
      );
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected) {
        finish(1, null, `cannot connect to ${where}: ${error.code ?? error.message}`);
        return;
      }
      const got = anyResponse || received.length > 0;
      finish(
        got ? 0 : 1,
        `connection error: ${error.code ?? error.message}`,
        got ? null : `connection to ${where} failed: ${error.code ?? error.message}`,
      );
    });
  });
}
