/**
 * The `--auth` rule grammar, kept apart from the checking code (auth.ts) so that parsing the command line
 * loads nothing else:
 *
 *     rule        = [ user ":" password ] "@" path-prefix [ "?" condition ] [ ":" access ]
 *     condition   = name [ "=" value ]     ; one query parameter the request must carry
 *     access      = "ro" / "rw"            ; default "ro"
 *
 * `admin:secret@/:rw` lets admin read and write everywhere; `@/:ro` lets anyone read; `@/` is the same.
 * The user name may not contain ":"; the password is everything after the first ":" up to the last "@/"
 * (so it may contain "@" and ":"), in plain text or as a `$2b$` bcrypt, `$6$` SHA-512 crypt or
 * `sha512:<hex>` hash. The path prefix matches whole segments: `/private` covers `/private` and
 * `/private/x`, not `/privateer`; a segment that is just `*` matches any one segment.
 *
 * Wildcards and conditions exist for scripts, where the method alone does not say whether a request reads
 * or writes (a git fetch is a POST, a push starts with a GET). The README's git recipe lets anyone POST to
 * `/cgi-bin/git/<repo>/git-upload-pack` (rule path with `*` for the repository, access `rw`) and makes
 * `/cgi-bin/git/<repo>/info/refs?service=git-receive-pack` ask for dev's password. Which rules decide is
 * in auth.ts (the most specific match).
 * @module
 */

export type Access = 'ro' | 'rw';

export interface AuthRule {
  /** Absent for an anonymous rule (anyone, no credentials needed). */
  user?: string;
  /** Plain text or a hash (see passwords.ts); present exactly when `user` is. */
  password?: string;
  /** URL path prefix, e.g. '/' or '/private'; a segment that is just '*' matches any one segment. */
  pathPrefix: string;
  /**
   * A query parameter the request must carry for the rule to apply: 'name=value' (compared after
   * percent-decoding, as application/x-www-form-urlencoded), or 'name' for any value.
   */
  query?: string;
  access: Access;
}

/** Parses one `--auth` value, or returns a one-line reason it is wrong. */
export function parseAuthRule(text: string): AuthRule | string {
  let rest = text;
  let access: Access = 'ro';
  const suffix = /:(ro|rw)$/.exec(rest);
  if (suffix !== null) {
    access = suffix[1] as Access;
    rest = rest.slice(0, -3);
  }
  const at = rest.lastIndexOf('@/');
  if (at === -1) return `--auth needs [user:password]@/path[?name=value][:ro|:rw], got "${text}"`;
  const credentials = rest.slice(0, at);
  let target = rest.slice(at + 1);
  let query: string | undefined;
  const question = target.indexOf('?');
  if (question !== -1) {
    query = target.slice(question + 1);
    target = target.slice(0, question);
    const problem = queryConditionProblem(query);
    if (problem !== null) return `--auth: ${problem}, got "${text}"`;
  }
  const prefix = normalizePrefix(target);
  if (prefix === null) return `--auth needs a path prefix without "." or ".." segments, got "${text}"`;
  const where = query === undefined ? { pathPrefix: prefix } : { pathPrefix: prefix, query };
  if (credentials === '') return { ...where, access };
  const colon = credentials.indexOf(':');
  if (colon <= 0 || colon === credentials.length - 1) {
    return `--auth needs both a user name and a password before "@" (or neither, for anyone), got "${text}"`;
  }
  return {
    user: credentials.slice(0, colon),
    password: credentials.slice(colon + 1),
    ...where,
    access,
  };
}

/** Why a rule's query condition is not one `name` or `name=value` parameter, or null when it is. */
function queryConditionProblem(query: string): string | null {
  if (query === '' || query.startsWith('=')) return 'a rule\'s "?" condition needs a parameter name';
  if (query.includes('&')) return 'a rule\'s "?" condition names one parameter (no "&")';
  return null;
}

/** `/a//b/` → `/a/b`; null when it has dot segments. */
function normalizePrefix(prefix: string): string | null {
  const segments = prefix.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) return null;
  return `/${segments.join('/')}`;
}

/** Checks rules given through the library API; throws a TypeError naming the bad one. */
export function checkAuthRules(rules: readonly AuthRule[]): void {
  for (const rule of rules) {
    if (typeof rule.pathPrefix !== 'string' || !rule.pathPrefix.startsWith('/')) {
      throw new TypeError(
        `auth rule path prefix must start with "/", got ${JSON.stringify(rule.pathPrefix)}`,
      );
    }
    if (rule.query !== undefined) {
      const problem = typeof rule.query === 'string' ? queryConditionProblem(rule.query) : 'not a string';
      if (problem !== null) {
        throw new TypeError(`auth rule query ${JSON.stringify(rule.query)}: ${problem}`);
      }
    }
    if (rule.access !== 'ro' && rule.access !== 'rw') {
      throw new TypeError(`auth rule access must be "ro" or "rw", got ${JSON.stringify(rule.access)}`);
    }
    if ((rule.user === undefined) !== (rule.password === undefined) || rule.user?.includes(':')) {
      throw new TypeError('an auth rule needs both user (without ":") and password, or neither');
    }
  }
}
