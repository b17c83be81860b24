/**
 * Location values that stay on this origin.
 * @module
 */

/**
 * A request path made safe to send back in `Location`: a path starting with `//` is a network-path
 * reference (RFC 3986 §4.2), which a browser resolves to another host (`//evil.example/` → an open
 * redirect), so leading slashes are collapsed to one. The path still names the same resource here, as
 * empty segments are ignored when it is resolved.
 */
export function sameOriginPath(requestPath: string): string {
  let start = 0;
  while (requestPath.charCodeAt(start) === 0x2f && requestPath.charCodeAt(start + 1) === 0x2f) start++;
  return start === 0 ? requestPath : requestPath.slice(start);
}
