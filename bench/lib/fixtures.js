// The fixture tree served by every contender: bench/.work/root.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const GIB = 1024 ** 3;
export const LIST_COUNT = 10_000;

function ensureFile(path, size, make) {
  if (existsSync(path) && statSync(path).size === size) return;
  writeFileSync(path, make());
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
