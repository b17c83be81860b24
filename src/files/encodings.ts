/**
 * Compressed representations: precompressed sidecar files (`a.css.br` beside `a.css`) and on-the-fly
 * compression with node:zlib. zstd is offered only where the running Node has it (22.15+/23.8+).
 * @module
 */
import { stat } from 'node:fs/promises';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';

export type ContentCoding = 'br' | 'zstd' | 'gzip';

/** File name suffix of each coding's precompressed sidecar. */
export const SIDECAR_SUFFIXES = { br: '.br', zstd: '.zst', gzip: '.gz' } as const satisfies Record<
  ContentCoding,
  string
>;

type ZstdZlib = typeof zlib & {
  createZstdCompress?: (options?: object) => Transform;
  zstdCompress?: (data: Buffer, callback: (error: Error | null, result: Buffer) => void) => void;
};
const zlibWithZstd = zlib as ZstdZlib;

export const ZSTD_AVAILABLE = typeof zlibWithZstd.createZstdCompress === 'function';

/** Codings the server can produce itself, best first: brotli is smallest, zstd fastest, gzip universal. */
export const ON_THE_FLY_CODINGS: readonly ContentCoding[] = ZSTD_AVAILABLE
  ? ['br', 'zstd', 'gzip']
  : ['br', 'gzip'];

/** Bodies smaller than this gain too little from compression to pay for it. */
export const COMPRESSION_MIN_BYTES = 1024;

/** Brotli quality while streaming (speed matters) and for cached bodies (compressed once, served often). */
const BROTLI_STREAM_QUALITY = 5;
const BROTLI_CACHED_QUALITY = 9;

export interface Sidecar {
  coding: ContentCoding;
  path: string;
  size: number;
}

/**
 * Sidecars present for `filePath` that are at least as new as the file itself, so a stale `.gz` left
 * behind after an edit is never served.
 */
export async function findSidecars(filePath: string, mtimeMs: number): Promise<Sidecar[]> {
  const found: Sidecar[] = [];
  await Promise.all(
    (Object.keys(SIDECAR_SUFFIXES) as ContentCoding[]).map(async (coding) => {
      const sidecarPath = filePath + SIDECAR_SUFFIXES[coding];
      try {
        const stats = await stat(sidecarPath);
        if (stats.isFile() && stats.mtimeMs >= mtimeMs)
          found.push({ coding, path: sidecarPath, size: stats.size });
      } catch {
        // No sidecar for this coding.
      }
    }),
  );
  return found;
}

export function createCompressor(coding: ContentCoding, sizeHint: number): Transform {
  switch (coding) {
    case 'br':
      return zlib.createBrotliCompress({
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_STREAM_QUALITY,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: sizeHint,
        },
      });
    case 'gzip':
      return zlib.createGzip();
    case 'zstd': {
      const create = zlibWithZstd.createZstdCompress;
      if (create === undefined) throw new Error('zstd is not available in this Node version');
      return create();
    }
  }
}

/** Bodies compressed for the cache so far (each should be compressed once: an observable for tests). */
let buffersCompressed = 0;

export function buffersCompressedSoFar(): number {
  return buffersCompressed;
}

export function compressBuffer(coding: ContentCoding, data: Buffer): Promise<Buffer> {
  buffersCompressed++;
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, result: Buffer) => (error ? reject(error) : resolve(result));
    switch (coding) {
      case 'br':
        zlib.brotliCompress(
          data,
          {
            params: {
              [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_CACHED_QUALITY,
              [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
            },
          },
          done,
        );
        return;
      case 'gzip':
        zlib.gzip(data, { level: 9 }, done);
        return;
      case 'zstd': {
        const compress = zlibWithZstd.zstdCompress;
        if (compress === undefined) {
          reject(new Error('zstd is not available in this Node version'));
          return;
        }
        compress(data, done);
        return;
      }
    }
  });
}
