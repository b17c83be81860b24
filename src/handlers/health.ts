/**
 * A health check for load balancers and orchestrators: one small JSON document at a fixed path, answered
 * before the file handler, so listing, dotfile and SPA settings never hide it.
 * @module
 */
import { DEFAULT_HEALTH_PATH } from '../defaults.js';
import type { HttpRequest, RequestHandler, ResponseDescription } from '../wire/message.js';
import { errorResponse } from './errors.js';

export { DEFAULT_HEALTH_PATH };

const HEALTH_ALLOW = 'GET, HEAD';

export interface HealthOptions {
  /** The URL path answered (compared with the raw request path). */
  path: string;
  version: string;
  /** Open client connections (HTTP/1.1 connections plus HTTP/2 sessions). */
  connections(): number;
  /** When the server started, for uptimeSeconds. */
  startedAt(): number;
}

/** Answers the health path itself and passes every other request to `handler`. */
export function withHealthCheck(handler: RequestHandler, options: HealthOptions): RequestHandler {
  return function handleWithHealthCheck(request: HttpRequest) {
    if (request.path !== options.path) return handler(request);
    return healthResponse(request, options);
  };
}

function healthResponse(request: HttpRequest, options: HealthOptions): ResponseDescription {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return errorResponse(
      405,
      `${request.method} is not allowed here; the health check allows ${HEALTH_ALLOW}`,
      request.headers.accept,
      { Allow: HEALTH_ALLOW },
    );
  }
  const document = {
    status: 'ok',
    uptimeSeconds: Math.max(0, Math.floor((Date.now() - options.startedAt()) / 1000)),
    version: options.version,
    connections: options.connections(),
  };
  const data = Buffer.from(`${JSON.stringify(document)}\n`, 'utf8');
  return {
    status: 200,
    // A cached "ok" would hide an outage from the very probe that is meant to notice it.
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
    // For HEAD the transports send the Content-Length of these bytes and not the bytes (RFC 9110 §9.3.2).
    body: { kind: 'bytes', data },
  };
}
