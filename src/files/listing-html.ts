/**
 * The HTML listing: a complete, phone-friendly page with a breadcrumb, sortable columns, the folder's
 * archive links and search box, and (with uploads on) an upload form. Every name and path goes through
 * the one HTML escaper (`html.ts`); every link is relative, so the page works behind any prefix.
 * @module
 */
import { escapeHtml } from './html.js';
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
:root { color-scheme: light dark; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
body { margin: 0 auto; max-width: 60rem; padding: 1rem; line-height: 1.4; }
h1 { font-size: 1.25rem; font-weight: 600; overflow-wrap: anywhere; }
h1 a { text-decoration: none; }
table { width: 100%; border-collapse: collapse; }
th, td { padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
thead th { border-bottom: 1px solid #8886; white-space: nowrap; }
tbody tr:nth-child(even) { background: #8881; }
td.name { overflow-wrap: anywhere; word-break: break-word; }
th.size, td.size { text-align: right; white-space: nowrap; }
td.mtime { white-space: nowrap; font-variant-numeric: tabular-nums; }
a { text-decoration: none; }
a:hover, a:focus { text-decoration: underline; }
tr.dir a.name { font-weight: 600; }
form#upload { margin-top: 1rem; display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; }
footer { margin-top: 1rem; font-size: 0.85rem; opacity: 0.75; }
form[role="search"] { margin: 0 0 0.75rem; }
@media (max-width: 32rem) {
  body { padding: 0.5rem; }
  th, td { padding: 0.4rem 0.25rem; }
  th.mtime, td.mtime { display: none; }
}
`;

/**
 * The upload form. Without script it is a plain multipart POST answered with 303 back here; with script,
 * XMLHttpRequest sends the same form so the bar can show upload progress, then the listing reloads.
 */
const UPLOAD_FORM = `<form id="upload" method="post" enctype="multipart/form-data" action="">
<label>Upload files: <input id="upload-files" type="file" name="file" multiple required></label>
<button type="submit">Upload</button>
<progress id="upload-progress" max="1" value="0" hidden></progress>
<span id="upload-status" role="status"></span>
</form>
<script>
(function () {
  var form = document.getElementById('upload');
  var bar = document.getElementById('upload-progress');
  var status = document.getElementById('upload-status');
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('Accept', 'application/json');
    bar.hidden = false;
    bar.value = 0;
    status.textContent = 'Uploading\u2026';
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    xhr.onload = function () {
      if (xhr.status >= 200 && xhr.status < 300) { status.textContent = 'Done'; location.reload(); }
      else status.textContent = xhr.responseText;
    };
    xhr.onerror = function () { status.textContent = 'The upload failed: the connection was lost.'; };
    xhr.send(new FormData(form));
  });
})();
</script>
`;

/** This folder as one download; nofollow, so a crawler or mirror does not archive every folder it visits. */
const ARCHIVE_LINKS =
  '<p id="downloads">Download this folder as ' +
  '<a class="download" rel="nofollow" href="?download=zip" download>zip</a> or ' +
  '<a class="download" rel="nofollow" href="?download=tar.gz" download>tar.gz</a></p>\n';

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
    const columns = LISTING_SORT_KEYS.map((key) => this.columnHeader(key)).join('');
    const parentRow = isRootPath(urlPath)
      ? ''
      : '<tr class="parent"><td class="name"><a class="parent" href="../">../</a></td>' +
        '<td class="size"></td><td class="mtime"></td></tr>\n';
    return (
      '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
      '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
      `<title>${title}</title>\n<style>${LISTING_HTML_STYLE}</style>\n</head>\n<body>\n` +
      `<h1 id="breadcrumb">Index of ${breadcrumb(urlPath)}</h1>\n` +
      (this.options.archiveLinks === true ? ARCHIVE_LINKS : '') +
      // A plain GET form: ?q=term on this folder searches the names below it, no script needed.
      '<form role="search" method="get" action=""><input type="search" name="q" ' +
      'aria-label="Search names below this folder" placeholder="Search names"> ' +
      '<button type="submit">Search</button></form>\n' +
      `<table id="listing">\n<thead><tr>${columns}</tr></thead>\n<tbody>\n${parentRow}`
    );
  }

  row(entry: ListingEntry): string {
    const suffix = entry.isDirectory ? '/' : '';
    if (entry.isDirectory) this.folderCount++;
    else this.fileCount++;
    const href = escapeHtml(encodePathSegment(entry.name) + suffix);
    const size = entry.isDirectory
      ? `<td class="size">${FOLDER_SIZE_PLACEHOLDER}</td>`
      : `<td class="size" data-bytes="${entry.size}">${formatSize(entry.size)}</td>`;
    const iso = isoTime(entry.mtimeMs);
    const modified =
      iso === null
        ? '<td class="mtime"></td>'
        : `<td class="mtime"><time datetime="${iso}">${formatModifiedTime(entry.mtimeMs)}</time></td>`;
    return (
      `<tr class="${entry.isDirectory ? 'dir' : 'file'}"><td class="name">` +
      `<a class="name" href="${href}">${escapeHtml(entry.name + suffix)}</a></td>${size}${modified}</tr>\n`
    );
  }

  tail(): string {
    const summary = `${plural(this.folderCount, 'folder')}, ${plural(this.fileCount, 'file')}`;
    const software = this.options.serverSoftware;
    const serverPart =
      software === undefined || software === ''
        ? ''
        : ` \u00b7 <span id="server-software">${escapeHtml(software)}</span>`;
    return (
      '</tbody>\n</table>\n' +
      (this.options.uploadForm === true ? UPLOAD_FORM : '') +
      `<footer><span id="summary">${summary}</span>${serverPart}</footer>\n</body>\n</html>\n`
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
      `<th class="${COLUMN_CLASSES[key]}"${ariaSort}>` +
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
