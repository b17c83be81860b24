/**
 * WebDAV over raw sockets for tests: one request per connection, the answer parsed by the raw client, and
 * small readers for the parts of a 207 body the tests look at.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { exchange, type RawResponse } from './raw-client.js';

/** Sends one request (with `Connection: close`) and returns its final response. */
export async function dav(
  port: number,
  method: string,
  target: string,
  options: { body?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const body = options.body === undefined ? null : Buffer.from(options.body);
  const fields = { Host: `127.0.0.1:${port}`, ...options.headers };
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(fields)) head += `${name}: ${value}\r\n`;
  if (body !== null) head += `Content-Length: ${body.length}\r\n`;
  head += 'Connection: close\r\n\r\n';
  const bytes = Buffer.from(head, 'utf8');
  const result = await exchange(port, body === null ? bytes : Buffer.concat([bytes, body]), {
    headResponses: method === 'HEAD' ? [0] : [],
    waitForClose: true,
    timeoutMs: options.timeoutMs ?? 30_000,
  });
  const response = result.responses.find((r) => r.status >= 200);
  assert.ok(response, `no response to ${method} ${target}: ${result.raw.toString('latin1').slice(0, 300)}`);
  return response;
}

/** The `D:href` of every `D:response` in a 207 body, in order. */
export function hrefsOf(body: Buffer | string): string[] {
  const text = body.toString();
  const hrefs: string[] = [];
  const pattern = /<D:response><D:href>([^<]*)<\/D:href>/g;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) hrefs.push(match[1]!);
  return hrefs;
}

/** The text of the first `<D:name>` element (or `<name xmlns=…>`) in a body, or undefined. */
export function propertyText(body: Buffer | string, name: string): string | undefined {
  const text = body.toString();
  const match = new RegExp(`<(?:D:)?${name}(?: xmlns="[^"]*")?>([^<]*)</(?:D:)?${name}>`).exec(text);
  return match?.[1];
}

/** Whether an executable named `program` is on PATH: tests of real clients skip without it. */
export function hasProgram(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

export const PROPFIND_ALL =
  '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>';
