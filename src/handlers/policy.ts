/**
 * Site policy: which Cache-Control a path gets, extra headers, and CORS. Built once from the options, so
 * a request only does lookups.
 * @module
 */

/** A Cache-Control value for paths matching a glob (`*` within a segment, `**` across segments). */
export interface CacheControlRule {
  pattern: string;
  value: string;
}

/** Default for HTML pages and listings: always revalidate, so an edited page shows up at once (RFC 9111 §5.2.2.4). */
export const HTML_CACHE_CONTROL = 'no-cache';

export interface SitePolicyOptions {
  /** Cache-Control for files no rule matches (HTML and listings default to no-cache). */
  cacheControl?: string | undefined;
  cacheControlRules?: readonly CacheControlRule[] | undefined;
  /** Extra fields added to every successful response. */
  headers?: Readonly<Record<string, string>> | undefined;
  /** Send `Access-Control-Allow-Origin: *` and answer preflight requests. */
  cors?: boolean | undefined;
}

interface CompiledRule {
  matcher: RegExp;
  value: string;
}

/** Turns a path glob into an anchored regular expression (compiled once at start-up, never per request). */
export function compileGlob(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        source += '.*';
        i++;
        if (pattern[i + 1] === '/') i++;
      } else {
        source += '[^/]*';
      }
    } else if (c === '?') {
      source += '[^/]';
    } else {
      source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  // A pattern without a slash matches the file name anywhere, like .gitignore.
  return pattern.includes('/') ? new RegExp(`^${source}$`) : new RegExp(`(^|/)${source}$`);
}

/**
 * Parses a CLI `--cache-control` value: `PATTERN:VALUE` for a rule, or just `VALUE` for the default.
 * Cache-Control directives never contain ':', so the first ':' separates a pattern.
 */
export function parseCacheControlOption(text: string): { pattern: string | null; value: string } {
  const colon = text.indexOf(':');
  if (colon <= 0) return { pattern: null, value: text.trim() };
  return { pattern: text.slice(0, colon).trim(), value: text.slice(colon + 1).trim() };
}

export class SitePolicy {
  readonly cors: boolean;
  readonly extraHeaders: Readonly<Record<string, string>>;
  private readonly defaultCacheControl: string | undefined;
  private readonly rules: CompiledRule[];

  constructor(options: SitePolicyOptions = {}) {
    this.cors = options.cors ?? false;
    const extra: Record<string, string> = { ...options.headers };
    if (this.cors) extra['Access-Control-Allow-Origin'] = '*';
    this.extraHeaders = extra;
    this.defaultCacheControl = options.cacheControl;
    this.rules = (options.cacheControlRules ?? []).map((rule) => ({
      matcher: compileGlob(rule.pattern),
      value: rule.value,
    }));
  }

  /** Cache-Control for a decoded URL path; `isHtml` covers HTML files and listings. */
  cacheControlFor(urlPath: string, isHtml: boolean): string | undefined {
    for (const rule of this.rules) if (rule.matcher.test(urlPath)) return rule.value;
    return isHtml ? HTML_CACHE_CONTROL : this.defaultCacheControl;
  }

  /** The answer to a CORS preflight (Fetch standard, CORS protocol): which methods and headers are allowed. */
  preflightHeaders(requestHeaders: Record<string, string>, allow: string): Record<string, string> {
    const headers: Record<string, string> = {
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': allow,
      'Access-Control-Max-Age': '86400',
    };
    const asked = requestHeaders['access-control-request-headers'];
    if (asked !== undefined && asked.length > 0) headers['Access-Control-Allow-Headers'] = asked;
    return headers;
  }
}
