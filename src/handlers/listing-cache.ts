/**
 * Rendered listings kept for a moment: a folder asked for many times a second (a page of thumbnails, a
 * polling script) is read and rendered once a second, not once a request. Entries are keyed by folder,
 * format and order, bounded in number and size, and dropped whenever a write succeeds.
 * @module
 */
import { type Readable, Transform } from 'node:stream';

/** A rendered listing is reused for this long: like files, never stale for more than a second. */
export const LISTING_CACHE_FRESH_MS = 1000;
/**
 * Listings larger than this are streamed every time instead of kept. An HTML row with its selection box,
 * icon and actions is about 480 bytes, so 16 MiB keeps a folder of some 30,000 entries.
 */
const LISTING_CACHE_MAX_BYTES = 16 * 1024 * 1024;
/** All kept listings together stay under this; the oldest go first. */
const LISTING_CACHE_TOTAL_BYTES = 64 * 1024 * 1024;
const LISTING_CACHE_ENTRIES = 64;

export class ListingCache {
  private readonly entries = new Map<string, { builtAt: number; bytes: Buffer }>();
  private totalBytes = 0;

  /** @param freshMs how long a listing is reused; 0 renders every time (live reload). */
  constructor(private readonly freshMs: number = LISTING_CACHE_FRESH_MS) {}

  /** The bytes of a listing built less than `freshMs` before `now`, if any. */
  get(key: string, now: number): Buffer | undefined {
    const cached = this.entries.get(key);
    return cached !== undefined && now - cached.builtAt < this.freshMs ? cached.bytes : undefined;
  }

  /** Forgets every listing (something under the root was just written). */
  clear(): void {
    this.entries.clear();
    this.totalBytes = 0;
  }

  private keep(key: string, builtAt: number, bytes: Buffer): void {
    this.forget(key);
    this.entries.set(key, { builtAt, bytes });
    this.totalBytes += bytes.length;
    while (this.entries.size > LISTING_CACHE_ENTRIES || this.totalBytes > LISTING_CACHE_TOTAL_BYTES) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.forget(oldest.value);
    }
  }

  private forget(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.totalBytes -= entry.bytes.length;
    this.entries.delete(key);
  }

  /**
   * Keeps a copy of a listing as it streams out, so the next second's requests are answered from memory.
   * The copy is taken in a pass-through stage piped after the listing, so backpressure from the socket
   * still reaches the listing and no byte can flow before the wire is listening.
   */
  remember(key: string, listingStream: Readable, builtAt: number): Readable {
    const keep = (bytes: Buffer): void => this.keep(key, builtAt, bytes);
    const chunks: Buffer[] = [];
    let size = 0;
    const copy = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size <= LISTING_CACHE_MAX_BYTES) chunks.push(chunk);
        else chunks.length = 0;
        done(null, chunk);
      },
      flush(done) {
        if (size <= LISTING_CACHE_MAX_BYTES) keep(Buffer.concat(chunks));
        done();
      },
    });
    // An error reading the folder, or the wire giving up on the response, ends both stages.
    listingStream.on('error', (error) => copy.destroy(error));
    copy.on('close', () => listingStream.destroy());
    return listingStream.pipe(copy);
  }
}
