/**
 * File-type icons for the HTML listing: inline SVG symbols defined once per page and referenced by each
 * row with `<use>`, so there is no icon font, no image request and only a few bytes per row. Icons are
 * decoration (`aria-hidden`): the name and the trailing `/` of folders already say what an entry is.
 * @module
 */

export type IconKind = 'folder' | 'file' | 'text' | 'image' | 'audio' | 'video' | 'archive' | 'code' | 'pdf';

/** 16×16 outlines drawn with `currentColor`, so they follow the text colour in light and dark mode. */
const ICON_PATHS: Readonly<Record<IconKind, string>> = {
  folder: 'M1.5 3.5h4.5l1.5 1.5h7v8h-13z',
  file: 'M3.5 1.5h6l3 3v10h-9z M9.5 1.5v3h3',
  text: 'M3.5 1.5h6l3 3v10h-9z M9.5 1.5v3h3 M5.5 7.5h5 M5.5 9.5h5 M5.5 11.5h3',
  image: 'M1.5 2.5h13v11h-13z M1.5 11.5l4-4 3 3 2-2 4 4 M10.5 5.5h.01',
  audio:
    'M6.5 12.5v-9l7-2v9 M6.5 12.5a2 1.5 0 1 1-4 0a2 1.5 0 1 1 4 0 M13.5 10.5a2 1.5 0 1 1-4 0a2 1.5 0 1 1 4 0',
  video: 'M1.5 3.5h13v9h-13z M6.5 5.5v5l4-2.5z',
  archive: 'M2.5 1.5h11v13h-11z M7.5 1.5v2h1v2h-1v2h1v2h-1 M6.5 10.5h3v2.5h-3z',
  code: 'M5.5 4.5l-4 3.5 4 3.5 M10.5 4.5l4 3.5-4 3.5 M9 2.5l-2 11',
  pdf: 'M3.5 1.5h6l3 3v10h-9z M9.5 1.5v3h3 M5 11.5h6 M5 9h6',
};

const EXTENSION_KINDS: Readonly<Record<string, IconKind>> = {};
function register(kind: IconKind, extensions: string): void {
  for (const extension of extensions.split(' '))
    (EXTENSION_KINDS as Record<string, IconKind>)[extension] = kind;
}
register('text', 'txt md markdown rst csv tsv log ini conf cfg toml yaml yml rtf tex');
register('image', 'png jpg jpeg gif webp avif svg ico bmp tif tiff heic jxl');
register('audio', 'mp3 ogg oga opus flac wav m4a aac weba mid midi');
register('video', 'mp4 m4v webm mkv mov avi ogv mpg mpeg');
register('archive', 'zip tar gz tgz bz2 xz zst 7z rar iso deb rpm jar war apk dmg');
register(
  'code',
  'js mjs cjs ts tsx jsx json html htm css scss xml py rb go rs c h cc cpp hpp java kt swift php pl sh bash zsh ps1 sql lua wasm vue svelte',
);
register('pdf', 'pdf');

/** The icon of an entry, chosen by its kind and its (last) extension. */
export function iconKindOf(name: string, isDirectory: boolean): IconKind {
  if (isDirectory) return 'folder';
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return 'file';
  return EXTENSION_KINDS[name.slice(dot + 1).toLowerCase()] ?? 'file';
}

/** The `<svg>` placed before an entry's name. */
export function iconMarkup(kind: IconKind): string {
  return `<svg class="icon" aria-hidden="true"><use href="#i-${kind}"/></svg>`;
}

/** The symbols every row's `<use>` points at: once per page, right after `<body>`. */
export const ICON_SPRITE =
  '<svg xmlns="http://www.w3.org/2000/svg" class="sprite" aria-hidden="true" focusable="false">' +
  (Object.keys(ICON_PATHS) as IconKind[])
    .map(
      (kind) =>
        `<symbol id="i-${kind}" viewBox="0 0 16 16"><path d="${ICON_PATHS[kind]}" fill="none" ` +
        'stroke="currentColor" stroke-width="1.2" stroke-linejoin="round" stroke-linecap="round"/></symbol>',
    )
    .join('') +
  '</svg>\n';

export const ICON_STYLE = `
svg.sprite { position: absolute; width: 0; height: 0; overflow: hidden; }
svg.icon { width: 1.1em; height: 1.1em; vertical-align: -0.2em; margin-right: 0.4em; flex: none; }
tr.dir svg.icon { color: #b7791f; }
`;
