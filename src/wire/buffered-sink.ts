/**
 * A line sink that batches writes, so an access log costs one write per batch rather than one syscall
 * per request under load.
 * @module
 */

/** Flush when this much text is waiting, even before the timer fires. */
export const SINK_MAX_BUFFERED_CHARS = 64 * 1024;
/** Longest a line waits before it is written, so a quiet server's log still reads as live. */
export const SINK_FLUSH_INTERVAL_MS = 100;

export interface BufferedLineSink {
  /** Queues one line (a newline is added). */
  writeLine(line: string): void;
  /** Writes whatever is queued now. */
  flush(): void;
  /** Flushes and stops the timer. Later lines are written at once. */
  close(): void;
}

export interface BufferedSinkOptions {
  maxBufferedChars?: number;
  flushIntervalMs?: number;
}

export function createBufferedLineSink(
  write: (text: string) => void,
  options: BufferedSinkOptions = {},
): BufferedLineSink {
  const maxBuffered = options.maxBufferedChars ?? SINK_MAX_BUFFERED_CHARS;
  const interval = options.flushIntervalMs ?? SINK_FLUSH_INTERVAL_MS;
  let pending = '';
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  const flush = () => {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    if (pending === '') return;
    const text = pending;
    pending = '';
    write(text);
  };

  return {
    writeLine(line) {
      pending += `${line}\n`;
      if (closed || pending.length >= maxBuffered) {
        flush();
        return;
      }
      if (timer === null) {
        timer = setTimeout(flush, interval);
        // A pending log line must not keep the process alive on its own.
        timer.unref();
      }
    },
    flush,
    close() {
      closed = true;
      flush();
    },
  };
}
