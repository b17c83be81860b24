/**
 * `GET /notes/guide.md?view=rendered`: a Markdown file as a page (the plain GET stays the raw file, so
 * tools and `curl` get what is on disk). Loaded by the file handler only for such a request.
 * @module
 */
import { escapeHtml } from '../files/html.js';
import { LISTING_HTML_STYLE } from '../files/listing-html.js';
import { MARKDOWN_STYLE, MAX_README_BYTES, readBoundedText, renderMarkdown } from '../files/markdown.js';
import type { HttpRequest, ResponseDescription } from '../wire/message.js';

export interface MarkdownViewFile {
  filePath: string;
  /** Decoded URL path of the file. */
  urlPath: string;
}

/** The rendered page; a file too large to render gets a page linking its raw form instead. */
export async function serveRenderedMarkdown(
  request: HttpRequest,
  file: MarkdownViewFile,
  headers: Record<string, string>,
): Promise<ResponseDescription> {
  const slash = file.urlPath.lastIndexOf('/');
  const folderUrl = file.urlPath.slice(0, slash + 1);
  const name = file.urlPath.slice(slash + 1);
  const source = await readBoundedText(file.filePath);
  const encodedFolder = folderUrl.split('/').map(encodeURIComponent).join('/');
  const rawHref = escapeHtml(encodeURIComponent(name));
  const article =
    source === null
      ? `<p>This file is larger than ${MAX_README_BYTES / 1024 / 1024} MiB (or could not be read), too large to render here; open the <a href="${rawHref}">raw file</a>.</p>\n`
      : await renderMarkdown(source, encodedFolder);
  const page =
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>${escapeHtml(name)}</title>\n<style>${LISTING_HTML_STYLE}${MARKDOWN_STYLE}</style>\n</head>\n<body>\n` +
    `<header><nav aria-label="File"><a class="crumb" href="./">${escapeHtml(folderUrl)}</a> ` +
    `${escapeHtml(name)} \u00b7 <a id="raw" href="${rawHref}">raw file</a></nav></header>\n` +
    `<main>\n<article class="markdown">\n${article}</article>\n</main>\n` +
    '</body>\n</html>\n';
  const fields = {
    ...headers,
    'Content-Type': 'text/html; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
  };
  if (request.method === 'HEAD') return { status: 200, headers: fields };
  return { status: 200, headers: fields, body: { kind: 'bytes', data: page } };
}
