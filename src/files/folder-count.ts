/**
 * How many entries a folder holds, for the HTML listing's size column. Counting reads every subfolder,
 * so it is bounded twice: only listings with at most FOLDER_COUNT_MAX_FOLDERS subfolders count them,
 * and each count stops at FOLDER_COUNT_CAP entries (shown as "10,000+ items").
 * @module
 */
import { opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { isServerOwnName } from './resolve.js';

/** Listings with more subfolders than this show no counts: each count is a directory read. */
export const FOLDER_COUNT_MAX_FOLDERS = 1000;
/** A count stops here; the listing then says "10,000+ items". */
export const FOLDER_COUNT_CAP = 10_000;

/**
 * Entries in `name` under `dirPath` that a listing of it would show (dotfiles only with `showDotfiles`,
 * never the server's own names), up to FOLDER_COUNT_CAP; null when it cannot be read.
 */
export async function countFolderItems(
  dirPath: string,
  name: string,
  showDotfiles: boolean,
): Promise<number | null> {
  let count = 0;
  try {
    const directory = await opendir(join(dirPath, name), { bufferSize: 256 });
    // Breaking out of for-await closes the handle.
    for await (const dirent of directory) {
      if (!showDotfiles && dirent.name.startsWith('.')) continue;
      if (isServerOwnName(dirent.name)) continue;
      if (++count >= FOLDER_COUNT_CAP) break;
    }
  } catch {
    return null;
  }
  return count;
}
