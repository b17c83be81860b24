/**
 * `?download=selection&select=a.txt&select=photos` on a folder: the checked entries of a listing as one
 * ZIP (or `&format=tar.gz`). The listing's checkboxes belong to a plain GET form, so it works without
 * script. A GET, not a POST: it only reads, so a read-only `--auth` rule allows it like any download.
 *
 * Every name is one entry of that folder, and each goes through the same path rules as a request for it
 * (decoding, dotfiles, symlink containment) and, with `--auth`, the same read check; what is below a
 * selected folder is walked with the whole-folder archive's filter. A name that fails any check refuses
 * the whole request before a byte is sent, so nobody gets an archive quietly missing what they chose.
 * @module
 */
import type { ArchiveEntry } from '../archive/entry.js';
import { decodeRequestPath, resolvePath } from '../files/resolve.js';
import type { ResponseDescription } from '../wire/message.js';
import { errorResponse } from './errors.js';
import {
  type ArchiveFormat,
  archiveFolderName,
  archiveResponse,
  type FolderRequest,
  type FolderToolsContext,
  folderArchiveEntries,
  walkedArchiveEntry,
} from './folder-tools.js';
import { PATH_REFUSAL_STATUS } from './refusals.js';

/** `download=` value that asks for the selected entries rather than the whole folder. */
export const SELECTION_DOWNLOAD = 'selection';
/** Query parameter naming one selected entry (repeated). */
export const SELECTION_PARAMETER = 'select';

/**
 * Most entries one selection may name. A GET's request line is capped at 8 KiB by the wire anyway
 * (`maxRequestLineBytes`); this bounds the work a long list of very short names could ask for.
 */
export const MAX_SELECTED_ENTRIES = 500;

/** Names of one selection in query order, duplicates and blanks dropped. */
export function selectedNamesOf(query: string): string[] {
  const names = new Set<string>();
  for (const name of new URLSearchParams(query).getAll(SELECTION_PARAMETER)) {
    if (name !== '') names.add(name);
  }
  return [...names];
}

/** Why `name` cannot be one entry of a folder, or null when it can. */
export function selectionNameProblem(name: string): string | null {
  if (name === '.' || name === '..') return `"${name}" is not an entry of this folder`;
  if (name.includes('/') || name.includes('\\')) {
    return 'a selected name is one entry of this folder, without "/" or "\\"';
  }
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'a selected name contains a control character';
  return null;
}

/** The archive format of a selection: `format=tar.gz` (or `tgz`), else ZIP. */
export function selectionFormatOf(query: string): ArchiveFormat {
  const value = new URLSearchParams(query).get('format')?.trim().toLowerCase();
  return value === 'tar.gz' || value === 'tgz' ? 'tar.gz' : 'zip';
}

interface SelectedEntry {
  name: string;
  filePath: string;
  /** Decoded URL path, with a trailing slash for folders. */
  urlPath: string;
  isDirectory: boolean;
  stats: import('node:fs').Stats;
}

export async function serveSelectionArchive(
  folder: FolderRequest,
  ctx: FolderToolsContext,
): Promise<ResponseDescription> {
  const { request } = folder;
  const refuse = (status: number, message: string) => errorResponse(status, message, request.headers.accept);
  const names = selectedNamesOf(request.query);
  if (names.length === 0) {
    return refuse(400, 'download=selection needs at least one select=<name> (tick an entry first)');
  }
  if (names.length > MAX_SELECTED_ENTRIES) {
    return refuse(400, `a selection may name at most ${MAX_SELECTED_ENTRIES} entries`);
  }
  const selected: SelectedEntry[] = [];
  for (const name of names) {
    const problem = selectionNameProblem(name);
    if (problem !== null) return refuse(400, problem);
    const decoded = decodeRequestPath(`${encodedFolderPath(folder.urlPath)}${encodeURIComponent(name)}`);
    if (decoded.kind === 'error')
      return refuse(PATH_REFUSAL_STATUS[decoded.refusal], `${name}: ${decoded.message}`);
    const resolution = await resolvePath(decoded, {
      root: ctx.root,
      dotfiles: ctx.dotfiles,
      followSymlinks: ctx.followSymlinks,
    });
    if (resolution.kind === 'error')
      return refuse(PATH_REFUSAL_STATUS[resolution.refusal], `${name}: ${resolution.message}`);
    const { filePath, urlPath, stats } = resolution;
    if (ctx.mayRead !== undefined && !(await ctx.mayRead(request, encodedFolderPath(urlPath)))) {
      return refuse(403, `${name}: the --auth rules do not let this request read it`);
    }
    selected.push({ name, filePath, urlPath, isDirectory: resolution.kind === 'directory', stats });
  }
  const folderName = archiveFolderName(folder.urlPath, ctx.root);
  return archiveResponse(
    request,
    selectionFormatOf(request.query),
    folderName,
    selectionEntries(folder, selected, folderName, ctx),
    ctx,
  );
}

/** The percent-encoded form of a decoded URL path (each segment encoded, slashes kept). */
function encodedFolderPath(urlPath: string): string {
  return urlPath.split('/').map(encodeURIComponent).join('/');
}

/** Each selected entry inside a top folder named after the listed one, folders with all they hold. */
async function* selectionEntries(
  folder: FolderRequest,
  selected: readonly SelectedEntry[],
  folderName: string,
  ctx: FolderToolsContext,
): AsyncGenerator<ArchiveEntry, void, undefined> {
  for (const entry of selected) {
    const name = `${folderName}/${entry.name}`;
    yield walkedArchiveEntry(name, { ...entry, absolutePath: entry.filePath });
    if (entry.isDirectory) {
      yield* folderArchiveEntries({ ...folder, dirPath: entry.filePath, urlPath: entry.urlPath }, name, ctx);
    }
  }
}
