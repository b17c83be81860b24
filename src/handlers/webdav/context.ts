/**
 * What every WebDAV method shares, per handler: the options, the lock table, and the checks a method runs
 * before it acts — the `If` header (RFC 4918 §10.4), the locks on the resource and its parent (§7), the
 * access rules for paths beyond the request's own URL, and the write rules for a target.
 * @module
 */
import {
  type DecodedPath,
  decodeRequestPath,
  type ResolveOptions,
  resolvePath,
} from '../../files/resolve.js';
import { resolveWriteTarget, WriteRefusal, type WriteTarget } from '../../files/write.js';
import { makeFileEtag } from '../../http/etag.js';
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import { evaluateIfList, type IfList, parseIfHeader, submittedTokens } from './if-header.js';
import { type ActiveLock, LockTable, lockKey } from './locks.js';
import type { LiveContext } from './properties.js';
import { escapeXml, parseXml, readXmlBody, type XmlElement } from './xml.js';

export type Decoded = Extract<DecodedPath, { kind: 'ok' }>;

/** The write methods of the upload handler that WebDAV guards with its lock checks. */
export type UploadHandle = (request: HttpRequest, decoded: Decoded) => Promise<ResponseDescription>;

/** The upload handler's options (its write rules) plus WebDAV's own. */
export interface DavOptions extends ResolveOptions {
  /** The upload handler (PUT, PATCH, MKCOL, POST), or null for a read-only share (PROPFIND only). */
  upload: UploadHandle | null;
  /** LOCK and UNLOCK are offered (class 2). @default whether `upload` is set */
  locking?: boolean;
  /** The --auth rules, for the paths a request touches beyond its own URL (Destination, members). */
  access?: DavAccess;
}

/**
 * The access rules seen from WebDAV. The server's gate only checks the request's own URL; COPY and MOVE
 * also write their Destination, and COPY, MOVE and DELETE of a folder act on every rule's folder inside.
 */
export interface DavAccess {
  /** Each rule's path prefix as decoded segments. */
  readonly rulePrefixes: readonly (readonly string[])[];
  /** Null when the request's credentials may read (or write) the URL path; else the 401/403 to answer. */
  check(request: HttpRequest, urlPath: string, write: boolean): Promise<ResponseDescription | null>;
}

/** A refusal that names a WebDAV condition code (RFC 4918 §16) for its XML body. */
export class DavRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly condition: string | null = null,
    readonly hrefs: readonly string[] = [],
  ) {
    super(message);
    this.name = 'DavRefusal';
  }
}

/** Percent-encodes each segment for an href (RFC 4918 §8.3: hrefs are URI references). */
export function hrefOf(segments: readonly string[], directory: boolean): string {
  if (segments.length === 0) return '/';
  return `/${segments.map(encodeURIComponent).join('/')}${directory ? '/' : ''}`;
}

/** The href of a lock's root (a lock key: `/` or `/a/b`). */
export function hrefOfLockRoot(lockRoot: string): string {
  return hrefOf(lockRoot === '/' ? [] : lockRoot.slice(1).split('/'), false);
}

export class DavContext {
  readonly root: string;
  readonly locks = new LockTable();
  readonly locking: boolean;
  /** The read rules, with their defaults filled in. */
  readonly resolveOptions: ResolveOptions;
  readonly liveContext: LiveContext;

  constructor(readonly options: DavOptions) {
    this.root = options.root;
    this.locking = options.locking ?? options.upload !== null;
    this.resolveOptions = {
      root: this.root,
      dotfiles: options.dotfiles ?? false,
      followSymlinks: options.followSymlinks ?? false,
    };
    this.liveContext = {
      locking: this.locking,
      root: this.root,
      lockDiscovery: (resource) =>
        this.locks
          .covering(lockKey(resource.segments))
          .map((lock) => this.activeLockXml(lock))
          .join(''),
    };
  }

  /** The user the --auth gate let through (its credentials were checked there), or '' without --auth. */
  principalOf(request: HttpRequest): string {
    if (this.options.access === undefined) return '';
    const authorization = request.headers.authorization?.trim() ?? '';
    if (authorization.slice(0, 6).toLowerCase() !== 'basic ') return '';
    const credentials = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = credentials.indexOf(':');
    return colon === -1 ? '' : credentials.slice(0, colon);
  }

  activeLockXml(lock: ActiveLock): string {
    return (
      `<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:${lock.scope}/></D:lockscope>` +
      `<D:depth>${lock.depth === '0' ? '0' : 'infinity'}</D:depth>` +
      (lock.ownerXml === '' ? '' : `<D:owner>${lock.ownerXml}</D:owner>`) +
      `<D:timeout>Second-${this.locks.secondsLeft(lock)}</D:timeout>` +
      `<D:locktoken><D:href>${escapeXml(lock.token)}</D:href></D:locktoken>` +
      `<D:lockroot><D:href>${escapeXml(hrefOfLockRoot(lock.root))}</D:href></D:lockroot></D:activelock>`
    );
  }

  async xmlBodyOf(request: HttpRequest): Promise<XmlElement | null> {
    const text = await readXmlBody(request.body, request.contentLength);
    return text === null ? null : parseXml(text);
  }

  /** Evaluates the If header (412 when no list holds) and returns the lock tokens it submits. */
  async checkIf(request: HttpRequest, decoded: Decoded): Promise<Set<string>> {
    const header = request.headers.if;
    if (header === undefined) return new Set();
    const lists = parseIfHeader(header);
    if (lists === null) throw new DavRefusal(400, 'the If header does not follow RFC 4918 §10.4 grammar');
    for (const list of lists) {
      if (await this.listHolds(list, request, decoded)) {
        // RFC 4918 §6.4: a lock token is usable only by the principal that took the lock.
        const principal = this.principalOf(request);
        const tokens = submittedTokens(lists);
        for (const token of tokens) {
          if (this.locks.byToken(token)?.principal !== principal) tokens.delete(token);
        }
        return tokens;
      }
    }
    throw new DavRefusal(412, 'no list in the If header matched the current state of the resource');
  }

  private async listHolds(list: IfList, request: HttpRequest, decoded: Decoded): Promise<boolean> {
    let segments: readonly string[] = decoded.segments;
    if (list.resource !== null) {
      const tagged = taggedSegments(list.resource, request);
      // A list about a resource the request may not read tells it nothing: it does not hold.
      if (tagged === null || (await this.deniedAccess(request, tagged, false, false)) !== null) return false;
      segments = tagged;
    }
    const key = lockKey(segments);
    let etag: string | null = null;
    const resolution = await resolvePath({ kind: 'ok', segments, trailingSlash: false }, this.resolveOptions);
    if (resolution.kind === 'file') etag = makeFileEtag(resolution.stats.size, resolution.stats.mtimeMs);
    return evaluateIfList(list, {
      etag,
      hasLock: (token) => this.locks.covering(key).some((lock) => lock.token === token),
    });
  }

  /**
   * 423 unless the request submitted a token of a lock covering `key`; with `members`, also of every lock
   * rooted below it (DELETE and MOVE of a collection remove those resources too, §9.6.1).
   */
  requireUnlocked(key: string, submitted: ReadonlySet<string>, members = false): void {
    const held = this.locks.covering(key);
    const missing: ActiveLock[] = [];
    if (held.length > 0 && !held.some((lock) => submitted.has(lock.token))) missing.push(...held);
    if (members) {
      for (const lock of this.locks.below(key)) {
        if (lock.root === key) continue;
        const atRoot = this.locks.covering(lock.root).filter((other) => other.root === lock.root);
        if (!atRoot.some((other) => submitted.has(other.token))) missing.push(lock);
      }
    }
    if (missing.length > 0) {
      const roots = [...new Set(missing.map((lock) => lock.root))];
      throw new DavRefusal(
        423,
        'the resource is locked and the request did not submit its lock token in an If header',
        'lock-token-submitted',
        roots.map(hrefOfLockRoot),
      );
    }
  }

  /** Creating or removing a member changes the parent collection (§7.4): its locks apply too. */
  requireParentUnlocked(segments: readonly string[], submitted: ReadonlySet<string>): void {
    if (segments.length > 0) this.requireUnlocked(lockKey(segments.slice(0, -1)), submitted);
  }

  /**
   * The access rules' answer for a path the request acts on besides its own URL, and, with `tree`, for
   * every rule folder below it (a folder's rules travel with it: they must not be escaped by a COPY,
   * MOVE or DELETE of a parent). Null when everything is allowed.
   */
  async deniedAccess(
    request: HttpRequest,
    segments: readonly string[],
    write: boolean,
    tree: boolean,
  ): Promise<ResponseDescription | null> {
    const access = this.options.access;
    if (access === undefined) return null;
    const denied = await access.check(request, hrefOf(segments, false), write);
    if (denied !== null || !tree) return denied;
    const lower = segments.map((segment) => segment.toLowerCase());
    for (const prefix of access.rulePrefixes) {
      if (prefix.length <= segments.length) continue;
      if (!lower.every((segment, i) => prefix[i]!.toLowerCase() === segment)) continue;
      const inner = await access.check(request, hrefOf(prefix, false), write);
      if (inner !== null) return inner;
    }
    return null;
  }

  async writeTarget(decoded: Decoded): Promise<WriteTarget> {
    // The options as given: any write rule the upload handler obeys (beyond the read rules) applies here too.
    const resolved = await resolveWriteTarget(decoded, { ...this.options, ...this.resolveOptions });
    if (resolved instanceof WriteRefusal) throw resolved;
    return resolved;
  }
}

/** The decoded segments of a Resource-Tag naming a resource on this server, or null. */
function taggedSegments(tag: string, request: HttpRequest): readonly string[] | null {
  const reference = splitReference(tag);
  if (reference === null || !sameAuthority(reference.authority, request)) return null;
  const tagDecoded = decodeRequestPath(reference.path);
  return tagDecoded.kind === 'ok' ? tagDecoded.segments : null;
}

/**
 * An absolute URI (`http://host/path`) or absolute path (`/path`) split into its authority (null for a
 * path) and its still percent-encoded path, query and fragment dropped; null for anything else. Kept
 * apart from WHATWG URL parsing on purpose: that would resolve `%2e%2e` segments instead of refusing them.
 */
export function splitReference(reference: string): { authority: string | null; path: string } | null {
  let authority: string | null = null;
  let rest = reference;
  if (!reference.startsWith('/')) {
    const schemeEnd = reference.indexOf('://');
    if (schemeEnd === -1) return null;
    const scheme = reference.slice(0, schemeEnd).toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') return null;
    const pathStart = reference.indexOf('/', schemeEnd + 3);
    authority = reference.slice(schemeEnd + 3, pathStart === -1 ? undefined : pathStart);
    rest = pathStart === -1 ? '/' : reference.slice(pathStart);
  } else if (reference.startsWith('//')) return null;
  const end = rest.search(/[?#]/);
  return { authority, path: end === -1 ? rest : rest.slice(0, end) };
}

/** Whether an authority names this server (the request's): COPY, MOVE and If never reach elsewhere. */
export function sameAuthority(authority: string | null, request: HttpRequest): boolean {
  if (authority === null) return true;
  const ours = (request.authority || request.headers.host || '').toLowerCase();
  const theirs = authority.slice(authority.lastIndexOf('@') + 1).toLowerCase();
  if (ours === theirs) return true;
  // A default port may be written or left out (RFC 9110 §4.2.3).
  const defaultPort = request.secure ? ':443' : ':80';
  return ours === `${theirs}${defaultPort}` || theirs === `${ours}${defaultPort}`;
}
