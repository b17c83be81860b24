/**
 * The hot-file cache: small files kept in memory with their validators, their compressed forms and their
 * frozen response fields, so a repeated GET costs a map lookup and one socket write. Entries are
 * re-checked against the disk at most once per `revalidateMs`, so an edited file is never served stale
 * for longer than that.
 * @module
 */
import { DEFAULT_CACHE_MAX_BYTES, DEFAULT_CACHE_MAX_FILE_BYTES, DEFAULT_REVALIDATE_MS } from '../defaults.js';
import type { Sidecar } from '../files/encodings.js';
import type { ResponseDescription, ResponseHeaders } from '../wire/message.js';

export interface CacheOptions {
  /** Total bytes of bodies (all encodings) held. @default 64 MiB */
  maxBytes?: number;
  /** Largest file kept. @default 256 KiB */
  maxFileBytes?: number;
  /** How long a cached entry is trusted before its file is stat()ed again. @default 1000 */
  revalidateMs?: number;
}

export { DEFAULT_CACHE_MAX_BYTES, DEFAULT_CACHE_MAX_FILE_BYTES, DEFAULT_REVALIDATE_MS };

export interface CachedVariant {
  body: Buffer;
  etag: string;
  /**
   * The representation's fields, frozen: the same object answers every 200 and 304 for this variant, so
   * the HTTP/1.1 wire serialises it once (the transport adds Date, Server and the framing).
   */
  fields: Readonly<ResponseHeaders>;
  /**
   * The hot path's answers, frozen and shared by every request: the 200 with this body and the 304 a
   * revalidation with this variant's validators gets. The HTTP/1.1 wire writes each as one prepared
   * buffer (status line and Date rebuilt once a second, the serialised fields, the body).
   */
  ok: Readonly<ResponseDescription>;
  notModified: Readonly<ResponseDescription>;
}

export interface CachedFile {
  key: string;
  filePath: string;
  urlPath: string;
  size: number;
  mtimeMs: number;
  checkedAt: number;
  contentType: string;
  etag: string;
  lastModified: string;
  compressible: boolean;
  sidecars: Sidecar[];
  identity: CachedVariant;
  /** Compressed forms, filled in lazily. */
  encoded: Map<string, CachedVariant>;
  pending: Map<string, Promise<CachedVariant | null>>;
  /**
   * Accept-Encoding field value → the coding chosen for it (`identity` included), so the browsers'
   * handful of exact strings are negotiated once per file; bounded by NEGOTIATION_MEMO_ENTRIES.
   */
  negotiated: Map<string, string>;
  /** The Accept-Encoding value last looked up in `negotiated`, and its coding. */
  lastAcceptEncoding: string | null;
  lastCoding: string;
  bytes: number;
}

/** A byte-bounded LRU (Map iteration order is insertion order; a hit re-inserts). */
export class FileCache {
  readonly maxBytes: number;
  readonly maxFileBytes: number;
  readonly revalidateMs: number;
  private readonly entries = new Map<string, CachedFile>();
  private totalBytes = 0;
  /** For --metrics: fresh lookups answered, lookups that were not, and entries dropped for room. */
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(options: CacheOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    this.maxFileBytes = Math.min(options.maxFileBytes ?? DEFAULT_CACHE_MAX_FILE_BYTES, this.maxBytes);
    this.revalidateMs = options.revalidateMs ?? DEFAULT_REVALIDATE_MS;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** The entry for a key if it was checked recently enough to serve without touching the disk. */
  getFresh(key: string, now: number): CachedFile | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || now - entry.checkedAt >= this.revalidateMs) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Refresh recency only now and then: re-inserting on every hit would cost more than it buys.
    if (now - entry.checkedAt > this.revalidateMs / 2) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** The entry whatever its age (the caller revalidates it). */
  peek(key: string): CachedFile | undefined {
    return this.entries.get(key);
  }

  set(key: string, entry: CachedFile): void {
    this.delete(key);
    if (entry.bytes > this.maxFileBytes * 4) return;
    this.entries.set(key, entry);
    this.totalBytes += entry.bytes;
    this.evict();
  }

  /** Accounts for a compressed form added to an entry. */
  grow(entry: CachedFile, bytes: number): void {
    entry.bytes += bytes;
    if (this.entries.get(entry.key) === entry) {
      this.totalBytes += bytes;
      this.evict();
    }
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.entries.delete(key);
    this.totalBytes -= old.bytes;
  }

  /** Forgets everything (after a write under the root). */
  clear(): void {
    this.entries.clear();
    this.totalBytes = 0;
  }

  private evict(): void {
    while (this.totalBytes > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
      this.evictions++;
    }
  }
}
