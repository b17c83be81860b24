// The fixture tree served by every contender: bench/.work/root.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const GIB = 1024 ** 3;
export const LIST_COUNT = 10_000;

function ensureFile(path, size, make) {
  if (existsSync(path) && statSync(path).size === size) return;
  writeFileSync(path, make());
}

function textOfSize(line, size) {
  return Buffer.from(line.repeat(Math.ceil(size / line.length)).slice(0, size));
}

/** The file and its `.gz` sidecar (same mtime order as a build leaves: the sidecar is not older). */
function ensureText(path, bytes) {
  ensureFile(path, bytes.length, () => bytes);
  const gz = gzipSync(bytes, { level: 9 });
  ensureFile(`${path}.gz`, gz.length, () => gz);
}

export function makeFixtures(root) {
  mkdirSync(root, { recursive: true });
  ensureFile(join(root, '1k.bin'), 1024, () => randomBytes(1024));
  ensureFile(join(root, '1k.html'), 1024, () => {
    const head = '<!doctype html><html><head><title>1k</title></head><body><p>';
    const tail = '</p></body></html>\n';
    return Buffer.from(head + 'x'.repeat(1024 - head.length - tail.length) + tail);
  });
  ensureFile(join(root, '100k.bin'), 100 * 1024, () => randomBytes(100 * 1024));
  // What a browser fetches: a 1 KB stylesheet and a 20 KB script (compressible text), each with a
  // precompressed .gz sidecar, as a build step would leave them (nginx serves it with gzip_static on).
  ensureText(join(root, 'b1k.css'), textOfSize('.box{margin:0 auto;padding:4px 8px;color:#333;}\n', 1024));
  ensureText(
    join(root, 'b20k.js'),
    textOfSize('export function add(a, b) { return a + b; } // helpers for the page\n', 20 * 1024),
  );
  const big = join(root, '1g.bin');
  if (!existsSync(big) || statSync(big).size !== GIB) {
    writeFileSync(big, '');
    truncateSync(big, GIB); // sparse: reads as zeros, takes no disk space
  }
  const dir = join(root, 'list10k');
  mkdirSync(dir, { recursive: true });
  if (readdirSync(dir).length !== LIST_COUNT) {
    for (let i = 0; i < LIST_COUNT; i++) {
      const name = `file-${String(i).padStart(5, '0')}.txt`;
      const p = join(dir, name);
      if (!existsSync(p)) writeFileSync(p, `${name}\n`);
    }
  }
  return root;
}
