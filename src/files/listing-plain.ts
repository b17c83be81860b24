/**
 * The listing's machine formats: plain text (one name per line) and JSON (an array written element by
 * element, so it streams like the HTML).
 * @module
 */
import { isoTime, type ListingEntry, type ListingRenderer } from './listing-types.js';

/** One name per line, folders with a trailing '/'. Names are written as they are. */
export const textRenderer: ListingRenderer = {
  head: () => '',
  row: (entry) => `${entry.name}${entry.isDirectory ? '/' : ''}\n`,
  tail: () => '',
};

/** A JSON array written element by element; valid JSON only as a whole. */
export class JsonRenderer implements ListingRenderer {
  private rowsWritten = 0;

  head(): string {
    return '[';
  }

  row(entry: ListingEntry): string {
    const separator = this.rowsWritten === 0 ? '\n' : ',\n';
    this.rowsWritten++;
    const record = {
      name: entry.name,
      type: entry.isDirectory ? 'directory' : 'file',
      // A folder's stat size describes the directory file, not its contents, so it is not reported.
      size: entry.isDirectory ? null : entry.size,
      mtime: isoTime(entry.mtimeMs),
    };
    return separator + JSON.stringify(record);
  }

  tail(): string {
    return this.rowsWritten === 0 ? ']\n' : '\n]\n';
  }
}
