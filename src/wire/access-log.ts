/**
 * Access logs: one line per finished exchange, in Apache's common or combined format, as JSON, or as a
 * short coloured `dev` line. A WireObserver on `onExchange`, writing through a line sink (the CLI's is
 * buffered, so a busy server does not pay a syscall per request).
 *
 * Every format carries the response time in milliseconds: common and combined as one extra last field
 * (as nginx's `$request_time` would be), dev and JSON in their own way. An answer the wire made to a
 * protocol error of the client's also carries its code (`BODY_TIMEOUT`): last in common, combined and
 * dev, present only on those lines, and as `error` (null otherwise) in JSON.
 * @module
 */
import type { ExchangeRecord, WireObserver } from './observer.js';

export const ACCESS_LOG_FORMATS = ['common', 'combined', 'json', 'dev'] as const;
export type AccessLogFormat = (typeof ACCESS_LOG_FORMATS)[number];

export interface AccessLogOptions {
  format: AccessLogFormat;
  /** Receives one line at a time, without the newline. */
  writeLine: (line: string) => void;
  /** ANSI colour for the dev format. @default false */
  color?: boolean;
  /**
   * The client's address for a record (behind a trusted proxy: from its forwarding headers).
   * @default the connection's peer address
   */
  clientAddress?: (record: ExchangeRecord) => string;
}

export function createAccessLogObserver(options: AccessLogOptions): WireObserver {
  const formatLine = LINE_FORMATTERS[options.format];
  const color = options.color ?? false;
  const write = options.writeLine;
  const clientAddress = options.clientAddress;
  return {
    onExchange(record) {
      if (clientAddress !== undefined) record.remoteAddress = clientAddress(record);
      write(formatLine(record, color));
    },
  };
}

type LineFormatter = (record: ExchangeRecord, color: boolean) => string;

const LINE_FORMATTERS: Readonly<Record<AccessLogFormat, LineFormatter>> = {
  common: (record) => `${commonFields(record)} ${durationMs(record)}${errorCodeField(record)}`,
  combined: (record) => {
    const headers = record.request?.headers;
    return `${commonFields(record)} ${quoted(headers?.referer)} ${quoted(headers?.['user-agent'])} ${durationMs(record)}${errorCodeField(record)}`;
  },
  json: (record) => {
    const request = record.request;
    return JSON.stringify({
      time: new Date(record.startedAt).toISOString(),
      remoteAddress: record.remoteAddress,
      method: request?.method ?? null,
      target: request?.target ?? null,
      version: request === null ? null : protocolName(record),
      status: record.status,
      bytes: record.bytesSent,
      durationMs: durationMs(record),
      host: request?.headers.host ?? null,
      referer: request?.headers.referer ?? null,
      userAgent: request?.headers['user-agent'] ?? null,
      error: record.errorCode ?? null,
    });
  },
  dev: (record, color) => {
    const request = record.request;
    const status = String(record.status);
    const painted = color ? `${statusColor(record.status)}${status}\x1b[0m` : status;
    const method = request?.method ?? '-';
    const target = request === null ? '-' : escapeLogText(request.target);
    return `${method} ${target} ${painted} ${humanSize(record.bytesSent)} ${durationMs(record)} ms${errorCodeField(record)}`;
  },
};

/** `%h %l %u %t "%r" %>s %b`: remote address, no identd, no user, time, request line, status, bytes. */
function commonFields(record: ExchangeRecord): string {
  const request = record.request;
  const requestLine = request === null ? '-' : `${request.method} ${request.target} ${protocolName(record)}`;
  const bytes = record.bytesSent === 0 ? '-' : String(record.bytesSent);
  return `${record.remoteAddress || '-'} - - [${clfDate(record.startedAt)}] ${quoted(requestLine)} ${record.status} ${bytes}`;
}

/** `HTTP/1.1`, `HTTP/1.0`, or `HTTP/2.0` for an HTTP/2 stream (as Apache and nginx write it). */
function protocolName(record: ExchangeRecord): string {
  return record.protocol === 'HTTP/2' ? 'HTTP/2.0' : `HTTP/${record.request?.version ?? '1.1'}`;
}

/** ` CODE` for an exchange the wire answered with a protocol error; nothing otherwise. */
function errorCodeField(record: ExchangeRecord): string {
  return record.errorCode === undefined ? '' : ` ${record.errorCode}`;
}

function durationMs(record: ExchangeRecord): number {
  return Math.max(0, record.finishedAt - record.startedAt);
}

/** A field in double quotes, `-` when absent, with quotes, backslashes and control bytes escaped. */
function quoted(value: string | undefined): string {
  return value === undefined || value === '' ? '"-"' : `"${escapeLogText(value)}"`;
}

/** Escapes what could forge or break a log line (as Apache does since 2.0.46). */
function escapeLogText(text: string): string {
  return text.replace(/["\\\x00-\x1f\x7f-\xff]/g, (c) =>
    c === '"' || c === '\\' ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let cachedClfSecond = -1;
let cachedClfDate = '';

/** `10/Oct/2000:13:55:36 +0000`, in UTC, rebuilt at most once a second. */
export function clfDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second === cachedClfSecond) return cachedClfDate;
  const d = new Date(second * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  cachedClfSecond = second;
  cachedClfDate = `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
  return cachedClfDate;
}

const KIB = 1024;

function humanSize(bytes: number): string {
  if (bytes < KIB) return `${bytes} B`;
  if (bytes < KIB * KIB) return `${(bytes / KIB).toFixed(1)} KiB`;
  if (bytes < KIB * KIB * KIB) return `${(bytes / KIB / KIB).toFixed(1)} MiB`;
  return `${(bytes / KIB / KIB / KIB).toFixed(1)} GiB`;
}

function statusColor(status: number): string {
  if (status >= 500) return '\x1b[31m';
  if (status >= 400) return '\x1b[33m';
  if (status >= 300) return '\x1b[36m';
  return '\x1b[32m';
}
