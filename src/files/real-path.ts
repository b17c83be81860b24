/**
 * Where a URL path really leads under the root, and how the root's disk compares names: what access
 * rules need to match the way the disk matches (auth.ts).
 * @module
 */
import { opendirSync, statSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { isInside } from './resolve.js';

/**
 * The URL segments of the real path `segments` lead to under `root` (a real path itself): symlinks in the
 * existing part are resolved, names that do not exist yet are kept as given. Null when the path leads
 * outside the root or cannot be resolved.
 */
export async function realUrlSegments(root: string, segments: readonly string[]): Promise<string[] | null> {
  for (let existing = segments.length; existing >= 0; existing--) {
    let real: string;
    try {
      real = await realpath(path.join(root, ...segments.slice(0, existing)));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      return null;
    }
    if (!isInside(root, real)) return null;
    const relative = path.relative(root, real);
    return [...(relative === '' ? [] : relative.split(path.sep)), ...segments.slice(existing)];
  }
  return null;
}

/** What detection needs from the file system; a test can give a case-folding double. */
export interface CaseProbe {
  /** Some names in a folder (the first few are enough). */
  names(dir: string): Iterable<string>;
  /** The identity of what a path names (device and inode), or null when nothing is there. */
  identity(file: string): string | null;
}

/** Names tried before giving up on finding one with letters. */
const CASE_PROBE_MAX_NAMES = 100;

export const DISK_CASE_PROBE: CaseProbe = {
  *names(dir) {
    const handle = opendirSync(dir);
    try {
      for (let entry = handle.readSync(); entry !== null; entry = handle.readSync()) yield entry.name;
    } finally {
      handle.closeSync();
    }
  },
  identity(file) {
    try {
      const stats = statSync(file, { bigint: true });
      return `${stats.dev}:${stats.ino}`;
    } catch {
      return null;
    }
  },
};

/**
 * Whether the disk under `root` treats names differing only in case as the same (macOS and Windows do by
 * default): a name in the root with letters is looked up with its case swapped. Nothing is written. When
 * no name has letters, the root's own name is tried; failing that, the platform's default is assumed.
 */
export function detectCaseInsensitive(root: string, probe: CaseProbe = DISK_CASE_PROBE): boolean {
  const tryName = (dir: string, name: string): boolean | null => {
    const swapped = name === name.toUpperCase() ? name.toLowerCase() : name.toUpperCase();
    if (swapped === name) return null;
    const original = probe.identity(path.join(dir, name));
    if (original === null) return null;
    return probe.identity(path.join(dir, swapped)) === original;
  };
  try {
    let seen = 0;
    for (const name of probe.names(root)) {
      const answer = tryName(root, name);
      if (answer !== null) return answer;
      if (++seen >= CASE_PROBE_MAX_NAMES) break;
    }
  } catch {
    // An unreadable root is reported by the server itself; fall through to the other guesses.
  }
  const own = tryName(path.dirname(root), path.basename(root));
  if (own !== null) return own;
  return process.platform === 'darwin' || process.platform === 'win32';
}
