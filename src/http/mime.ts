/**
 * Content-Type selection from file names, backed by mime-db rather than a table of our own, so updates
 * come with the dependency. The extension index is built from mime-db directly (about a millisecond)
 * instead of through mime-types, whose eager scoring of every type costs more start-up time than all of
 * the rest of docroot.
 * @module
 */
import mimeDb from 'mime-db';

/** Sent for files whose type is unknown: "arbitrary binary data", RFC 2046 §4.5.1. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/**
 * Extensions mime-db has no entry for at all, but which are plain source text a browser should display
 * rather than download. Only extensions mime-db does not know belong here, never corrections to its
 * choices, so the dependency stays the single source of truth.
 */
export const EXTENSION_TYPE_OVERRIDES: Readonly<Record<string, string>> = {
  py: 'text/x-python',
  rb: 'text/x-ruby',
  go: 'text/x-go',
  diff: 'text/x-diff',
  patch: 'text/x-diff',
};

/**
 * Types mime-db marks compressible that we do not compress. `application/octet-stream` is where every
 * unknown file lands (and mime-db files .deb, .dmg, .iso, .msi under it, which are compressed already),
 * so compressing it would mostly burn CPU for nothing.
 */
export const INCOMPRESSIBLE_TYPE_OVERRIDES: ReadonlySet<string> = new Set([DEFAULT_CONTENT_TYPE]);

/**
 * Where a type's entry in mime-db came from, least trusted first: when two types claim one extension, the
 * one from the more authoritative source wins (IANA over Apache over nginx), and on a tie a specific type
 * wins over an `application/*` one — the rule mime-types 2 used.
 */
const SOURCE_PREFERENCE: readonly (string | undefined)[] = ['nginx', 'apache', undefined, 'iana'];

let typesByExtension: Map<string, string> | null = null;

function extensionIndex(): Map<string, string> {
  if (typesByExtension !== null) return typesByExtension;
  const index = new Map<string, string>();
  for (const type in mimeDb) {
    const entry = mimeDb[type]!;
    const extensions = entry.extensions;
    if (extensions === undefined) continue;
    for (const extension of extensions) {
      const existing = index.get(extension);
      if (existing !== undefined && existing !== DEFAULT_CONTENT_TYPE) {
        const from = SOURCE_PREFERENCE.indexOf(mimeDb[existing]?.source);
        const to = SOURCE_PREFERENCE.indexOf(entry.source);
        if (from > to || (from === to && existing.startsWith('application/'))) continue;
      }
      index.set(extension, type);
    }
  }
  typesByExtension = index;
  return index;
}

/** mime-db's charset for a type, with text/* defaulting to UTF-8 (RFC 6657 leaves the default to each type). */
function charsetOf(type: string): string | undefined {
  return mimeDb[type]?.charset ?? (type.startsWith('text/') ? 'UTF-8' : undefined);
}

/** The extension of the last path segment, lower-cased, without the dot; '' when there is none. */
function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  if (dot < 0) return '';
  const slash = Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\'));
  return dot > slash + 1 ? fileName.slice(dot + 1).toLowerCase() : '';
}

/**
 * The Content-Type for a file name (RFC 9110 §8.3). Types whose default charset mime-db gives as
 * UTF-8 (all `text/*`, and JSON, JavaScript and the like) get `; charset=utf-8` so browsers do not guess.
 * XML and SVG carry their encoding in the document itself, so mime-db gives them no charset and neither
 * do we: a header charset would override the document's declaration.
 * Unknown extensions give `application/octet-stream`.
 */
export function contentTypeFor(fileName: string): string {
  const extension = extensionOf(fileName);
  if (extension === '') return DEFAULT_CONTENT_TYPE;
  const type = EXTENSION_TYPE_OVERRIDES[extension] ?? extensionIndex().get(extension);
  if (type === undefined) return DEFAULT_CONTENT_TYPE;
  const charset = charsetOf(type);
  return charset !== undefined && charset.toLowerCase() === 'utf-8' ? `${type}; charset=utf-8` : type;
}

/**
 * Whether a body of this Content-Type is worth compressing: mime-db's `compressible` flag (except for
 * {@link INCOMPRESSIBLE_TYPE_OVERRIDES}), else true for `text/*` and false for anything else (unknown
 * binary formats are usually already compressed). Parameters such as charset are ignored.
 */
export function isCompressibleType(contentType: string): boolean {
  const semicolon = contentType.indexOf(';');
  const type = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  if (INCOMPRESSIBLE_TYPE_OVERRIDES.has(type)) return false;
  const flag = mimeDb[type]?.compressible;
  return flag ?? type.startsWith('text/');
}
