/**
 * The `--auth` rule grammar, kept apart from the checking code (auth.ts) so that parsing the command line
 * loads nothing else:
 *
 *     rule        = [ user ":" password ] "@" path-prefix [ ":" access ]
 *     access      = "ro" / "rw"            ; default "ro"
 *
 * `admin:secret@/:rw` lets admin read and write everywhere; `@/:ro` lets anyone read; `@/` is the same.
 * The user name may not contain ":"; the password is everything after the first ":" up to the last "@/"
 * (so it may contain "@" and ":"), in plain text or as a `$2b$` bcrypt, `$6$` SHA-512 crypt or
 * `sha512:<hex>` hash. The path prefix matches whole segments: `/private` covers `/private` and
 * `/private/x`, not `/privateer`.
 * @module
 */

export type Access = 'ro' | 'rw';

export interface AuthRule {
  /** Absent for an anonymous rule (anyone, no credentials needed). */
  user?: string;
  /** Plain text or a hash (see passwords.ts); present exactly when `user` is. */
  password?: string;
  /** URL path prefix, e.g. '/' or '/private'. */
  pathPrefix: string;
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
  if (at === -1) return `--auth needs [user:password]@/path[:ro|:rw], got "${text}"`;
  const credentials = rest.slice(0, at);
  const prefix = normalizePrefix(rest.slice(at + 1));
  if (prefix === null) return `--auth needs a path prefix without "." or ".." segments, got "${text}"`;
  if (credentials === '') return { pathPrefix: prefix, access };
  const colon = credentials.indexOf(':');
  if (colon <= 0 || colon === credentials.length - 1) {
    return `--auth needs both a user name and a password before "@" (or neither, for anyone), got "${text}"`;
  }
  return {
    user: credentials.slice(0, colon),
    password: credentials.slice(colon + 1),
    pathPrefix: prefix,
    access,
  };
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
    if (rule.access !== 'ro' && rule.access !== 'rw') {
      throw new TypeError(`auth rule access must be "ro" or "rw", got ${JSON.stringify(rule.access)}`);
    }
    if ((rule.user === undefined) !== (rule.password === undefined) || rule.user?.includes(':')) {
      throw new TypeError('an auth rule needs both user (without ":") and password, or neither');
    }
  }
}
