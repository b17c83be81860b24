/**
 * The proxy handler: a request under a `--proxy` prefix goes to its upstream through `UpstreamClient`,
 * and the answer comes back as an ordinary `ResponseDescription` (a streamed body, or a 101 that hands
 * the socket to a tunnel). Loaded by `server.ts` with the first request that matches a route.
 * @module
 */
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { errorResponse } from '../handlers/errors.js';
import type { HttpRequest, ResponseDescription } from '../wire/message.js';
import {
  type FieldPolicy,
  forwardRequestFields,
  forwardResponseHeaders,
  isUpgradeRequest,
} from './fields.js';
import { hasDotSegment, type ProxyRoute, upstreamTarget } from './routes.js';
import { UpstreamClient, UpstreamError, type UpstreamResponse } from './upstream.js';

export interface ProxyHandlerOptions extends FieldPolicy {
  /** Milliseconds to connect, to wait for a response head, and that a body may stall (504 before the head). */
  timeoutMs: number;
  /** Accept self-signed certificates from https:// upstreams. */
  insecure: boolean;
  /** One line per failure (the CLI prints it to stderr). */
  log: (line: string) => void;
  /** Sees each head sent to and received from an upstream (`--trace`). */
  onUpstreamHead?: ((route: ProxyRoute, direction: 'request' | 'response', head: string) => void) | undefined;
}

export interface ProxyHandler {
  handle(request: HttpRequest, route: ProxyRoute): Promise<ResponseDescription>;
  /** Closes idle upstream connections. */
  close(): void;
}

export function createProxyHandler(options: ProxyHandlerOptions): ProxyHandler {
  const trace = options.onUpstreamHead;
  const client = new UpstreamClient({
    timeoutMs: options.timeoutMs,
    insecure: options.insecure,
    log: options.log,
  });

  const fail = (request: HttpRequest, route: ProxyRoute, status: number, reason: string) => {
    options.log(`${request.method} ${request.target} → ${route.origin}: ${status} ${reason}`);
    return errorResponse(status, reason, request.headers.accept);
  };

  return {
    async handle(request, route) {
      if (hasDotSegment(request.path)) {
        return errorResponse(
          400,
          'a proxied path may not contain "." or ".." segments (they could leave the proxied prefix)',
          request.headers.accept,
        );
      }
      const upgrade = isUpgradeRequest(request) && request.body === null;
      const body = request.body;
      let response: UpstreamResponse;
      try {
        response = await client.request(route.upstream, {
          method: request.method,
          target: upstreamTarget(route, request.path, request.query),
          fields: forwardRequestFields(request, route, options, upgrade),
          body,
          bodyLength: body === null ? null : request.contentLength,
          expectContinue: body !== null && request.headers.expect?.toLowerCase() === '100-continue',
          upgrade,
          onHead: trace === undefined ? undefined : (direction, text) => trace(route, direction, text),
        });
      } catch (error) {
        if (error instanceof UpstreamError) return fail(request, route, error.status, error.message);
        throw error;
      }
      const head = response.head;
      const headers = forwardResponseHeaders(head, route, options, response.tunnel !== undefined);
      const reason = head.reason === '' ? {} : { reason: head.reason };
      if (response.tunnel !== undefined) {
        const { socket: upstreamSocket, rest: upstreamRest } = response.tunnel;
        return {
          status: 101,
          ...reason,
          headers,
          upgrade: (clientSocket, clientRest) =>
            tunnel(clientSocket, clientRest, upstreamSocket, upstreamRest, (line) =>
              options.log(`${request.method} ${request.target} → ${route.origin}: ${line}`),
            ),
        };
      }
      if (response.bytes !== undefined) {
        return { status: head.status, ...reason, headers, body: { kind: 'bytes', data: response.bytes } };
      }
      const declared = head.headers['content-length'];
      if (response.body === null) {
        // A HEAD answer still advertises the length a GET would get (RFC 9110 §9.3.2).
        if (request.method === 'HEAD' && declared !== undefined && /^\d+$/.test(declared)) {
          return {
            status: head.status,
            ...reason,
            headers,
            body: { kind: 'stream', stream: Readable.from([]), length: Number(declared) },
          };
        }
        return { status: head.status, ...reason, headers, body: null };
      }
      if (response.body.destroyed) {
        // The body broke before its head could be sent (a bad chunk, a reset): the client can still get a 502.
        return fail(request, route, 502, 'the upstream response body broke before it could be forwarded');
      }
      const length = head.framing.kind === 'length' ? head.framing.length : undefined;
      return {
        status: head.status,
        ...reason,
        headers,
        body:
          length === undefined
            ? { kind: 'stream', stream: response.body }
            : { kind: 'stream', stream: response.body, length },
      };
    },
    close: () => client.close(),
  };
}

/**
 * Bytes both ways until either side is done (RFC 9110 §9.3.6 describes the same for CONNECT): an end
 * is passed on as an end, so a closing handshake still gets through, and an error ends both.
 */
function tunnel(
  client: Duplex,
  clientRest: Buffer,
  upstream: Duplex,
  upstreamRest: Buffer,
  log: (line: string) => void,
): void {
  let over = false;
  const abort = (side: string) => (error: Error) => {
    if (over) return;
    over = true;
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ECONNRESET' && code !== 'EPIPE')
      log(`tunnel ended by an error on the ${side} side: ${error.message}`);
    client.destroy();
    upstream.destroy();
  };
  client.on('error', abort('client'));
  upstream.on('error', abort('upstream'));
  client.once('close', () => upstream.destroy());
  upstream.once('close', () => {
    // Whatever the upstream sent is already queued on the client socket; end it after the queue drains.
    if (!client.destroyed) client.end();
  });
  if (upstreamRest.length > 0) client.write(upstreamRest);
  if (clientRest.length > 0) upstream.write(clientRest);
  client.pipe(upstream);
  upstream.pipe(client);
  upstream.resume();
}
