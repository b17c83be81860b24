/**
 * Process metrics read at scrape time: memory, CPU, open descriptors, and the event-loop delay measured
 * by perf_hooks' histogram (reset at each scrape, so its p99 covers the time since the previous one).
 * @module
 */
import { readdirSync } from 'node:fs';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { ProcessSnapshot } from './counters.js';

/** Sampling period of the event-loop delay histogram, in ms (prom-client's default too). */
const EVENT_LOOP_RESOLUTION_MS = 10;

let delay: IntervalHistogram | null = null;

/** Starts measuring the event-loop delay (once per process; the histogram's timer does not hold the process). */
export function startProcessMetrics(): void {
  if (delay !== null) return;
  delay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  delay.enable();
}

function openFds(): number {
  try {
    // The descriptor used to read the folder is counted too; so it is in every other exporter.
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

export function processSnapshot(): ProcessSnapshot {
  startProcessMetrics();
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  // percentile() is in nanoseconds; with no sample yet it is 0.
  const p99 = delay!.count === 0 ? 0 : delay!.percentile(99) / 1e9;
  delay!.reset();
  return {
    residentBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    heapTotalBytes: memory.heapTotal,
    eventLoopDelayP99Seconds: p99,
    openFds: openFds(),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    startTimeSeconds: Math.round((Date.now() - process.uptime() * 1000) / 1000),
  };
}
