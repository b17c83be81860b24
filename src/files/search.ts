/**
 * `?q=term` on a folder: the names below it that contain the term (case-insensitive), streamed in the
 * listing formats as they are found. The walk is breadth-first (shallow matches first) and bounded in
 * depth, time and count, so one request cannot walk a huge tree for ever; when a bound stops it, the
 * results so far are followed by a note saying which.
 * @module
 */
import { Readable } from 'node:stream';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { escapeHtml } from './html.js';
import { LISTING_HTML_STYLE } from './listing-html.js';
import { formatModifiedTime, formatSize, type ListingFormat } from './listing-types.js';
import { type WalkEntry, walkTree } from './walk.js';

export interface SearchLimits {
  /** Folder levels below the searched folder that are entered. */
  maxDepth: number;
  /** Results before the search stops. */
  maxResults: number;
  /** Milliseconds of walking before the search stops. */
  timeLimitMs: number;
}

export const DEFAULT_SEARCH_LIMITS: SearchLimits = { maxDepth: 16, maxResults: 1000, timeLimitMs: 5000 };

/** Entries examined between yields to the event loop, so a big tree never starves other connections. */
const ENTRIES_PER_YIELD = 256;
const STREAM_HIGH_WATER_MARK_BYTES = 64 * 1024;

export interface SearchOptions {
  root: string;
  /** Absolute real path of the folder searched. */
  dirPath: string;
  /** Decoded URL path of the folder, ending in '/'. */
  urlPath: string;
  term: string;
  format: ListingFormat;
  dotfiles: boolean;
  limits: SearchLimits;
  serverSoftware?: string;
  /** Access rules: entries (and folders' contents) it refuses are not searched. */
  include?: (relativePath: string, isDirectory: boolean) => Promise<boolean>;
}

type StopReason = 'time' | 'count' | null;

interface SearchRenderer {
  head(): string;
  row(entry: WalkEntry): string;
  tail(stop: StopReason): string;
}

export function renderSearch(options: SearchOptions): Readable {
  return Readable.from(generateSearch(options), {
    objectMode: false,
    highWaterMark: STREAM_HIGH_WATER_MARK_BYTES,
  });
}

async function* generateSearch(options: SearchOptions): AsyncGenerator<Buffer, void, undefined> {
  const needle = options.term.toLowerCase();
  const deadline = Date.now() + options.limits.timeLimitMs;
  const renderer = createRenderer(options);
  yield Buffer.from(renderer.head(), 'utf8');
  let stop: StopReason = null;
  let found = 0;
  let examined = 0;
  let chunk = '';
  // The search never leaves the root through a symlink, whatever --follow-symlinks says: a walk that may
  // wander the whole file system is not something to offer to anyone who can type in a box.
  const walk = walkTree({
    root: options.root,
    start: options.dirPath,
    dotfiles: options.dotfiles,
    followSymlinks: false,
    maxDepth: options.limits.maxDepth,
    order: 'breadth-first',
    shouldStop: () => Date.now() >= deadline,
    ...(options.include !== undefined ? { include: options.include } : {}),
  });
  for await (const entry of walk) {
    if (Date.now() >= deadline) {
      stop = 'time';
      break;
    }
    if (entry.name.toLowerCase().includes(needle)) {
      if (found === options.limits.maxResults) {
        stop = 'count';
        break;
      }
      found++;
      chunk += renderer.row(entry);
    }
    if (++examined % ENTRIES_PER_YIELD === 0) {
      if (chunk !== '') yield Buffer.from(chunk, 'utf8');
      chunk = '';
      await yieldToEventLoop();
    }
  }
  if (stop === null && Date.now() >= deadline) stop = 'time';
  if (chunk !== '') yield Buffer.from(chunk, 'utf8');
  yield Buffer.from(renderer.tail(stop), 'utf8');
}

function stopNote(stop: StopReason, limits: SearchLimits): string | null {
  if (stop === 'time')
    return `search stopped after ${limits.timeLimitMs / 1000} s; these are the results so far`;
  if (stop === 'count')
    return `search stopped at ${limits.maxResults} results; narrow the term to see others`;
  return null;
}

function createRenderer(options: SearchOptions): SearchRenderer {
  switch (options.format) {
    case 'text':
      return {
        head: () => '',
        row: (entry) => `${entry.relativePath}${entry.isDirectory ? '/' : ''}\n`,
        // A '#' line cannot be mistaken for the end of the results by a reader that looks for it.
        tail: (stop) => {
          const note = stopNote(stop, options.limits);
          return note === null ? '' : `# ${note}\n`;
        },
      };
    case 'json':
      return new JsonSearchRenderer(options);
    case 'html':
      return new HtmlSearchRenderer(options);
  }
}

/** `{"query":…,"results":[…],"complete":…,"note":…}`, written element by element. */
class JsonSearchRenderer implements SearchRenderer {
  private rows = 0;
  constructor(private readonly options: SearchOptions) {}

  head(): string {
    return `{"query":${JSON.stringify(this.options.term)},"results":[`;
  }

  row(entry: WalkEntry): string {
    const separator = this.rows++ === 0 ? '\n' : ',\n';
    return (
      separator +
      JSON.stringify({
        path: entry.relativePath,
        type: entry.isDirectory ? 'directory' : 'file',
        size: entry.isDirectory ? null : entry.stats.size,
        mtime: new Date(entry.stats.mtimeMs).toISOString(),
      })
    );
  }

  tail(stop: StopReason): string {
    const note = stopNote(stop, this.options.limits);
    return `${this.rows === 0 ? '' : '\n'}],"complete":${stop === null},"note":${JSON.stringify(note)}}\n`;
  }
}

class HtmlSearchRenderer implements SearchRenderer {
  private rows = 0;
  constructor(private readonly options: SearchOptions) {}

  head(): string {
    const where = escapeHtml(this.options.urlPath);
    const term = escapeHtml(this.options.term);
    return (
      '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
      '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
      `<title>Search for ${term} in ${where}</title>\n<style>${LISTING_HTML_STYLE}</style>\n</head>\n<body>\n` +
      `<h1>Names containing \u201c${term}\u201d in <a href="./">${where}</a></h1>\n` +
      `<form role="search" method="get" action="./"><input type="search" name="q" value="${term}" ` +
      'aria-label="Search names below this folder"> <button type="submit">Search</button></form>\n' +
      '<table id="results">\n<thead><tr><th class="name">Name</th><th class="size">Size</th>' +
      '<th class="mtime">Modified</th></tr></thead>\n<tbody>\n'
    );
  }

  row(entry: WalkEntry): string {
    this.rows++;
    const suffix = entry.isDirectory ? '/' : '';
    const href = escapeHtml(entry.relativePath.split('/').map(encodeURIComponent).join('/') + suffix);
    const size = entry.isDirectory ? '\u2014' : formatSize(entry.stats.size);
    return (
      `<tr class="${entry.isDirectory ? 'dir' : 'file'}"><td class="name"><a class="name" href="${href}">` +
      `${escapeHtml(entry.relativePath + suffix)}</a></td><td class="size">${size}</td>` +
      `<td class="mtime">${formatModifiedTime(entry.stats.mtimeMs)}</td></tr>\n`
    );
  }

  tail(stop: StopReason): string {
    const note = stopNote(stop, this.options.limits);
    const summary = `${this.rows} ${this.rows === 1 ? 'match' : 'matches'}`;
    return (
      '</tbody>\n</table>\n' +
      (note === null ? '' : `<p id="search-note" role="status">${escapeHtml(note)}</p>\n`) +
      `<footer><span id="summary">${summary}</span></footer>\n</body>\n</html>\n`
    );
  }
}
