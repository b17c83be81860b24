/**
 * The project's one HTML escaper. Every page docroot writes itself (listings, search results, error pages)
 * puts untrusted text (file names, URL paths, search terms, error lines) through it. It lives in `files/`,
 * beside the renderers that use it most, so that `handlers/` may import it too without a wrong-way import.
 * @module
 */

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for use in HTML content and in quoted (single or double) attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] ?? character);
}
