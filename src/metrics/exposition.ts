/**
 * Renders a MetricsSnapshot as the Prometheus text exposition format 0.0.4, or as OpenMetrics 1.0.0
 * when the scraper asks for it (differences: counter families are named without `_total` in the
 * metadata, and the text ends with `# EOF`).
 * @module
 */
import {
  DURATION_BUCKETS_SECONDS,
  ENCODING_LABELS,
  METHOD_LABELS,
  type MetricsSnapshot,
  STATUS_LABELS,
  TRANSPORT_LABELS,
} from './counters.js';

export const PROMETHEUS_TEXT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

type Labels = Readonly<Record<string, string>>;

class Writer {
  private readonly lines: string[] = [];
  constructor(private readonly format: ExpositionFormat) {}

  /** A family's HELP and TYPE lines; counters are named `<family>_total` in samples. */
  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    const metaName = type === 'counter' && this.format === 'prometheus' ? `${name}_total` : name;
    this.lines.push(`# HELP ${metaName} ${help}`, `# TYPE ${metaName} ${type}`);
  }

  sample(name: string, value: number, labels?: Labels): void {
    this.lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
  }

  counter(name: string, help: string, value: number): void {
    this.family(name, 'counter', help);
    this.sample(`${name}_total`, value);
  }

  gauge(name: string, help: string, value: number): void {
    this.family(name, 'gauge', help);
    this.sample(name, value);
  }

  text(): string {
    if (this.format === 'openmetrics') this.lines.push('# EOF');
    return `${this.lines.join('\n')}\n`;
  }
}

function formatLabels(labels: Labels | undefined): string {
  if (labels === undefined) return '';
  const parts = Object.entries(labels).map(
    ([name, value]) => `${name}="${value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`,
  );
  return `{${parts.join(',')}}`;
}

function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  return Number.isInteger(value) ? String(value) : value.toPrecision(9).replace(/\.?0+$/, '');
}

export function renderMetrics(snapshot: MetricsSnapshot, format: ExpositionFormat): string {
  const out = new Writer(format);
  out.family(
    'docroot_http_requests',
    'counter',
    'HTTP requests answered, by method, status class and transport.',
  );
  METHOD_LABELS.forEach((method, m) => {
    STATUS_LABELS.forEach((status, s) => {
      TRANSPORT_LABELS.forEach((transport, t) => {
        const value = snapshot.requests[(m * STATUS_LABELS.length + s) * TRANSPORT_LABELS.length + t] ?? 0;
        // Every series from the start (zeros included), so rate() sees the first request of a kind.
        out.sample('docroot_http_requests_total', value, { method, status, transport });
      });
    });
  });
  out.family('docroot_http_response_body_bytes', 'counter', 'Response body bytes sent, by transport.');
  TRANSPORT_LABELS.forEach((transport, t) => {
    out.sample('docroot_http_response_body_bytes_total', snapshot.responseBytes[t] ?? 0, { transport });
  });
  out.family(
    'docroot_http_request_duration_seconds',
    'histogram',
    'Time from a request head to the end of its response.',
  );
  let cumulative = 0;
  DURATION_BUCKETS_SECONDS.forEach((bound, b) => {
    cumulative += snapshot.durationBuckets[b] ?? 0;
    out.sample('docroot_http_request_duration_seconds_bucket', cumulative, { le: String(bound) });
  });
  cumulative += snapshot.durationBuckets[DURATION_BUCKETS_SECONDS.length] ?? 0;
  out.sample('docroot_http_request_duration_seconds_bucket', cumulative, { le: '+Inf' });
  out.sample('docroot_http_request_duration_seconds_sum', snapshot.durationSumSeconds);
  out.sample('docroot_http_request_duration_seconds_count', cumulative);

  out.gauge(
    'docroot_connections_open',
    'Client connections open now (HTTP/1.1 and HTTP/2).',
    snapshot.connectionsOpen,
  );
  out.counter('docroot_connections_accepted', 'HTTP/1.x connections accepted.', snapshot.connectionsAccepted);
  out.counter(
    'docroot_connections_refused',
    'Connections refused because --max-connections were open.',
    snapshot.connectionsRefused,
  );
  out.counter(
    'docroot_http_keepalive_requests',
    'Requests answered on an HTTP/1.x connection that had already served one.',
    snapshot.keepAliveReused,
  );
  out.counter(
    'docroot_file_cache_hits',
    'Requests answered from the hot-file cache without touching the disk.',
    snapshot.cacheHits,
  );
  out.counter(
    'docroot_file_cache_misses',
    'GET and HEAD lookups the hot-file cache could not answer.',
    snapshot.cacheMisses,
  );
  out.counter(
    'docroot_file_cache_evictions',
    'Files dropped from the hot-file cache to stay within its size.',
    snapshot.cacheEvictions,
  );
  out.gauge(
    'docroot_file_cache_bytes',
    'Bytes of file bodies (all encodings) held by the hot-file cache.',
    snapshot.cacheBytes,
  );
  out.gauge('docroot_file_cache_entries', 'Files held by the hot-file cache.', snapshot.cacheEntries);
  out.family(
    'docroot_compressed_responses',
    'counter',
    'File responses sent with a content coding, by coding.',
  );
  ENCODING_LABELS.forEach((encoding, e) => {
    out.sample('docroot_compressed_responses_total', snapshot.compressed[e] ?? 0, { encoding });
  });
  out.counter('docroot_cgi_runs', 'CGI scripts started.', snapshot.cgiRuns);
  out.counter(
    'docroot_cgi_failures',
    'CGI runs answered with a 5xx by the server (not started, bad output).',
    snapshot.cgiFailures,
  );
  out.counter(
    'docroot_cgi_timeouts',
    'CGI scripts killed for taking longer than --cgi-timeout.',
    snapshot.cgiTimeouts,
  );
  out.counter(
    'docroot_uploads',
    'Successful writes: PUT, PATCH and upload-form POST answered with 2xx.',
    snapshot.uploads,
  );
  out.counter(
    'docroot_auth_failures',
    'Requests with credentials refused by --auth with a 401.',
    snapshot.authFailures,
  );

  const p = snapshot.process;
  out.gauge(
    'docroot_processes',
    'Server processes summed in this scrape (the live workers with --workers).',
    snapshot.processes,
  );
  out.gauge(
    'process_resident_memory_bytes',
    'Resident memory size, summed over the server processes.',
    p.residentBytes,
  );
  out.gauge(
    'nodejs_heap_size_used_bytes',
    'V8 heap in use, summed over the server processes.',
    p.heapUsedBytes,
  );
  out.gauge(
    'nodejs_heap_size_total_bytes',
    'V8 heap reserved, summed over the server processes.',
    p.heapTotalBytes,
  );
  out.gauge(
    'nodejs_eventloop_delay_p99_seconds',
    'The 99th percentile of event-loop delay since the previous scrape (the worst process).',
    p.eventLoopDelayP99Seconds,
  );
  if (p.openFds >= 0)
    out.gauge('process_open_fds', 'Open file descriptors, summed over the server processes.', p.openFds);
  out.counter(
    'process_cpu_seconds',
    'User and system CPU time, summed over the server processes.',
    p.cpuSeconds,
  );
  out.gauge(
    'process_start_time_seconds',
    'Start time of the oldest server process since the Unix epoch.',
    p.startTimeSeconds,
  );
  return out.text();
}

/** OpenMetrics when the Accept field names it (Prometheus sends it first when it supports it). */
export function chooseExpositionFormat(accept: string | undefined): ExpositionFormat {
  return accept?.toLowerCase().includes('application/openmetrics-text') ? 'openmetrics' : 'prometheus';
}
