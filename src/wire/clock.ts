/**
 * One clock reading shared by everything a socket read does synchronously. `Date.now()` costs about
 * 50 ns on this machine (bench/NOTES.md), and one hot keep-alive request read the clock five times: the
 * exchange's start and end, the hot-file cache's freshness, the response's Date second and the
 * keep-alive deadline. While a read is handled, `clockNow()` answers the reading taken when it began;
 * anywhere else (timers, file streams, HTTP/2, the node:http adapter) it is `Date.now()`. A read's
 * synchronous work takes microseconds, far below the second that Date, deadlines and cache checks
 * count in.
 * @module
 */

/** The reading of the read being handled, or 0 outside one. */
let reading = 0;

/** Milliseconds since the epoch: the current read's reading, or `Date.now()`. */
export function clockNow(): number {
  return reading === 0 ? Date.now() : reading;
}

/**
 * Takes the reading for a read that begins now; returns false (and changes nothing) inside another
 * read's, so only the outermost caller releases it.
 */
export function holdClockReading(): boolean {
  if (reading !== 0) return false;
  reading = Date.now();
  return true;
}

/** Ends the current read's reading (call it in a `finally`, so an exception cannot leave it stale). */
export function releaseClockReading(): void {
  reading = 0;
}
