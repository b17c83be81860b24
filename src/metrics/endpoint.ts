/**
 * The `--metrics` path: answers GET and HEAD on it with the exposition text, and passes every other
 * request through untouched (one string comparison on the hot path).
 * @module
 */
import type { HttpRequest, RequestHandler, ResponseDescription } from '../wire/message.js';
import type { MetricsSnapshot } from './counters.js';

export interface MetricsEndpointOptions {
  path: string;
  /** The numbers to show: this process's, or the whole server's with --workers. */
  collect(): Promise<MetricsSnapshot>;
}

export function withMetricsEndpoint(inner: RequestHandler, options: MetricsEndpointOptions): RequestHandler {
  const metricsPath = options.path;
  return (request) => (request.path === metricsPath ? answer(request, options) : inner(request));
}

async function answer(request: HttpRequest, options: MetricsEndpointOptions): Promise<ResponseDescription> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return {
      status: 405,
      headers: { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' },
      body: {
        kind: 'bytes',
        data: `405 Method Not Allowed: the metrics path answers GET and HEAD, not ${request.method}\n`,
      },
    };
  }
  // The renderer loads with the first scrape, so servers that are never scraped never pay for it.
  const { chooseExpositionFormat, OPENMETRICS_TYPE, PROMETHEUS_TEXT_TYPE, renderMetrics } = await import(
    './exposition.js'
  );
  const format = chooseExpositionFormat(request.headers.accept);
  const text = renderMetrics(await options.collect(), format);
  return {
    status: 200,
    headers: {
      'Content-Type': format === 'openmetrics' ? OPENMETRICS_TYPE : PROMETHEUS_TEXT_TYPE,
      'Cache-Control': 'no-store',
      Vary: 'Accept',
    },
    body: { kind: 'bytes', data: text },
  };
}
