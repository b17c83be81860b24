/**
 * The controls of the HTML listing as markup: the toolbar (search, the folder's archive downloads, the
 * selection download), the selection checkboxes, the upload and manage panel, and the size and time cells
 * with their exact values in a tooltip. Every control is a labelled form control in a plain HTML form, so
 * the page works without script; `listing-client.ts` enhances it.
 * @module
 */
import { escapeHtml } from './html.js';

/** A live region the script speaks through (upload results, errors of Rename, Delete, New folder). */
export const STATUS_REGION = '<p id="ui-status" role="status" aria-live="polite"></p>\n';

/** The search box, and with archives the download forms, above the table. */
export function toolbarMarkup(archives: boolean, search: boolean): string {
  let html = '<div id="toolbar">\n';
  if (search) {
    // A plain GET form: ?q=term on this folder searches the names below it, no script needed.
    html +=
      '<form role="search" method="get" action=""><input type="search" name="q" ' +
      'aria-label="Search names below this folder" placeholder="Search names"> ' +
      '<button type="submit">Search</button></form>\n';
  }
  if (archives) {
    // Buttons in GET forms: a crawler follows links, not forms, so no folder is archived by a bot.
    html +=
      '<form id="downloads" method="get" action="" aria-label="Download this folder">' +
      '<button type="submit" name="download" value="zip">Download folder (zip)</button>' +
      '<button type="submit" name="download" value="tar.gz">Download folder (tar.gz)</button></form>\n' +
      '<form id="selection" method="get" action="" aria-label="Download the selected entries">' +
      '<button type="submit" id="download-selected" name="download" value="selection">' +
      'Download selected (zip)</button> <span id="selection-count" aria-live="polite"></span></form>\n';
  }
  return `${html}</div>\n`;
}

/** The header cell of the selection column; its "select all" box appears with script. */
export const SELECTION_HEADER =
  '<th class="select" scope="col"><span class="visually-hidden">Select</span>' +
  '<input type="checkbox" id="select-all" aria-label="Select all entries" hidden></th>';

/** An entry's checkbox, submitted with the `#selection` form (it sits outside it, in the table). */
export function selectionCell(name: string): string {
  const escaped = escapeHtml(name);
  return (
    `<td class="select"><input type="checkbox" name="select" value="${escaped}" form="selection" ` +
    `aria-label="Select ${escaped}"></td>`
  );
}

/** The parent row's empty selection cell. */
export const EMPTY_SELECTION_CELL = '<td class="select"></td>';

/**
 * Upload and manage: without script a multipart POST form (answered `303` back here); the folder picker,
 * "New folder", the drop hint and the per-file transfer list come alive with script.
 */
export const MANAGE_PANEL = `<section id="manage" aria-label="Upload and manage">
<form id="upload" method="post" enctype="multipart/form-data" action="">
<label for="upload-files">Upload files</label> <input id="upload-files" type="file" name="file" multiple required>
<span id="folder-picker" hidden><label for="upload-folder">or a folder</label> <input id="upload-folder" type="file" webkitdirectory multiple></span>
<button type="submit">Upload</button>
<span id="drop-hint" hidden>or drop files and folders on this page</span>
</form>
<button type="button" id="new-folder" hidden>New folder</button>
<ul id="transfers" aria-label="Uploads" hidden></ul>
</section>
`;

/** `12,345,678` */
function groupDigits(value: number): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A file's size cell: the human size, the exact bytes in the tooltip. */
export function sizeCell(bytes: number, human: string): string {
  return `<td class="size" data-bytes="${bytes}" title="${groupDigits(bytes)} bytes">${human}</td>`;
}

/** A folder's size cell: how many entries it holds (`cap` or more: "10,000+ items"), when counted. */
export function folderSizeCell(items: number | null, cap: number, placeholder: string): string {
  if (items === null) return `<td class="size">${placeholder}</td>`;
  const shown =
    items >= cap ? `${groupDigits(cap)}+ items` : `${groupDigits(items)} item${items === 1 ? '' : 's'}`;
  return `<td class="size" data-items="${items}">${shown}</td>`;
}

/**
 * A time cell: UTC to the minute in the text (the script rewrites it in the viewer's zone), the exact UTC
 * time to the second in the tooltip.
 */
export function timeCell(iso: string | null, shown: string): string {
  if (iso === null) return '<td class="mtime"></td>';
  const exact = `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
  return `<td class="mtime"><time datetime="${iso}" title="${exact}">${shown}</time></td>`;
}
