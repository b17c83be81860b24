/**
 * What a script writes: stdout after its header block becomes the response body (`CgiOutputStream`, with
 * backpressure back to the script), and stderr becomes log lines.
 * @module
 */
import { Readable } from 'node:stream';
import { CGI_MAX_STDERR_LINE_CHARS, CGI_OUTPUT_HIGH_WATER_MARK } from './options.js';

/**
 * The body of a script's response: stdout after the header block. Backpressure runs through it (stdout is
 * paused while the wire's socket is full), and destroying it early (client gone) calls `onAbort`.
 */
export class CgiOutputStream extends Readable {
  private readonly source: Readable;
  private readonly onAbort: () => void;
  private ended = false;

  constructor(source: Readable, onAbort: () => void) {
    super({ highWaterMark: CGI_OUTPUT_HIGH_WATER_MARK });
    this.source = source;
    this.onAbort = onAbort;
    // A timeout may destroy the stream with an error before (or after) the wire listens; never crash on it.
    this.on('error', () => {});
  }

  /** Passes on a piece of script output; pauses the script's stdout when the consumer is behind. */
  forward(chunk: Buffer): void {
    if (this.destroyed) return;
    if (!this.push(chunk)) this.source.pause();
  }

  finish(): void {
    if (this.destroyed || this.ended) return;
    this.ended = true;
    this.push(null);
  }

  override _read(): void {
    this.source.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.ended) this.onAbort();
    callback(error);
  }
}

/**
 * Logs each line of a script's stderr as one entry (without its CR), a line longer than
 * CGI_MAX_STDERR_LINE_CHARS in pieces, and an unterminated last line at the end.
 */
export function logStderrLines(stderr: Readable, log: (line: string) => void): void {
  const logLine = (line: string) => log(line.endsWith('\r') ? line.slice(0, -1) : line);
  let partialLine = '';
  stderr.setEncoding('utf8');
  stderr.on('data', (text: string) => {
    partialLine += text;
    let newline = partialLine.indexOf('\n');
    while (newline !== -1) {
      logLine(partialLine.slice(0, newline));
      partialLine = partialLine.slice(newline + 1);
      newline = partialLine.indexOf('\n');
    }
    while (partialLine.length > CGI_MAX_STDERR_LINE_CHARS) {
      logLine(partialLine.slice(0, CGI_MAX_STDERR_LINE_CHARS));
      partialLine = partialLine.slice(CGI_MAX_STDERR_LINE_CHARS);
    }
  });
  stderr.on('end', () => {
    if (partialLine !== '') logLine(partialLine);
    partialLine = '';
  });
}
