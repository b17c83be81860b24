/**
 * Markdown for people browsing a folder: the folder's README rendered below its listing (as code hosts
 * do), and `?view=rendered` on a Markdown file. `markdown-it` does the parsing; it is loaded with the
 * first README, so listings of folders without one never pay for it.
 *
 * Safety: raw HTML in the source is escaped, not passed through (`html: false`), and markdown-it's
 * `validateLink` refuses `javascript:`, `vbscript:`, `file:` and non-image `data:` URLs, so a README
 * can add text, links and images to the page but no script or markup of its own. Relative links and
 * images are resolved against the folder's URL here, so they point where the file's author meant
 * whatever page shows the text; relative links to other Markdown files open their rendered view.
 * @module
 */
import { open } from 'node:fs/promises';
import { escapeHtml } from './html.js';

/** Names shown below a listing, in order of preference, compared case-insensitively. */
export const README_NAMES: readonly string[] = ['readme.md', 'index.md', 'readme.txt'];

/** Bigger READMEs are not rendered (a note links the file instead): the listing must stay quick. */
export const MAX_README_BYTES = 1024 * 1024;

/** Extensions `?view=rendered` renders, lower-case. */
const MARKDOWN_EXTENSIONS: readonly string[] = ['.md', '.markdown'];

/** The query `?view=rendered` asks for. */
export const RENDERED_VIEW = 'rendered';

type MarkdownRenderer = { render(source: string): string; parse: unknown };

let markdownModule: Promise<typeof import('markdown-it')> | null = null;

async function markdownRenderer(folderUrl: string): Promise<MarkdownRenderer> {
  markdownModule ??= import('markdown-it');
  const { default: MarkdownIt } = await markdownModule;
  const renderer = new MarkdownIt({ html: false, linkify: true, typographer: false });
  // Only URLs with a scheme or www. become links: a file name such as Readme.MD is not a domain.
  renderer.linkify.set({ fuzzyLink: false });
  renderer.core.ruler.push('docroot_resolve_links', (state) => {
    for (const blockToken of state.tokens) {
      for (const token of blockToken.children ?? []) {
        if (token.type === 'link_open') {
          const href = token.attrGet('href');
          if (href !== null) token.attrSet('href', resolveRelative(href, folderUrl, true));
        } else if (token.type === 'image') {
          const src = token.attrGet('src');
          if (src !== null) token.attrSet('src', resolveRelative(src, folderUrl, false));
        }
      }
    }
  });
  return renderer;
}

/** Whether `name` is a Markdown file that `?view=rendered` renders. */
export function isMarkdownName(name: string): boolean {
  const lower = name.toLowerCase();
  return MARKDOWN_EXTENSIONS.some((extension) => lower.endsWith(extension));
}

/** Whether a query string asks for `view=rendered`. */
export function wantsRenderedView(query: string): boolean {
  return query !== '' && new URLSearchParams(query).get('view') === RENDERED_VIEW;
}

/** The README to show among a folder's entry names (files only), or null. */
export function pickReadme(fileNames: Iterable<string>): string | null {
  let best: string | null = null;
  let bestRank = README_NAMES.length;
  for (const name of fileNames) {
    const rank = README_NAMES.indexOf(name.toLowerCase());
    if (rank !== -1 && rank < bestRank) {
      best = name;
      bestRank = rank;
    }
  }
  return best;
}

/**
 * A link target from a file in the folder `folderUrl` (percent-encoded, ending in '/'), made root-relative.
 * Absolute URLs, fragments and scheme-relative URLs are kept; a relative link to a Markdown file gets
 * `?view=rendered` when `isLink` and it has no query of its own.
 */
export function resolveRelative(target: string, folderUrl: string, isLink: boolean): string {
  if (
    target === '' ||
    target.startsWith('#') ||
    target.startsWith('//') ||
    /^[a-z][a-z0-9+.-]*:/i.test(target)
  ) {
    return target;
  }
  let resolved: URL;
  try {
    resolved = new URL(target, `http://folder.invalid${folderUrl}`);
  } catch {
    return target;
  }
  if (isLink && resolved.search === '' && isMarkdownName(decodeSafely(resolved.pathname))) {
    resolved.search = `?view=${RENDERED_VIEW}`;
  }
  return resolved.pathname + resolved.search + resolved.hash;
}

function decodeSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Markdown source as HTML, links resolved against `folderUrl` (percent-encoded, ending in '/'). */
export async function renderMarkdown(source: string, folderUrl: string): Promise<string> {
  return (await markdownRenderer(folderUrl)).render(source);
}

/**
 * The text of a file up to MAX_README_BYTES, or null when it is bigger (or cannot be read). Read through
 * one descriptor, so a file that grows meanwhile still yields at most the bound.
 */
export async function readBoundedText(filePath: string): Promise<string | null> {
  let handle: import('node:fs/promises').FileHandle | undefined;
  try {
    handle = await open(filePath, 'r');
    const { size } = await handle.stat();
    if (size > MAX_README_BYTES) return null;
    const buffer = Buffer.alloc(size);
    const { bytesRead } = await handle.read(buffer, 0, size, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } catch {
    return null;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** The README section placed below a listing's table: rendered Markdown, or plain text in `<pre>`. */
export async function renderReadmeSection(
  filePath: string,
  name: string,
  folderUrl: string,
): Promise<string> {
  const source = await readBoundedText(filePath);
  const fileHref = escapeHtml(encodeURIComponent(name));
  const heading =
    `<section id="readme" aria-labelledby="readme-title">\n` +
    `<h2 id="readme-title"><a href="${fileHref}">${escapeHtml(name)}</a></h2>\n`;
  if (source === null) {
    return `${heading}<p>This file is too large to show here; open it to read it.</p>\n</section>\n`;
  }
  const body = name.toLowerCase().endsWith('.txt')
    ? `<pre class="readme-text">${escapeHtml(source)}</pre>`
    : `<div class="markdown">${await renderMarkdown(source, folderUrl)}</div>`;
  return `${heading}${body}\n</section>\n`;
}

/** Styles of rendered Markdown, added to the listing's style sheet. */
export const MARKDOWN_STYLE = `
#readme { margin-top: 1.5rem; border-top: 1px solid var(--line); padding-top: 0.5rem; }
#readme h2 { font-size: 1rem; }
.markdown { overflow-wrap: anywhere; }
.markdown img { max-width: 100%; }
.markdown pre, .readme-text { overflow-x: auto; padding: 0.5rem; background: var(--stripe); white-space: pre-wrap; }
.markdown code { font-size: 0.9em; }
.markdown table { width: auto; }
.markdown th, .markdown td { border: 1px solid var(--line); }
.markdown blockquote { margin-left: 0; padding-left: 1rem; border-left: 3px solid var(--line); color: var(--muted); }
`;
