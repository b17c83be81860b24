/**
 * Watching a folder tree for `--watch`: one recursive `fs.watch` (inotify on Linux, FSEvents on macOS),
 * with a bounded per-folder fallback where recursive watching is not available. Bursts of events (an
 * editor's save writes, renames and touches) are debounced into one report of the paths that changed.
 * Imported with import() only when live reload is on.
 * @module
 */
import { type FSWatcher, readdirSync, watch } from 'node:fs';
import path from 'node:path';

/** Editors save in several steps; one report per burst is what a reloading page wants. */
export const DEFAULT_DEBOUNCE_MS = 100;
/** The fallback watches one folder per watcher; stop adding past this many (inotify limits are finite). */
const MAX_FALLBACK_FOLDERS = 4096;

export interface TreeWatchOptions {
  debounceMs?: number;
  /** Called with root-relative paths ('/'-separated) once a burst of changes has settled. */
  onChange(relativePaths: string[]): void;
  /** Relative paths to leave out (hidden files, say); checked per event. */
  ignore?(relativePath: string): boolean;
  onError?(error: unknown): void;
}

export interface TreeWatcher {
  close(): void;
}

export function watchTree(root: string, options: TreeWatchOptions): TreeWatcher {
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const flush = () => {
    timer = null;
    if (closed || pending.size === 0) return;
    const paths = [...pending].sort();
    pending.clear();
    options.onChange(paths);
  };
  const record = (relativePath: string) => {
    const normalised = relativePath.split(path.sep).join('/');
    if (options.ignore?.(normalised)) return;
    pending.add(normalised);
    // Trailing debounce: report once the burst has been quiet for debounceMs.
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(flush, debounceMs);
  };
  const onError = (error: unknown) => options.onError?.(error);

  let watchers: FSWatcher[];
  try {
    const recursive = watch(root, { recursive: true }, (_event, name) => {
      if (name !== null) record(name.toString());
    });
    recursive.on('error', onError);
    watchers = [recursive];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM') throw error;
    watchers = watchEachFolder(root, record, onError, options.ignore);
  }
  return {
    close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}

/** One non-recursive watcher per folder; folders created later are picked up when their parent reports. */
function watchEachFolder(
  root: string,
  record: (relativePath: string) => void,
  onError: (error: unknown) => void,
  ignore: ((relativePath: string) => boolean) | undefined,
): FSWatcher[] {
  const watchers: FSWatcher[] = [];
  const watched = new Set<string>();
  const add = (relativeFolder: string) => {
    if (watched.has(relativeFolder) || watched.size >= MAX_FALLBACK_FOLDERS) return;
    const absolute = path.join(root, relativeFolder);
    let watcher: FSWatcher;
    try {
      watcher = watch(absolute, (_event, name) => {
        if (name === null) return;
        const relative = relativeFolder === '' ? name.toString() : `${relativeFolder}/${name.toString()}`;
        record(relative);
        addTree(relative);
      });
    } catch {
      return; // Gone already, or not a folder.
    }
    watcher.on('error', onError);
    watched.add(relativeFolder);
    watchers.push(watcher);
  };
  const addTree = (relativeFolder: string) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(path.join(root, relativeFolder), { withFileTypes: true });
    } catch {
      return;
    }
    add(relativeFolder);
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const child = relativeFolder === '' ? entry.name : `${relativeFolder}/${entry.name}`;
      if (!ignore?.(child)) addTree(child);
    }
  };
  addTree('');
  return watchers;
}
