/**
 * Access control (`--auth`): HTTP Basic authentication (RFC 7617) checked against path-prefix rules before
 * any other handling, for every method. Loaded only when rules are configured.
 *
 * Which rules decide: the most specific of those that match the request: the longest prefix (a `*`
 * segment matching any one segment), and of equal prefixes, rules with a query condition the request
 * meets over rules without one (others are ignored). Reading (GET, HEAD, OPTIONS and the other safe methods) needs `ro` or `rw`; anything else
 * needs `rw`. A path no rule covers may be read by anyone and written by no one. The rules are checked
 * for the path as requested and, when a symlink leads elsewhere under the root, for the path it resolves
 * to, so a link into a protected folder is protected too. On a case-insensitive disk prefixes compare
 * case-insensitively, as the disk does.
 *
 * Guessing is bounded: every password check goes through one verifier (slow hashes on a worker thread),
 * a user name no rule knows costs the same check against a real secret of the rules (so names cannot be
 * told apart by timing), failures are limited per client address (auth-rate.ts), and a right password
 * is remembered (keyed by an HMAC, never the password) so a browser does not pay for bcrypt each time.
 * @module
 */
import { createHmac, randomBytes } from 'node:crypto';
import { decodeRequestPath } from '../files/resolve.js';
import { isSafeMethod } from '../http/method.js';
import type { HttpRequest, ResponseDescription } from '../wire/message.js';
import { type AuthRate, DEFAULT_AUTH_RATE, FailureLimiter, type SharedFailures } from './auth-rate.js';
import type { Access, AuthRule } from './auth-rules.js';
import { errorResponse } from './errors.js';
import { createPasswordVerifier, type PasswordVerifier, VerifierBusyError } from './password-verifier.js';
import { MAX_PASSWORD_BYTES } from './passwords.js';

/** RFC 7617 §2 and §2.1: the realm, and the charset the browser should encode credentials in. */
export const WWW_AUTHENTICATE = 'Basic realm="docroot", charset="UTF-8"';
/** Right credentials remembered (least recently used forgotten first). */
export const VERIFIED_CACHE_ENTRIES = 1024;
/** Retry-After of a 503 when the password worker's queue is full. */
const BUSY_RETRY_AFTER_SECONDS = 1;
/** Methods that remove or replace the target itself: never allowed on a rule's own prefix folder. */
const REPLACING_METHODS: ReadonlySet<string> = new Set(['PUT', 'PATCH', 'DELETE', 'MOVE']);

export interface AuthGateOptions {
  rules: readonly AuthRule[];
  /** Failed logins allowed per client address, or false for no limit. @default DEFAULT_AUTH_RATE */
  rate?: AuthRate | false;
  /** Compare rule prefixes case-insensitively (the root is on a case-insensitive disk). @default false */
  caseInsensitive?: boolean;
  /**
   * The URL segments of the real path a request path leads to under the root (symlinks resolved), or null
   * when it leads outside or cannot be resolved. Without it only the requested path is checked.
   */
  realSegments?: (segments: readonly string[]) => Promise<readonly string[] | null>;
  /** Where passwords are checked. @default a new verifier with its own worker thread */
  verifier?: PasswordVerifier;
  /** The clock of the rate limit. @default Date.now */
  now?: () => number;
  /** Failures counted together with other processes on the same port (`--workers`). */
  sharedFailures?: SharedFailures;
}

export interface AuthCheckOptions {
  /** Count a wrong password against the client's rate limit. @default true */
  countFailures?: boolean;
}

export interface AuthGate {
  /** null lets the request through; otherwise the 400, 401, 403, 429 or 503 to answer. */
  check(request: HttpRequest, options?: AuthCheckOptions): Promise<ResponseDescription | null>;
  readonly verifier: PasswordVerifier;
  readonly limiter: FailureLimiter | null;
  /** Stops the password worker. */
  close(): Promise<void>;
}

interface PreparedRule {
  readonly rule: AuthRule;
  /** The prefix's segments, case-folded when the disk folds case. */
  readonly segments: readonly string[];
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

interface Refusal {
  readonly status: 400 | 401 | 403 | 429 | 503;
  readonly message: string;
  readonly headers?: Record<string, string>;
}

interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** Checks one request's credentials against sets of secrets, sharing the rate limit and the cache. */
type Verify = (candidates: readonly string[], dummy: boolean) => Promise<ReadonlySet<string> | Refusal>;

/** How names compare on a case-insensitive disk (APFS and NTFS also ignore Unicode normalization). */
function foldCase(segment: string): string {
  return segment.normalize('NFC').toLowerCase();
}

export function createAuthGate(options: AuthGateOptions | readonly AuthRule[]): AuthGate {
  const settings: AuthGateOptions = Array.isArray(options)
    ? { rules: options as readonly AuthRule[] }
    : (options as AuthGateOptions);
  const fold = settings.caseInsensitive === true ? foldCase : (segment: string) => segment;
  const prepared: PreparedRule[] = settings.rules.map((rule) => ({
    rule,
    segments: rule.pathPrefix
      .split('/')
      .filter((segment) => segment !== '')
      .map(fold),
    query: prepareQueryCondition(rule.query),
  }));
  const hasQueryConditions = prepared.some((entry) => entry.query !== null);
  const onlyRootPrefixes = prepared.every((entry) => entry.segments.length === 0);
  const verifier = settings.verifier ?? createPasswordVerifier();
  const rate = settings.rate === undefined ? DEFAULT_AUTH_RATE : settings.rate;
  const limiter = rate === false ? null : new FailureLimiter(rate, settings.now, settings.sharedFailures);
  const cacheKeySecret = randomBytes(32);
  const verified = new Map<string, true>();
  const secretsByUser = new Map<string, string[]>();
  for (const { rule } of prepared) {
    if (rule.user === undefined || rule.password === undefined) continue;
    const list = secretsByUser.get(rule.user) ?? [];
    if (!list.includes(rule.password)) list.push(rule.password);
    secretsByUser.set(rule.user, list);
  }
  const anySecret = prepared.find((entry) => entry.rule.password !== undefined)?.rule.password;

  /** A real secret of these rules to check an unknown user's password against (the result is ignored). */
  function dummySecret(governing: readonly PreparedRule[]): string | undefined {
    return governing.find((entry) => entry.rule.password !== undefined)?.rule.password ?? anySecret;
  }

  function cacheKey(credentials: Credentials, stored: string): string {
    return createHmac('sha256', cacheKeySecret)
      .update(`${credentials.user}\0${credentials.password}\0${stored}`)
      .digest('base64');
  }

  function verifierFor(request: HttpRequest, credentials: Credentials, countFailures: boolean): Verify {
    return async (candidates, dummy) => {
      const wait = limiter?.retryAfterMs(request.remoteAddress) ?? 0;
      if (wait > 0) {
        const seconds = Math.ceil(wait / 1000);
        return {
          status: 429,
          message: `too many failed logins from this address (limit ${limiter!.rate.failures} per ${limiter!.rate.windowMs / 1000} s); try again in ${seconds} s`,
          headers: { 'Retry-After': String(seconds) },
        };
      }
      const matched = new Set<string>();
      for (const stored of new Set(candidates)) {
        const key = dummy ? '' : cacheKey(credentials, stored);
        if (!dummy && verified.has(key)) {
          verified.delete(key);
          verified.set(key, true);
          matched.add(stored);
          continue;
        }
        let ok: boolean;
        try {
          ok = await verifier.verify(credentials.password, stored);
        } catch (error) {
          if (!(error instanceof VerifierBusyError)) throw error;
          return {
            status: 503,
            message: 'too many password checks are waiting; try again in a moment',
            headers: { 'Retry-After': String(BUSY_RETRY_AFTER_SECONDS) },
          };
        }
        if (ok && !dummy) {
          matched.add(stored);
          verified.set(key, true);
          if (verified.size > VERIFIED_CACHE_ENTRIES) {
            const oldest = verified.keys().next();
            if (!oldest.done) verified.delete(oldest.value);
          }
        }
      }
      if (matched.size === 0 && countFailures) await limiter?.recordFailure(request.remoteAddress);
      return matched;
    };
  }

  /** The decision of one set of governing rules. */
  async function decide(
    request: HttpRequest,
    governing: readonly PreparedRule[],
    needed: Access,
    credentials: Credentials | null,
    verify: Verify | null,
  ): Promise<Refusal | null> {
    if (governing.length === 0) {
      return needed === 'ro'
        ? null
        : { status: 403, message: 'no --auth rule grants write access to this path' };
    }
    const prefix = governing[0]!.rule.pathPrefix;
    const grants = (entry: PreparedRule) => needed === 'ro' || entry.rule.access === 'rw';
    const anonymousGrants = governing.some((entry) => entry.rule.user === undefined && grants(entry));
    const namedGrants = governing.some((entry) => entry.rule.user !== undefined && grants(entry));
    const nobody: Refusal = {
      status: 403,
      message:
        needed === 'rw'
          ? `the --auth rules for ${prefix} make it read-only for everyone`
          : `no --auth rule for ${prefix} lets anyone read it`,
    };
    if (credentials === null || verify === null) {
      if (anonymousGrants) return null;
      if (namedGrants) {
        return { status: 401, message: 'this path needs a user name and password (HTTP Basic, RFC 7617)' };
      }
      return nobody;
    }
    const wrong: Refusal = { status: 401, message: 'the user name or password is wrong' };
    const own = governing.filter((entry) => entry.rule.user === credentials.user);
    if (own.length > 0) {
      const matched = await verify(
        own.map((entry) => entry.rule.password!),
        false,
      );
      if (isRefusal(matched)) return matched;
      if (matched.size === 0) return wrong;
      if (own.some((entry) => matched.has(entry.rule.password!) && grants(entry)) || anonymousGrants) {
        // Checked credentials travel with the request (CGI's REMOTE_USER, RFC 3875 §4.1.11).
        request.remoteUser = credentials.user;
        return null;
      }
      return {
        status: 403,
        message: `the --auth rules for ${prefix} let ${credentials.user} only read here`,
      };
    }
    // Credentials the rules here do not need: whoever may come in anyway does.
    if (anonymousGrants) return null;
    // A user these rules do not name. The password is still checked (against the user's rules elsewhere,
    // or a dummy check for a name no rule knows), so the answer and its timing do not tell names apart.
    const elsewhere = secretsByUser.get(credentials.user);
    const candidates = elsewhere ?? [dummySecret(governing)].filter((secret) => secret !== undefined);
    const matched = await verify(candidates, elsewhere === undefined);
    if (isRefusal(matched)) return matched;
    if (matched.size > 0) {
      return {
        status: 403,
        message: namedGrants
          ? `the --auth rules for ${prefix} do not name the user ${credentials.user}`
          : nobody.message,
      };
    }
    return namedGrants ? wrong : nobody;
  }

  async function check(request: HttpRequest, checkOptions: AuthCheckOptions = {}) {
    if (request.path === '*') return null;
    const decoded = decodeRequestPath(request.path);
    // A path that does not decode gets its 400 from the file handler.
    if (decoded.kind === 'error') return null;
    const parameters = hasQueryConditions ? new URLSearchParams(request.query) : null;
    const needed: Access = isSafeMethod(request.method) ? 'ro' : 'rw';
    const folded = decoded.segments.map(fold);
    const governingSets = [governingRules(prepared, folded, parameters)];
    if (!onlyRootPrefixes && settings.realSegments !== undefined) {
      const real = await settings.realSegments(decoded.segments);
      if (real !== null) {
        const realFolded = real.map(fold);
        if (realFolded.join('/') !== folded.join('/')) {
          const realGoverning = governingRules(prepared, realFolded, parameters);
          if (!sameRules(realGoverning, governingSets[0]!)) governingSets.push(realGoverning);
        }
      }
    }
    const deny = (refusal: Refusal) => refuse(request, refusal);
    // Only the requested path: removing a symlink that leads into a rule's folder removes the link alone.
    const own = governingSets[0]![0];
    if (
      REPLACING_METHODS.has(request.method) &&
      own !== undefined &&
      own.segments.length > 0 &&
      own.segments.length === folded.length
    ) {
      return deny({
        status: 403,
        message: `${own.rule.pathPrefix} is the folder an --auth rule applies to; it cannot itself be replaced or removed`,
      });
    }
    const credentials = parseBasicCredentials(request.headers.authorization);
    if (credentials !== null && Buffer.byteLength(credentials.password, 'utf8') > MAX_PASSWORD_BYTES) {
      return deny({ status: 400, message: `the password is longer than ${MAX_PASSWORD_BYTES} bytes` });
    }
    const verify =
      credentials === null ? null : verifierFor(request, credentials, checkOptions.countFailures ?? true);
    for (const governing of governingSets) {
      const refusal = await decide(request, governing, needed, credentials, verify);
      if (refusal !== null) return deny(refusal);
    }
    return null;
  }

  return {
    check,
    verifier,
    limiter,
    close: () => verifier.close(),
  };
}

function refuse(request: HttpRequest, refusal: Refusal): ResponseDescription {
  const headers = {
    ...(refusal.status === 401 ? { 'WWW-Authenticate': WWW_AUTHENTICATE } : {}),
    ...refusal.headers,
  };
  const response = errorResponse(refusal.status, refusal.message, request.headers.accept, headers);
  // The body is left unread: the wire then never sends 100 Continue, and skipping a body the client
  // already sends could cost more than a new connection.
  if (request.body !== null) response.close = true;
  return response;
}

function isRefusal(value: ReadonlySet<string> | Refusal): value is Refusal {
  return 'status' in value;
}

function sameRules(left: readonly PreparedRule[], right: readonly PreparedRule[]): boolean {
  return left.length === right.length && left.every((entry, i) => entry === right[i]);
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
