/**
 * The handler chain without sockets: built by buildHandlerChain and called with requests parsed by the
 * wire's own head parser, the way the connection calls it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { buildHandlerChain, type HandlerChain } from '../src/handler-chain.js';
import { type AuthRule, parseAuthRule } from '../src/handlers/auth-rules.js';
import { resolveRoot, type ServerOptions } from '../src/server.js';
import { DEFAULT_LIMITS } from '../src/wire/limits.js';
import type { HttpRequest, ResponseDescription } from '../src/wire/message.js';
import { parseRequestHead } from '../src/wire/parser.js';
import { FIXTURE_ROOT } from './helpers/servers.js';

/** Raw head bytes → the HttpRequest the connection would hand the handler (no body). */
function parsedRequest(head: string, remoteAddress = '127.0.0.1'): HttpRequest {
  const result = parseRequestHead(Buffer.from(head, 'latin1'), DEFAULT_LIMITS);
  assert.equal(result.kind, 'complete', `the head did not parse: ${JSON.stringify(result)}`);
  const parsed = (result as Extract<typeof result, { kind: 'complete' }>).head;
  return {
    method: parsed.method,
    target: parsed.target,
    path: parsed.path,
    query: parsed.query,
    version: parsed.version,
    headers: parsed.headers,
    rawHeaders: parsed.rawHeaders,
    body: null,
    contentLength: null,
    authority: parsed.authority,
    remoteAddress,
    remotePort: 50_000,
    localAddress: '127.0.0.1',
    localPort: 8080,
    secure: false,
  };
}

function get(path: string, ...fields: string[]): HttpRequest {
  return parsedRequest(
    `GET ${path} HTTP/1.1\r\nHost: localhost:8080\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`,
  );
}

async function bodyText(response: ResponseDescription): Promise<string> {
  const body = response.body;
  if (body === undefined || body === null) return '';
  if (body.kind === 'bytes') return Buffer.from(body.data).toString('utf8');
  if (body.kind === 'file')
    return readFileSync(body.path)
      .subarray(body.start, body.end + 1)
      .toString('utf8');
  if (body.kind === 'stream') {
    const chunks: Buffer[] = [];
    for await (const chunk of body.stream) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks).toString('utf8');
  }
  return '';
}

/** A response field by its name in any case. */
function field(response: ResponseDescription, name: string): unknown {
  const key = Object.keys(response.headers ?? {}).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : response.headers?.[key];
}

const chains: HandlerChain[] = [];
function chain(options: ServerOptions): HandlerChain {
  const built = buildHandlerChain(options, {
    root: resolveRoot(FIXTURE_ROOT),
    serverSoftware: 'docroot/test',
    logError: (error, context) => assert.fail(`${context}: ${String(error)}`),
    connections: () => 3,
    startedAt: () => Date.now(),
  });
  chains.push(built);
  return built;
}
after(() => Promise.all(chains.map((built) => built.close())));

const BASIC_ADMIN = `Authorization: Basic ${Buffer.from('admin:secret').toString('base64')}`;

describe('the handler chain, called without a socket', () => {
  test('files: a parsed GET is answered by the file handler', async () => {
    const response = await chain({}).handler(get('/text.txt'));
    assert.equal(response.status, 200);
    assert.equal(await bodyText(response), readFileSync(`${FIXTURE_ROOT}text.txt`, 'utf8'));
  });

  test('health → auth → files, each layer in its place', async () => {
    const { handler } = chain({ auth: [parsedRule('admin:secret@/:rw')] });
    // The health check is outside the access rules: a probe carries no credentials.
    const health = await handler(get('/.well-known/docroot/health'));
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(await bodyText(health)).connections, 3);
    // Inside them: a file needs the password, and is served with it.
    assert.equal((await handler(get('/text.txt'))).status, 401);
    assert.equal((await handler(get('/text.txt', BASIC_ADMIN))).status, 200);
  });

  test('the origin guard comes before the access rules: a rebound Host gets 421, not a login prompt', async () => {
    const { handler } = chain({ auth: [parsedRule('admin:secret@/:rw')] });
    const rebound = parsedRequest('GET /text.txt HTTP/1.1\r\nHost: evil.example\r\n\r\n');
    assert.equal((await handler(rebound)).status, 421);
  });

  test('live reload wraps the file handler: HTML pages get the script, the event path answers', async () => {
    const { handler, liveReload } = chain({ watch: true });
    assert.ok(liveReload !== null);
    const page = await bodyText(await handler(get('/a_web_page.html')));
    assert.match(page, /\/\.well-known\/docroot\/livereload/);
    const events = await handler(get('/.well-known/docroot/livereload', 'Accept: text/event-stream'));
    assert.equal(events.status, 200);
    assert.match(String(field(events, 'content-type')), /^text\/event-stream/);
    liveReload.closeAll();
  });

  test('the metrics endpoint sits inside the chain and counts', async () => {
    const { handler, metrics } = chain({ metrics: { path: '/metrics' } });
    assert.ok(metrics !== null);
    const response = await handler(get('/metrics'));
    assert.equal(response.status, 200);
    assert.match(await bodyText(response), /docroot_/);
  });

  test('CGI and write hooks are hooked into the file handler (loaded on first use)', async () => {
    const { handler } = chain({ cgi: { dir: 'cgi-bin' }, upload: {} });
    // OPTIONS lists what the hooks added: the upload and WebDAV methods.
    const options = await handler(parsedRequest('OPTIONS /docs/ HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    const allow = String(field(options, 'allow'));
    for (const method of ['PUT', 'DELETE', 'MKCOL', 'PROPFIND', 'LOCK'])
      assert.match(allow, new RegExp(method));
    assert.equal(field(options, 'dav'), '1, 2');
  });

  test('with metrics on, OPTIONS still says DAV (the counting write hook keeps its OPTIONS fields)', async () => {
    const { handler } = chain({ upload: {}, metrics: { path: '/metrics' } });
    const options = await handler(parsedRequest('OPTIONS / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    assert.equal(field(options, 'dav'), '1, 2');
    assert.equal(field(options, 'ms-author-via'), 'DAV');
  });

  test('a trusted proxy’s forwarded client reaches the wire’s handler, not the plain one', async () => {
    const built = chain({ trustProxy: ['loopback'] });
    assert.notEqual(built.handlerForWire, built.handler);
    const request = get('/text.txt', 'X-Forwarded-For: 192.0.2.9');
    await built.handlerForWire(request);
    assert.equal(request.remoteAddress, '192.0.2.9');
  });

  test('proxy routes go upstream; other paths stay with the files', async () => {
    const built = chain({ proxy: { routes: ['/api=http://127.0.0.1:9'] } });
    assert.equal(built.proxying, true);
    assert.equal((await built.handler(get('/text.txt'))).status, 200);
  });
});

function parsedRule(text: string): AuthRule {
  const rule = parseAuthRule(text);
  assert.ok(typeof rule !== 'string', String(rule));
  return rule;
}
