/**
 * `--trace`: every request head and response head as it crossed the wire, in the lecture's notation,
 * plus connection opens, closes and keep-alive reuse. A WireObserver, so it costs nothing when it is off
 * (the server simply has no observer).
 *
 * HTTP/2 exchanges are shown in the same notation: the decoded field lines of each HEADERS block,
 * pseudo-header fields (`:method`, `:path`, `:status`, RFC 9113 §8.3) as they are, without line
 * terminators (HTTP/2 has none: its fields travel HPACK-compressed in frames), under a line naming the
 * stream, since streams of one connection interleave.
 * @module
 */

import { type ResponseBody, responseBodyLength } from './message.js';
import { contentTypeInHead, NotationFormatter } from './notation.js';
import type { ObservedConnection, WireObserver } from './observer.js';
import type { RequestHead } from './parser.js';

export interface TraceOptions {
  /** Receives one finished line at a time, without a newline (stderr in the CLI, an array in tests). */
  writeLine: (line: string) => void;
  /** ANSI colour. @default false */
  color?: boolean;
}

interface ConnectionTrace {
  id: number;
}

export function createTraceObserver(options: TraceOptions): WireObserver {
  const format = new NotationFormatter(options.color ?? false);
  const write = options.writeLine;
  const traces = new WeakMap<ObservedConnection, ConnectionTrace>();
  let nextId = 1;

  const traceOf = (connection: ObservedConnection): ConnectionTrace => {
    let trace = traces.get(connection);
    if (trace === undefined) {
      trace = { id: nextId++ };
      traces.set(connection, trace);
    }
    return trace;
  };

  return {
    onConnectionOpen(connection) {
      const trace = traceOf(connection);
      const protocol = connection.protocol === undefined ? '' : ` (${connection.protocol})`;
      write(
        format.event(
          `connection ${trace.id} opened from ${hostPort(connection.remoteAddress, connection.remotePort)}${protocol}`,
        ),
      );
    },

    onRequestHead(connection, head, raw) {
      const trace = traceOf(connection);
      if (head.streamId !== undefined) {
        write(format.event(`connection ${trace.id}, stream ${head.streamId}: request`));
        for (const line of format.fieldLines('client', raw.toString('latin1'))) write(line);
        const summary = requestBodySummary(format, head);
        if (summary !== null) write(summary);
        return;
      }
      if (connection.requestsServed > 0) {
        write(
          format.event(
            `connection ${trace.id} reused for request ${connection.requestsServed + 1} (keep-alive)`,
          ),
        );
      }
      for (const line of format.protocolLines('client', raw.toString('latin1'))) write(line);
      const summary = requestBodySummary(format, head);
      if (summary !== null) write(summary);
    },

    onResponseHead(connection, head, body, request, errorCode) {
      if (isInterimHead(head)) {
        // A 1xx (100 Continue) comes before the final answer to the same request (RFC 9110 §15.2).
        for (const line of format.protocolLines('server', head)) write(line);
        return;
      }
      const trace = traceOf(connection);
      if (request?.streamId !== undefined) {
        write(format.event(`connection ${trace.id}, stream ${request.streamId}: response`));
        for (const line of format.fieldLines('server', head)) write(line);
      } else {
        if (request === null) {
          // No head was parsed for this answer: a malformed request, a timeout, or the connection limit.
          const code = errorCode === undefined ? '' : ` (${errorCode})`;
          write(
            format.event(`connection ${trace.id}: no valid request head${code}; answering with an error`),
          );
        } else if (errorCode !== undefined) {
          // The head was fine; its content broke a framing rule, grew too large, or stopped arriving.
          write(
            format.event(
              `connection ${trace.id}: the request body failed (${errorCode}); answering with an error`,
            ),
          );
        }
        for (const line of format.protocolLines('server', head)) write(line);
      }
      const summary = responseBodySummary(format, head, body, request?.method === 'HEAD');
      if (summary !== null) write(summary);
    },

    onConnectionClose(connection) {
      const trace = traceOf(connection);
      write(format.event(`connection ${trace.id} closed`));
    },
  };
}

/** 1xx except 101, which is the final answer of its exchange (the connection then changes protocol). */
function isInterimHead(head: string): boolean {
  return head.startsWith('HTTP/1.1 1') && !head.startsWith('HTTP/1.1 101');
}

/** The status code of an HTTP/1.1 head (`HTTP/1.1 200 OK`) or of HTTP/2 field lines (`:status: 200`). */
function statusOfHead(head: string): number {
  // Both forms put the three digits at offsets 9 to 11.
  return Number(head.slice(9, 12));
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function requestBodySummary(format: NotationFormatter, head: RequestHead): string | null {
  const framing = head.framing;
  if (framing.kind === 'none') return null;
  if (framing.kind === 'length') {
    return framing.length === 0 ? null : format.summary('client', framing.length, undefined);
  }
  return format.note('client', '[chunked body]');
}

function responseBodySummary(
  format: NotationFormatter,
  head: string,
  body: ResponseBody | null | undefined,
  isHeadRequest: boolean,
): string | null {
  if (body === null || body === undefined || isHeadRequest) return null;
  const status = statusOfHead(head);
  if (status < 200 || status === 204 || status === 304) return null;
  const length = responseBodyLength(body);
  if (length === 0) return null;
  return format.summary('server', length, contentTypeInHead(head));
}

/**
 * `--trace` for the proxy's upstream leg: each head docroot sends to an upstream (docroot is the client
 * there) and each head it gets back, under a line naming the upstream.
 */
export function createUpstreamTracer(
  options: TraceOptions,
): (origin: string, direction: 'request' | 'response', head: string) => void {
  const format = new NotationFormatter(options.color ?? false);
  return (origin, direction, head) => {
    options.writeLine(format.event(direction === 'request' ? `proxy → ${origin}` : `proxy ← ${origin}`));
    for (const line of format.protocolLines(direction === 'request' ? 'client' : 'server', head)) {
      options.writeLine(line);
    }
  };
}
