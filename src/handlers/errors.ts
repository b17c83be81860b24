/**
 * Error responses that explain themselves: one line naming the broken rule, as plain text for tools and
 * as a small HTML page (the same line plus a link to the RFC section) for browsers.
 * @module
 */
import { escapeHtml } from '../files/html.js';
import { chooseMediaType } from '../http/negotiate.js';
import { plainErrorResponse } from '../wire/error-response.js';
import type { ResponseDescription } from '../wire/message.js';
import { reasonPhrase } from '../wire/status.js';

/** Where each status is defined, so a learner can read the rule. */
export const STATUS_RFC_SECTIONS: Readonly<Record<number, string>> = Object.freeze({
  400: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.1',
  403: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.4',
  404: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.5',
  405: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.6',
  406: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.7',
  408: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.9',
  411: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.12',
  412: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.13',
  413: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14',
  414: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.15',
  416: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.17',
  417: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.18',
  421: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.20',
  429: 'https://www.rfc-editor.org/rfc/rfc6585#section-4',
  431: 'https://www.rfc-editor.org/rfc/rfc6585#section-5',
  500: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.6.1',
  501: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.6.2',
  502: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.6.3',
  503: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.6.4',
  504: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.6.5',
  505: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.6.6',
});

/** The one line every error body carries: `404 Not Found: no file or folder of that name`. */
export function errorLine(status: number, message: string): string {
  return `${status} ${reasonPhrase(status)}: ${message}`;
}

/**
 * An error response in the form the client prefers: HTML when it asks for text/html over text/plain
 * (browsers do), else the plain line.
 */
export function errorResponse(
  status: number,
  message: string,
  accept: string | undefined,
  headers: Record<string, string> = {},
): ResponseDescription {
  const line = errorLine(status, message);
  const wantsHtml =
    accept !== undefined && chooseMediaType(accept, ['text/plain', 'text/html']) === 'text/html';
  if (!wantsHtml) return plainErrorResponse(status, message, accept, headers);
  const rfc = STATUS_RFC_SECTIONS[status];
  const reference =
    rfc === undefined ? '' : `\n<p>The rule: <a href="${rfc}">${rfc.replace('https://www.', '')}</a></p>`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${status} ${escapeHtml(reasonPhrase(status))}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222}h1{font-size:1.4em}code{background:#f3f3f3;padding:.1em .3em}</style>
</head><body>
<h1>${status} ${escapeHtml(reasonPhrase(status))}</h1>
<p id="reason"><code>${escapeHtml(line)}</code></p>${reference}
</body></html>
`;
  return {
    status,
    headers: { ...headers, 'Content-Type': 'text/html; charset=utf-8', 'X-Content-Type-Options': 'nosniff' },
    body: { kind: 'bytes', data: html },
  };
}
