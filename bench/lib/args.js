// What every bench script needs from its command line and where the bench keeps its files.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/ */
export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The repository. */
export const REPO_DIR = resolve(BENCH_DIR, '..');
/** Scratch space: fixtures, builds, profiles (git-ignored). */
export const WORK_DIR = join(BENCH_DIR, '.work');
/** The generated files every server serves. */
export const FIXTURE_ROOT = join(WORK_DIR, 'root');

/** The value after `--name` (or in `--name=value`) on the command line, else `fallback`. */
export function option(name, fallback = undefined, argv = process.argv.slice(2)) {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  const joined = argv.find((arg) => arg.startsWith(`${name}=`));
  return joined === undefined ? fallback : joined.slice(name.length + 1);
}
