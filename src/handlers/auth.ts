/**
 * Access control (`--auth`): HTTP Basic authentication (RFC 7617) checked against path-prefix rules before
 * any other handling, for every method. Loaded only when rules are configured.
 *
 * Which rules decide: the most specific of those that match the request: the longest prefix (a `*`
 * segment counts like any other), and of equal prefixes, rules with a query condition the request meets
 * over rules without one (others are ignored). Reading (GET, HEAD, OPTIONS and the other safe methods) needs `ro` or `rw`; anything else
 * needs `rw`. A path no rule covers may be read by anyone and written by no one.
 * @module
 */
import { createHash } from 'node:crypto';
import { decodeRequestPath } from '../files/resolve.js';
import { isSafeMethod } from '../http/method.js';
import type { HttpRequest, ResponseDescription } from '../wire/message.js';
import type { Access, AuthRule } from './auth-rules.js';
import { errorResponse } from './errors.js';
import { passwordKind, verifyPassword } from './passwords.js';

/** RFC 7617 §2 and §2.1: the realm, and the charset the browser should encode credentials in. */
export const WWW_AUTHENTICATE = 'Basic realm="docroot", charset="UTF-8"';
/**
 * Successful checks against slow hashes remembered (as a digest of the credentials, never the password),
 * so that a browser sending the same header with every request does not pay for bcrypt every time.
 */
const VERIFIED_CACHE_ENTRIES = 1024;

interface PreparedRule {
  readonly rule: AuthRule;
  readonly segments: readonly string[];
  readonly slowHash: boolean;
  /** The query parameter the rule needs (value null: any value), or null. */
  readonly query: QueryCondition | null;
}

interface QueryCondition {
  readonly name: string;
  readonly value: string | null;
}

/** A rule's `name=value` condition, decoded the way the request's query will be. */
function prepareQueryCondition(query: string | undefined): QueryCondition | null {
  if (query === undefined) return null;
  const [name, value] = [...new URLSearchParams(query)][0] ?? [query, ''];
  return { name, value: query.includes('=') ? value : null };
}

/**
 * Returns a check: null lets the request through (setting `request.remoteUser` when it verified the
 * request's credentials); otherwise the 401 or 403 to answer.
 */
export function createAuthGate(
  rules: readonly AuthRule[],
): (request: HttpRequest) => Promise<ResponseDescription | null> {
  const prepared: PreparedRule[] = rules.map((rule) => ({
    rule,
    segments: rule.pathPrefix.split('/').filter((segment) => segment !== ''),
    slowHash: rule.password !== undefined && passwordKind(rule.password) !== 'plain',
    query: prepareQueryCondition(rule.query),
  }));
  const hasQueryConditions = prepared.some((entry) => entry.query !== null);
  const verified = new Set<string>();

  async function passwordMatches(entry: PreparedRule, given: string): Promise<boolean> {
    const stored = entry.rule.password;
    if (stored === undefined) return false;
    if (!entry.slowHash) return verifyPassword(given, stored);
    const key = createHash('sha256').update(`${entry.rule.user}\0${given}\0${stored}`).digest('base64');
    if (verified.has(key)) return true;
    const ok = await verifyPassword(given, stored);
    if (ok) {
      if (verified.size >= VERIFIED_CACHE_ENTRIES) verified.clear();
      verified.add(key);
    }
    return ok;
  }

  return async function checkAccess(request) {
    if (request.path === '*') return null;
    const decoded = decodeRequestPath(request.path);
    // A path that does not decode gets its 400 from the file handler.
    if (decoded.kind === 'error') return null;
    const parameters = hasQueryConditions ? new URLSearchParams(request.query) : null;
    const governing = governingRules(prepared, decoded.segments, parameters);
    const needed: Access = isSafeMethod(request.method) ? 'ro' : 'rw';
    const deny = (status: 401 | 403, message: string) => {
      const response = errorResponse(
        status,
        message,
        request.headers.accept,
        status === 401 ? { 'WWW-Authenticate': WWW_AUTHENTICATE } : {},
      );
      // The body was not read; skipping it could cost more than a new connection.
      if (request.body !== null) {
        request.body.resume();
        response.close = true;
      }
      return response;
    };
    if (governing.length === 0) {
      return needed === 'ro' ? null : deny(403, 'no --auth rule grants write access to this path');
    }
    const grants = (entry: PreparedRule) => needed === 'ro' || entry.rule.access === 'rw';
    const anonymousGrants = governing.some((entry) => entry.rule.user === undefined && grants(entry));
    const credentials = parseBasicCredentials(request.headers.authorization);
    if (credentials !== null) {
      const own = governing.filter((entry) => entry.rule.user === credentials.user);
      if (own.length > 0) {
        let matched: PreparedRule[] = [];
        for (const entry of own) {
          if (await passwordMatches(entry, credentials.password)) matched = [...matched, entry];
        }
        if (matched.length === 0) return deny(401, 'the user name or password is wrong');
        if (matched.some(grants) || anonymousGrants) {
          // Checked credentials travel with the request (CGI's REMOTE_USER, RFC 3875 §4.1.11).
          request.remoteUser = credentials.user;
          return null;
        }
        return deny(403, `the user ${credentials.user} may only read this path`);
      }
      if (anonymousGrants) return null;
      if (governing.some((entry) => entry.rule.user !== undefined && grants(entry))) {
        return deny(401, 'the user name or password is wrong');
      }
      return deny(403, 'this path is read-only for everyone');
    }
    if (anonymousGrants) return null;
    if (governing.some((entry) => entry.rule.user !== undefined && grants(entry))) {
      return deny(401, 'this path needs a user name and password (HTTP Basic, RFC 7617)');
    }
    return deny(
      403,
      needed === 'rw' ? 'this path is read-only for everyone' : 'no --auth rule lets anyone read this path',
    );
  };
}

/**
 * The rules that decide for a request: of those whose prefix matches `segments` whole segment by whole
 * segment (a `*` segment matching any one) and whose query condition `parameters` meet, the most specific
 * ones: the longest prefix, and of equal prefixes those with a query condition.
 */
function governingRules(
  rules: readonly PreparedRule[],
  segments: readonly string[],
  parameters: URLSearchParams | null,
): PreparedRule[] {
  let best: PreparedRule[] = [];
  let bestRank = -1;
  for (const entry of rules) {
    const prefix = entry.segments;
    const rank = prefix.length * 2 + (entry.query === null ? 0 : 1);
    if (prefix.length > segments.length || rank < bestRank) continue;
    let matches = true;
    for (let i = 0; i < prefix.length; i++) {
      if (prefix[i] !== segments[i] && prefix[i] !== '*') {
        matches = false;
        break;
      }
    }
    if (!matches || !meetsQueryCondition(entry.query, parameters)) continue;
    if (rank > bestRank) {
      best = [entry];
      bestRank = rank;
    } else best.push(entry);
  }
  return best;
}

/** Whether the request's query carries the parameter a rule names (any of its values, when repeated). */
function meetsQueryCondition(condition: QueryCondition | null, parameters: URLSearchParams | null): boolean {
  if (condition === null) return true;
  if (parameters === null) return false;
  if (condition.value === null) return parameters.has(condition.name);
  return parameters.getAll(condition.name).includes(condition.value);
}

/** `Basic base64(user ":" password)` (RFC 7617 §2), decoded as UTF-8 (§2.1), or null. */
export function parseBasicCredentials(header: string | undefined): { user: string; password: string } | null {
  if (header === undefined) return null;
  const match = /^\s*basic\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(header);
  if (match === null) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
