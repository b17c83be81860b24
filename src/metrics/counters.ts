/**
 * The server's counters: plain numbers and fixed-size arrays bumped on the hot path (no allocation, no
 * map lookups), read into a `MetricsSnapshot` when scraped. A snapshot is plain JSON, so `--workers`
 * sends them over the cluster IPC and the primary sums them (`sumSnapshots`).
 * @module
 */
import type { ExchangeRecord, WireObserver } from '../wire/observer.js';

/** Label values of `method`: the common methods by name, everything else as `other` (bounded cardinality). */
export const METHOD_LABELS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'other'] as const;
export const STATUS_LABELS = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export const TRANSPORT_LABELS = ['h1', 'h2'] as const;
/** Upper bounds (seconds) of the request-duration histogram buckets; `+Inf` is implied. */
export const DURATION_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;
/** Content codings counted by `docroot_compressed_responses_total`; anything else is `other`. */
export const ENCODING_LABELS = ['br', 'gzip', 'zstd', 'other'] as const;

const REQUEST_SLOTS = METHOD_LABELS.length * STATUS_LABELS.length * TRANSPORT_LABELS.length;

/** Everything one process counted, as plain numbers (summable, sendable over IPC). */
export interface MetricsSnapshot {
  /** Index: (method * STATUS_LABELS.length + status) * TRANSPORT_LABELS.length + transport. */
  requests: number[];
  /** Body bytes sent, per transport. */
  responseBytes: number[];
  /** Non-cumulative count per bucket; the last slot is beyond the largest bound. */
  durationBuckets: number[];
  durationSumSeconds: number;
  connectionsAccepted: number;
  connectionsRefused: number;
  connectionsOpen: number;
  keepAliveReused: number;
  cacheHits: number;
  cacheMisses: number;
  cacheEvictions: number;
  cacheBytes: number;
  cacheEntries: number;
  compressed: number[];
  cgiRuns: number;
  cgiFailures: number;
  cgiTimeouts: number;
  uploads: number;
  authFailures: number;
  process: ProcessSnapshot;
  /** How many processes were summed (1, or the live workers). */
  processes: number;
}

export interface ProcessSnapshot {
  residentBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** The 99th percentile of event-loop delay since the previous scrape; the maximum across processes. */
  eventLoopDelayP99Seconds: number;
  /** -1 where /proc is not there. */
  openFds: number;
  cpuSeconds: number;
  /** Unix time; the earliest across processes. */
  startTimeSeconds: number;
}

/** The numbers a file cache keeps about itself (see handlers/file-cache.ts). */
export interface CacheCounters {
  hits: number;
  misses: number;
  evictions: number;
  readonly bytes: number;
  readonly size: number;
}

/** The index of `value` among `labels`, or of the last label (`other`) for anything else. */
function labelIndex(labels: readonly string[], value: string): number {
  const index = labels.indexOf(value);
  return index === -1 ? labels.length - 1 : index;
}

/** The counters of one server. Its `observer` goes on the wire; handlers call the `count…` methods. */
export class ServerMetrics {
  readonly requests = new Float64Array(REQUEST_SLOTS);
  readonly responseBytes = new Float64Array(TRANSPORT_LABELS.length);
  readonly durationBuckets = new Float64Array(DURATION_BUCKETS_SECONDS.length + 1);
  durationSumSeconds = 0;
  connectionsAccepted = 0;
  keepAliveReused = 0;
  readonly compressed = new Float64Array(ENCODING_LABELS.length);
  cgiRuns = 0;
  cgiFailures = 0;
  cgiTimeouts = 0;
  uploads = 0;
  authFailures = 0;
  /** Read at scrape time: open connections, refused connections and the file cache. */
  private sources: {
    connectionsOpen(): number;
    connectionsRefused(): number;
    cache: CacheCounters | null;
  } = { connectionsOpen: () => 0, connectionsRefused: () => 0, cache: null };

  readonly observer: WireObserver = {
    onConnectionOpen: () => {
      this.connectionsAccepted++;
    },
    onExchange: (record) => this.countExchange(record),
  };

  setSources(sources: Partial<ServerMetrics['sources']>): void {
    this.sources = { ...this.sources, ...sources };
  }

  countExchange(record: ExchangeRecord): void {
    const statusClass = (record.status / 100) | 0;
    if (statusClass < 1 || statusClass > 5) return;
    // Requests answered on a connection after its first: what keep-alive saved in handshakes.
    if (record.sequence !== undefined && record.sequence > 1) this.keepAliveReused++;
    const transport = record.protocol === 'HTTP/2' ? 1 : 0;
    const method =
      record.request === null ? METHOD_LABELS.length - 1 : labelIndex(METHOD_LABELS, record.request.method);
    this.requests[(method * STATUS_LABELS.length + statusClass - 1) * TRANSPORT_LABELS.length + transport]!++;
    this.responseBytes[transport]! += record.bytesSent;
    const seconds = Math.max(0, record.finishedAt - record.startedAt) / 1000;
    this.durationSumSeconds += seconds;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS_SECONDS.length && seconds > DURATION_BUCKETS_SECONDS[bucket]!) bucket++;
    this.durationBuckets[bucket]!++;
  }

  countCompressed(coding: string): void {
    this.compressed[labelIndex(ENCODING_LABELS, coding)]!++;
  }

  snapshot(process: ProcessSnapshot): MetricsSnapshot {
    const cache = this.sources.cache;
    return {
      requests: Array.from(this.requests),
      responseBytes: Array.from(this.responseBytes),
      durationBuckets: Array.from(this.durationBuckets),
      durationSumSeconds: this.durationSumSeconds,
      connectionsAccepted: this.connectionsAccepted,
      connectionsRefused: this.sources.connectionsRefused(),
      connectionsOpen: this.sources.connectionsOpen(),
      keepAliveReused: this.keepAliveReused,
      cacheHits: cache?.hits ?? 0,
      cacheMisses: cache?.misses ?? 0,
      cacheEvictions: cache?.evictions ?? 0,
      cacheBytes: cache?.bytes ?? 0,
      cacheEntries: cache?.size ?? 0,
      compressed: Array.from(this.compressed),
      cgiRuns: this.cgiRuns,
      cgiFailures: this.cgiFailures,
      cgiTimeouts: this.cgiTimeouts,
      uploads: this.uploads,
      authFailures: this.authFailures,
      process,
      processes: 1,
    };
  }
}

function sumArrays(a: readonly number[], b: readonly number[]): number[] {
  return a.map((value, i) => value + (b[i] ?? 0));
}

/**
 * One snapshot for several processes: counters and sizes add up; the event-loop delay is the worst one
 * and the start time the earliest.
 */
export function sumSnapshots(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot | null {
  if (snapshots.length === 0) return null;
  return snapshots.reduce((a, b) => ({
    requests: sumArrays(a.requests, b.requests),
    responseBytes: sumArrays(a.responseBytes, b.responseBytes),
    durationBuckets: sumArrays(a.durationBuckets, b.durationBuckets),
    durationSumSeconds: a.durationSumSeconds + b.durationSumSeconds,
    connectionsAccepted: a.connectionsAccepted + b.connectionsAccepted,
    connectionsRefused: a.connectionsRefused + b.connectionsRefused,
    connectionsOpen: a.connectionsOpen + b.connectionsOpen,
    keepAliveReused: a.keepAliveReused + b.keepAliveReused,
    cacheHits: a.cacheHits + b.cacheHits,
    cacheMisses: a.cacheMisses + b.cacheMisses,
    cacheEvictions: a.cacheEvictions + b.cacheEvictions,
    cacheBytes: a.cacheBytes + b.cacheBytes,
    cacheEntries: a.cacheEntries + b.cacheEntries,
    compressed: sumArrays(a.compressed, b.compressed),
    cgiRuns: a.cgiRuns + b.cgiRuns,
    cgiFailures: a.cgiFailures + b.cgiFailures,
    cgiTimeouts: a.cgiTimeouts + b.cgiTimeouts,
    uploads: a.uploads + b.uploads,
    authFailures: a.authFailures + b.authFailures,
    process: {
      residentBytes: a.process.residentBytes + b.process.residentBytes,
      heapUsedBytes: a.process.heapUsedBytes + b.process.heapUsedBytes,
      heapTotalBytes: a.process.heapTotalBytes + b.process.heapTotalBytes,
      eventLoopDelayP99Seconds: Math.max(
        a.process.eventLoopDelayP99Seconds,
        b.process.eventLoopDelayP99Seconds,
      ),
      openFds: a.process.openFds < 0 || b.process.openFds < 0 ? -1 : a.process.openFds + b.process.openFds,
      cpuSeconds: a.process.cpuSeconds + b.process.cpuSeconds,
      startTimeSeconds: Math.min(a.process.startTimeSeconds, b.process.startTimeSeconds),
    },
    processes: a.processes + b.processes,
  }));
}

/**
 * What a process that is gone (a replaced worker) still adds: its counters, with its gauges zeroed, so
 * totals never go backwards when a worker is replaced.
 */
export function retiredPart(snapshot: MetricsSnapshot): MetricsSnapshot {
  return {
    ...snapshot,
    connectionsOpen: 0,
    cacheBytes: 0,
    cacheEntries: 0,
    process: {
      residentBytes: 0,
      heapUsedBytes: 0,
      heapTotalBytes: 0,
      eventLoopDelayP99Seconds: 0,
      openFds: 0,
      cpuSeconds: snapshot.process.cpuSeconds,
      // The oldest *running* process is what the start time tells.
      startTimeSeconds: Number.POSITIVE_INFINITY,
    },
    processes: 0,
  };
}
