/**
 * The HTML listing: a complete, phone-friendly page with a breadcrumb, sortable columns, the search box,
 * the folder's download buttons and selection checkboxes, file-type icons, and (where the request may
 * write) the upload and manage panel; the README section goes below the table. The controls' markup is in
 * `listing-controls.ts`, their script in `listing-client.ts`. Every name and path goes through the one
 * HTML escaper (`html.ts`); every link is relative, so the page works behind any prefix.
 * @module
 */

import { FOLDER_COUNT_CAP } from './folder-count.js';
import { escapeHtml } from './html.js';
import { LISTING_SCRIPT, LISTING_UI_STYLE, LISTING_WRITE_SCRIPT } from './listing-client.js';
import {
  EMPTY_SELECTION_CELL,
  folderSizeCell,
  MANAGE_PANEL,
  SELECTION_HEADER,
  STATUS_REGION,
  selectionCell,
  sizeCell,
  timeCell,
  toolbarMarkup,
} from './listing-controls.js';
import { ICON_SPRITE, ICON_STYLE, iconKindOf, iconMarkup } from './listing-icons.js';
import {
  formatModifiedTime,
  formatSize,
  isoTime,
  LISTING_SORT_KEYS,
  type ListingEntry,
  type ListingOptions,
  type ListingOrder,
  type ListingRenderer,
  type ListingSortKey,
} from './listing-types.js';
import { MARKDOWN_STYLE } from './markdown.js';

/** Shown in the HTML size column for folders, whose stat size says nothing about their contents. */
const FOLDER_SIZE_PLACEHOLDER = '\u2014';

/**
 * Percent-encodes one path segment. `encodeURIComponent` throws on a lone surrogate, which a name can only
 * contain if it did not come from the file system as UTF-8; such a unit is encoded as U+FFFD instead.
 */
function encodePathSegment(segment: string): string {
  try {
    return encodeURIComponent(segment);
  } catch {
    return encodeURIComponent(
      segment.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'),
    );
  }
}

/** The listing page's style sheet, shared with search results. */
export const LISTING_HTML_STYLE = `
:root { color-scheme: light dark; font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
  --fg: #1b1b1b; --bg: #fff; --muted: #555; --link: #0645ad; --stripe: #f2f3f5; --line: #8a8a8a; --accent: #2a6df4; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e8e8e8; --bg: #121212; --muted: #b4b4b4; --link: #8ab4f8; --stripe: #1d1f22; --line: #6c6c6c; }
}
body { margin: 0 auto; max-width: 60rem; padding: 1rem; line-height: 1.4; color: var(--fg); background: var(--bg); }
h1 { font-size: 1.25rem; font-weight: 600; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; }
th, td { padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
thead th { border-bottom: 1px solid var(--line); white-space: nowrap; }
tbody tr:nth-child(even) { background: var(--stripe); }
td.name { overflow-wrap: anywhere; word-break: break-word; }
th.size, td.size { text-align: right; white-space: nowrap; }
td.mtime { white-space: nowrap; font-variant-numeric: tabular-nums; }
a { color: var(--link); text-underline-offset: 0.15em; }
td a, th a { text-decoration: none; }
td a:hover, td a:focus, th a:hover, th a:focus { text-decoration: underline; }
tr.dir a.name { font-weight: 600; }
footer { margin-top: 1rem; font-size: 0.85rem; color: var(--muted); }
form[role="search"] { margin: 0 0 0.75rem; }
@media (max-width: 32rem) {
  body { padding: 0.5rem; }
  th, td { padding: 0.4rem 0.25rem; }
  th.mtime, td.mtime { display: none; }
}
${ICON_STYLE}${LISTING_UI_STYLE}${MARKDOWN_STYLE}`;

const COLUMN_TITLES: Readonly<Record<ListingSortKey, string>> = {
  name: 'Name',
  size: 'Size',
  time: 'Modified',
};
const COLUMN_CLASSES: Readonly<Record<ListingSortKey, string>> = {
  name: 'name',
  size: 'size',
  time: 'mtime',
};

export class HtmlRenderer implements ListingRenderer {
  private folderCount = 0;
  private fileCount = 0;

  constructor(
    private readonly options: ListingOptions,
    private readonly sortKey: ListingSortKey,
    private readonly order: ListingOrder,
  ) {}

  head(): string {
    const urlPath = this.options.urlPath;
    const title = `Index of ${escapeHtml(urlPath)}`;
    const selecting = this.options.archiveLinks === true;
    const writable = this.options.uploadForm === true;
    const columns =
      (selecting ? SELECTION_HEADER : '') + LISTING_SORT_KEYS.map((key) => this.columnHeader(key)).join('');
    const parentRow = isRootPath(urlPath)
      ? ''
      : `<tr class="parent">${selecting ? EMPTY_SELECTION_CELL : ''}<td class="name">` +
        '<a class="parent" href="../">../</a></td><td class="size"></td><td class="mtime"></td></tr>\n';
    const bodyAttributes = writable ? ` data-write${this.options.moves === true ? ' data-move' : ''}` : '';
    return (
      '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
      '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
      `<title>${title}</title>\n<style>${LISTING_HTML_STYLE}</style>\n</head>\n<body${bodyAttributes}>\n` +
      ICON_SPRITE +
      `<header><h1 id="breadcrumb">Index of ${breadcrumb(urlPath)}</h1>\n` +
      toolbarMarkup(selecting, this.options.searchForm !== false) +
      `</header>\n<main>\n${writable ? MANAGE_PANEL : ''}${STATUS_REGION}` +
      `<table id="listing">\n<caption class="visually-hidden">Contents of ${escapeHtml(urlPath)}</caption>\n` +
      `<thead><tr>${columns}</tr></thead>\n<tbody>\n${parentRow}`
    );
  }

  row(entry: ListingEntry): string {
    const suffix = entry.isDirectory ? '/' : '';
    if (entry.isDirectory) this.folderCount++;
    else this.fileCount++;
    const href = escapeHtml(encodePathSegment(entry.name) + suffix);
    const size = entry.isDirectory
      ? folderSizeCell(entry.itemCount ?? null, FOLDER_COUNT_CAP, FOLDER_SIZE_PLACEHOLDER)
      : sizeCell(entry.size, formatSize(entry.size));
    const modified = timeCell(isoTime(entry.mtimeMs), formatModifiedTime(entry.mtimeMs));
    const select = this.options.archiveLinks === true ? selectionCell(entry.name) : '';
    const icon = iconMarkup(iconKindOf(entry.name, entry.isDirectory));
    return (
      `<tr class="${entry.isDirectory ? 'dir' : 'file'}">${select}<td class="name">` +
      `<a class="name" href="${href}">${icon}${escapeHtml(entry.name + suffix)}</a></td>${size}${modified}</tr>\n`
    );
  }

  tail(belowTable = ''): string {
    const summary = `${plural(this.folderCount, 'folder')}, ${plural(this.fileCount, 'file')}`;
    const software = this.options.serverSoftware;
    const serverPart =
      software === undefined || software === ''
        ? ''
        : ` \u00b7 <span id="server-software">${escapeHtml(software)}</span>`;
    return (
      `</tbody>\n</table>\n${belowTable}</main>\n` +
      `<footer><span id="summary">${summary}</span>${serverPart}</footer>\n` +
      LISTING_SCRIPT +
      (this.options.uploadForm === true ? LISTING_WRITE_SCRIPT : '') +
      '</body>\n</html>\n'
    );
  }

  /** A header link sorting by `key`: the active column toggles its order, the others start ascending. */
  private columnHeader(key: ListingSortKey): string {
    const active = key === this.sortKey;
    const nextOrder: ListingOrder = active && this.order === 'asc' ? 'desc' : 'asc';
    const ariaSort = active ? ` aria-sort="${this.order === 'asc' ? 'ascending' : 'descending'}"` : '';
    const arrow = active
      ? `<span aria-hidden="true">${this.order === 'asc' ? ' \u2191' : ' \u2193'}</span>`
      : '';
    const href = escapeHtml(`?sort=${key}&order=${nextOrder}`);
    return (
      `<th class="${COLUMN_CLASSES[key]}" scope="col"${ariaSort}>` +
      // nofollow: a crawler or `wget -r` would otherwise fetch the same folder once per sort order.
      `<a class="sort" rel="nofollow" href="${href}">${COLUMN_TITLES[key]}${arrow}</a></th>`
    );
  }
}

function isRootPath(urlPath: string): boolean {
  return urlPath === '/' || urlPath === '';
}

/**
 * `/ a/ b/ c/` where every ancestor is a relative link (`../../../`, `../../`, `../`) and the current folder
 * is plain text. Empty segments (from `//`) count, because the browser resolves `../` against them too.
 */
function breadcrumb(urlPath: string): string {
  const withoutLeading = urlPath.startsWith('/') ? urlPath.slice(1) : urlPath;
  const trimmed = withoutLeading.endsWith('/') ? withoutLeading.slice(0, -1) : withoutLeading;
  const segments = trimmed === '' ? [] : trimmed.split('/');
  const crumbs = ['/', ...segments.map((segment) => `${segment}/`)];
  return crumbs
    .map((label, index) => {
      const levelsUp = crumbs.length - 1 - index;
      if (levelsUp === 0) return `<span class="crumb" aria-current="page">${escapeHtml(label)}</span>`;
      return `<a class="crumb" href="${'../'.repeat(levelsUp)}">${escapeHtml(label)}</a>`;
    })
    .join('');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
