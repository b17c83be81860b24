/**
 * Rendered listings kept for a moment: a folder asked for many times a second (a page of thumbnails, a
 * polling script) is read and rendered once a second, not once a request. Entries are keyed by folder,
 * format and order, bounded in number and size, and dropped whenever a write succeeds.
 * @module
 */
import { type Readable, Transform } from 'node:stream';

/** A rendered listing is reused for this long: like files, never stale for more than a second. */
export const LISTING_CACHE_FRESH_MS = 1000;
/** Listings larger than this are streamed every time instead of kept. */
const LISTING_CACHE_MAX_BYTES = 4 * 1024 * 1024;
const LISTING_CACHE_ENTRIES = 64;

export class ListingCache {
  private readonly entries = new Map<string, { builtAt: number; bytes: Buffer }>();

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
  }

  /**
   * Keeps a copy of a listing as it streams out, so the next second's requests are answered from memory.
   * The copy is taken in a pass-through stage piped after the listing, so backpressure from the socket
   * still reaches the listing and no byte can flow before the wire is listening.
   */
  remember(key: string, listingStream: Readable, builtAt: number): Readable {
    const entries = this.entries;
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
        if (size <= LISTING_CACHE_MAX_BYTES) {
          entries.delete(key);
          entries.set(key, { builtAt, bytes: Buffer.concat(chunks) });
          if (entries.size > LISTING_CACHE_ENTRIES) {
            const oldest = entries.keys().next();
            if (!oldest.done) entries.delete(oldest.value);
          }
        }
        done();
      },
    });
    // An error reading the folder, or the wire giving up on the response, ends both stages.
    listingStream.on('error', (error) => copy.destroy(error));
    copy.on('close', () => listingStream.destroy());
    return listingStream.pipe(copy);
  }
}
