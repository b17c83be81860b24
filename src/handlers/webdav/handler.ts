/**
 * WebDAV (RFC 4918): PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK and collection DELETE, plus the lock
 * and `If` checks in front of the upload handler's PUT, PATCH, MKCOL and POST. Loaded on the first DAV
 * request. Every path goes through the same resolver and write rules as GET and PUT (containment, dotfiles,
 * symlinks, the server's own names), and every answer is a ResponseDescription like any other handler's.
 * @module
 */
import type { Stats } from 'node:fs';
import {
  copyFile,
  lstat,
  mkdir,
  opendir,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  utimes,
} from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  type DecodedPath,
  decodeRequestPath,
  isInside,
  isServerOwnName,
  type ResolveOptions,
  resolvePath,
} from '../../files/resolve.js';
import {
  refusalFor,
  resolveWriteTarget,
  WriteRefusal,
  type WriteTarget,
  writeFileAtomically,
} from '../../files/write.js';
import { parseHttpDate } from '../../http/date.js';
import { makeFileEtag } from '../../http/etag.js';
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import { errorResponse } from '../errors.js';
import { evaluateIfList, type IfList, parseIfHeader, submittedTokens } from './if-header.js';
import {
  type ActiveLock,
  grantedTimeout,
  isWithin,
  type LockDepth,
  type LockScope,
  LockTable,
  lockKey,
  MAX_LOCKS,
} from './locks.js';
import { conditionResponse, multistatus, propstat, statusLine, streamedMultistatus } from './multistatus.js';
import {
  allpropLiveNames,
  clarkName,
  copyDeadProperties,
  type DavResource,
  type DeadProperty,
  isLiveProperty,
  type LiveContext,
  liveValue,
  MAX_DEAD_PROPERTY_BYTES,
  moveDeadProperties,
  namesWithDeadProperties,
  PROPS_DIR,
  type PropertyName,
  readDeadProperties,
  removeDeadProperties,
  sidecarPathOf,
  writeDeadProperties,
} from './properties.js';
import {
  childElement,
  childElements,
  DAV_NS,
  escapeXml,
  parseXml,
  readXmlBody,
  serializeChildren,
  textOf,
  XmlBodyError,
  type XmlElement,
} from './xml.js';

type Decoded = Extract<DecodedPath, { kind: 'ok' }>;

/** A member a DELETE could not remove. */
interface RemovalFailure {
  readonly segments: readonly string[];
  readonly directory: boolean;
  readonly error: unknown;
}

interface PatchOutcome {
  readonly name: PropertyName;
  readonly status: number;
  readonly reason?: string;
}

/** The namespace of the Win32 properties Windows' mini-redirector sets with PROPPATCH. */
const MS_NS = 'urn:schemas-microsoft-com:';

/** The write methods of the upload handler that WebDAV guards with its lock checks. */
type UploadHandle = (request: HttpRequest, decoded: Decoded) => Promise<ResponseDescription>;

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
class DavRefusal extends Error {
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

type PropfindRequest =
  | { readonly kind: 'allprop'; readonly include: readonly PropertyName[] }
  | { readonly kind: 'propname' }
  | { readonly kind: 'prop'; readonly names: readonly PropertyName[] };

function namesIn(prop: XmlElement): PropertyName[] {
  return childElements(prop).map((element) => ({ ns: element.ns, local: element.local }));
}

/** RFC 4918 §14.20: propfind = (propname | (allprop, include?) | prop); an empty body means allprop. */
function parsePropfind(root: XmlElement | null): PropfindRequest {
  if (root === null) return { kind: 'allprop', include: [] };
  if (root.ns !== DAV_NS || root.local !== 'propfind') {
    throw new DavRefusal(400, 'a PROPFIND body must be a DAV:propfind element');
  }
  const prop = childElement(root, DAV_NS, 'prop');
  if (prop !== undefined) return { kind: 'prop', names: namesIn(prop) };
  if (childElement(root, DAV_NS, 'propname') !== undefined) return { kind: 'propname' };
  if (childElement(root, DAV_NS, 'allprop') !== undefined) {
    const include = childElement(root, DAV_NS, 'include');
    return { kind: 'allprop', include: include === undefined ? [] : namesIn(include) };
  }
  throw new DavRefusal(400, 'DAV:propfind needs DAV:prop, DAV:propname or DAV:allprop');
}

function propElement(name: PropertyName, content: string | null): string {
  if (name.ns === DAV_NS) {
    return content === null || content === ''
      ? `<D:${name.local}/>`
      : `<D:${name.local}>${content}</D:${name.local}>`;
  }
  const open = `${name.local} xmlns="${escapeXml(name.ns)}"`;
  return content === null || content === '' ? `<${open}/>` : `<${open}>${content}</${name.local}>`;
}

export function createDavHandler(options: DavOptions) {
  const root = options.root;
  const locks = new LockTable();
  /** Pending property updates per sidecar file. */
  const turns = new Map<string, Promise<void>>();
  const locking = options.locking ?? options.upload !== null;
  const resolveOptions: ResolveOptions = {
    root,
    dotfiles: options.dotfiles ?? false,
    followSymlinks: options.followSymlinks ?? false,
  };

  const liveContext: LiveContext = {
    locking,
    root,
    lockDiscovery: (resource) => locks.covering(lockKey(resource.segments)).map(activeLockXml).join(''),
  };

  /** The user the --auth gate let through (its credentials were checked there), or '' without --auth. */
  function principalOf(request: HttpRequest): string {
    if (options.access === undefined) return '';
    const authorization = request.headers.authorization?.trim() ?? '';
    if (authorization.slice(0, 6).toLowerCase() !== 'basic ') return '';
    const credentials = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = credentials.indexOf(':');
    return colon === -1 ? '' : credentials.slice(0, colon);
  }

  function activeLockXml(lock: ActiveLock): string {
    const segments = lock.root === '/' ? [] : lock.root.slice(1).split('/');
    return (
      `<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:${lock.scope}/></D:lockscope>` +
      `<D:depth>${lock.depth === '0' ? '0' : 'infinity'}</D:depth>` +
      (lock.ownerXml === '' ? '' : `<D:owner>${lock.ownerXml}</D:owner>`) +
      `<D:timeout>Second-${locks.secondsLeft(lock)}</D:timeout>` +
      `<D:locktoken><D:href>${escapeXml(lock.token)}</D:href></D:locktoken>` +
      `<D:lockroot><D:href>${escapeXml(hrefOf(segments, false))}</D:href></D:lockroot></D:activelock>`
    );
  }

  return async function handleDav(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    try {
      switch (request.method) {
        case 'PROPFIND':
          return await propfind(request, decoded);
        case 'PROPPATCH':
          return await proppatch(request, decoded);
        case 'COPY':
        case 'MOVE':
          return await copyOrMove(request, decoded, request.method === 'MOVE');
        case 'LOCK':
        case 'UNLOCK':
          if (!locking) throw new DavRefusal(405, 'locks are off here (class 1 only)');
          return await (request.method === 'LOCK' ? lock(request, decoded) : unlock(request, decoded));
        case 'DELETE':
          return await remove(request, decoded);
        default:
          return await guardedUpload(request, decoded);
      }
    } catch (error) {
      let response: ResponseDescription;
      if (error instanceof DavRefusal && error.condition !== null) {
        response = conditionResponse(error.status, error.condition, error.message, error.hrefs);
      } else {
        const refusal =
          error instanceof DavRefusal || error instanceof XmlBodyError
            ? new WriteRefusal(error.status, error.message)
            : refusalFor(error);
        response = errorResponse(refusal.status, refusal.message, request.headers.accept);
      }
      // The body is left alone (a client waiting for 100 Continue then never sends it); an unread body
      // would have to be skipped before the next request, so the connection closes instead.
      if (request.body !== null && !request.body.readableEnded) response.close = true;
      return response;
    }
  };

  async function xmlBodyOf(request: HttpRequest): Promise<XmlElement | null> {
    const text = await readXmlBody(request.body, request.contentLength);
    return text === null ? null : parseXml(text);
  }

  // ---- If header and lock checks (RFC 4918 §10.4, §7) ----

  /** Evaluates the If header (412 when no list holds) and returns the lock tokens it submits. */
  async function checkIf(request: HttpRequest, decoded: Decoded): Promise<Set<string>> {
    const header = request.headers.if;
    if (header === undefined) return new Set();
    const lists = parseIfHeader(header);
    if (lists === null) throw new DavRefusal(400, 'the If header does not follow RFC 4918 §10.4 grammar');
    for (const list of lists) {
      if (await listHolds(list, request, decoded)) {
        // RFC 4918 §6.4: a lock token is usable only by the principal that took the lock.
        const principal = principalOf(request);
        const tokens = submittedTokens(lists);
        for (const token of tokens) if (locks.byToken(token)?.principal !== principal) tokens.delete(token);
        return tokens;
      }
    }
    throw new DavRefusal(412, 'no list in the If header matched the current state of the resource');
  }

  async function listHolds(list: IfList, request: HttpRequest, decoded: Decoded): Promise<boolean> {
    let segments: readonly string[] = decoded.segments;
    if (list.resource !== null) {
      const tagged = taggedSegments(list.resource, request);
      // A list about a resource the request may not read tells it nothing: it does not hold.
      if (tagged === null || (await deniedAccess(request, tagged, false, false)) !== null) return false;
      segments = tagged;
    }
    const key = lockKey(segments);
    let etag: string | null = null;
    const resolution = await resolvePath({ kind: 'ok', segments, trailingSlash: false }, resolveOptions);
    if (resolution.kind === 'file') etag = makeFileEtag(resolution.stats.size, resolution.stats.mtimeMs);
    return evaluateIfList(list, {
      etag,
      hasLock: (token) => locks.covering(key).some((lock) => lock.token === token),
    });
  }

  /** The decoded segments of a Resource-Tag naming a resource on this server, or null. */
  function taggedSegments(tag: string, request: HttpRequest): readonly string[] | null {
    const reference = splitReference(tag);
    if (reference === null || !sameAuthority(reference.authority, request)) return null;
    const tagDecoded = decodeRequestPath(reference.path);
    return tagDecoded.kind === 'ok' ? tagDecoded.segments : null;
  }

  /**
   * 423 unless the request submitted a token of a lock covering `key`; with `members`, also of every lock
   * rooted below it (DELETE and MOVE of a collection remove those resources too, §9.6.1).
   */
  function requireUnlocked(key: string, submitted: ReadonlySet<string>, members = false): void {
    const held = locks.covering(key);
    const missing: ActiveLock[] = [];
    if (held.length > 0 && !held.some((lock) => submitted.has(lock.token))) missing.push(...held);
    if (members) {
      for (const lock of locks.below(key)) {
        if (lock.root === key) continue;
        const atRoot = locks.covering(lock.root).filter((other) => other.root === lock.root);
        if (!atRoot.some((other) => submitted.has(other.token))) missing.push(lock);
      }
    }
    if (missing.length > 0) {
      const roots = [...new Set(missing.map((lock) => lock.root))];
      throw new DavRefusal(
        423,
        'the resource is locked and the request did not submit its lock token in an If header',
        'lock-token-submitted',
        roots.map((lockRoot) => hrefOf(lockRoot === '/' ? [] : lockRoot.slice(1).split('/'), false)),
      );
    }
  }

  /** Creating or removing a member changes the parent collection (§7.4): its locks apply too. */
  function requireParentUnlocked(segments: readonly string[], submitted: ReadonlySet<string>): void {
    if (segments.length > 0) requireUnlocked(lockKey(segments.slice(0, -1)), submitted);
  }

  /**
   * The access rules' answer for a path the request acts on besides its own URL, and, with `tree`, for
   * every rule folder below it (a folder's rules travel with it: they must not be escaped by a COPY,
   * MOVE or DELETE of a parent). Null when everything is allowed.
   */
  async function deniedAccess(
    request: HttpRequest,
    segments: readonly string[],
    write: boolean,
    tree: boolean,
  ): Promise<ResponseDescription | null> {
    const access = options.access;
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

  async function writeTarget(decoded: Decoded): Promise<WriteTarget> {
    // The options as given: any write rule the upload handler obeys (beyond the read rules) applies here too.
    const resolved = await resolveWriteTarget(decoded, { ...options, ...resolveOptions });
    if (resolved instanceof WriteRefusal) throw resolved;
    return resolved;
  }

  // ---- PUT, PATCH, MKCOL, POST: the upload handler, behind the lock checks ----

  async function guardedUpload(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    if (options.upload === null) throw new DavRefusal(405, `${request.method} needs --upload`);
    const submitted = await checkIf(request, decoded);
    const key = lockKey(decoded.segments);
    requireUnlocked(key, submitted);
    if (request.method === 'PUT' || request.method === 'MKCOL') {
      const exists = (await resolvePath(decoded, resolveOptions)).kind !== 'error';
      if (!exists) requireParentUnlocked(decoded.segments, submitted);
    }
    return options.upload(request, decoded);
  }

  // ---- PROPFIND (§9.1) ----

  async function propfind(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    const depth = request.headers.depth?.trim().toLowerCase() ?? 'infinity';
    if (depth !== '0' && depth !== '1' && depth !== 'infinity') {
      throw new DavRefusal(400, 'Depth must be 0, 1 or infinity');
    }
    const what = parsePropfind(await xmlBodyOf(request));
    if (depth === 'infinity') {
      // §9.1: a server may refuse Depth: infinity; walking a whole share in one answer is a denial of service.
      throw new DavRefusal(
        403,
        'PROPFIND with Depth: infinity is refused here; ask with Depth: 0 or 1, folder by folder',
        'propfind-finite-depth',
      );
    }
    const resolution = await resolvePath(decoded, resolveOptions);
    if (resolution.kind === 'error') throw new DavRefusal(resolution.status, resolution.message);
    const isDirectory = resolution.kind === 'directory';
    const target: DavResource = {
      href: hrefOf(decoded.segments, isDirectory),
      segments: decoded.segments,
      stats: resolution.stats,
      isDirectory,
    };
    const dirPath = resolution.filePath;
    async function* responses(): AsyncGenerator<string> {
      yield await describe(target, what, sidecarPathOf(root, decoded.segments));
      if (depth !== '1' || !isDirectory) return;
      const withProps = await namesWithDeadProperties(dirPath);
      try {
        const dir = await opendir(dirPath);
        for await (const entry of dir) {
          const member = await memberOf(dirPath, entry.name, decoded.segments);
          if (member === null) continue;
          const sidecar = withProps.has(entry.name) ? path.join(dirPath, PROPS_DIR, entry.name) : null;
          yield await describe(member, what, sidecar);
        }
      } catch {
        // The folder went away (or became unreadable) after the 207 began: what was listed stands, and
        // the document still ends well-formed (RFC 4918 §13 allows no second answer for the same href).
      }
    }
    return streamedMultistatus(responses());
  }

  /** A folder entry as a DavResource, or null when the serving rules hide it. */
  async function memberOf(
    dirPath: string,
    name: string,
    parentSegments: readonly string[],
  ): Promise<DavResource | null> {
    if (isServerOwnName(name)) return null;
    if (!resolveOptions.dotfiles && name.startsWith('.')) return null;
    const entryPath = path.join(dirPath, name);
    let stats: Stats;
    try {
      stats = await lstat(entryPath);
      if (stats.isSymbolicLink()) {
        const real = await realpath(entryPath);
        if (!isInside(root, real) && !resolveOptions.followSymlinks) return null;
        stats = await stat(real);
      }
    } catch {
      return null;
    }
    if (!stats.isFile() && !stats.isDirectory()) return null;
    const segments = [...parentSegments, name];
    return { href: hrefOf(segments, stats.isDirectory()), segments, stats, isDirectory: stats.isDirectory() };
  }

  async function describe(
    resource: DavResource,
    what: PropfindRequest,
    sidecar: string | null,
  ): Promise<string> {
    const dead = sidecar === null ? [] : await readDeadProperties(sidecar);
    const found: string[] = [];
    const missing: string[] = [];
    if (what.kind === 'propname') {
      for (const local of allpropLiveNames()) {
        if ((await liveValue(local, resource, liveContext)) !== null) found.push(`<D:${local}/>`);
      }
      for (const property of dead) found.push(propElement(property, null));
    } else {
      const names: PropertyName[] =
        what.kind === 'prop'
          ? [...what.names]
          : [
              ...allpropLiveNames().map((local) => ({ ns: DAV_NS, local })),
              ...dead,
              ...what.include.filter(
                (name) => !(name.ns === DAV_NS && allpropLiveNames().includes(name.local)),
              ),
            ];
      const deadByName = new Map(dead.map((property) => [clarkName(property), property]));
      const seen = new Set<string>();
      for (const name of names) {
        const key = clarkName(name);
        if (seen.has(key)) continue;
        seen.add(key);
        const value = isLiveProperty(name)
          ? await liveValue(name.local, resource, liveContext)
          : (deadByName.get(key)?.xml ?? null);
        if (value !== null) found.push(propElement(name, value));
        else if (what.kind === 'prop' || name.ns !== DAV_NS) missing.push(propElement(name, null));
      }
    }
    let out = `<D:response><D:href>${escapeXml(resource.href)}</D:href>`;
    if (found.length > 0) out += propstat(found.join(''), 200);
    if (missing.length > 0) out += propstat(missing.join(''), 404);
    if (found.length === 0 && missing.length === 0) out += propstat('', 200);
    return `${out}</D:response>\n`;
  }

  // ---- PROPPATCH (§9.2) ----

  async function proppatch(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    const submitted = await checkIf(request, decoded);
    requireUnlocked(lockKey(decoded.segments), submitted);
    const body = await xmlBodyOf(request);
    if (body === null || body.ns !== DAV_NS || body.local !== 'propertyupdate') {
      throw new DavRefusal(400, 'a PROPPATCH body must be a DAV:propertyupdate element');
    }
    const resolution = await resolvePath(decoded, resolveOptions);
    if (resolution.kind === 'error') throw new DavRefusal(resolution.status, resolution.message);
    if (decoded.segments.length > 0) await writeTarget(decoded);
    const sidecar = sidecarPathOf(root, decoded.segments);
    // Read-modify-write of one sidecar, one request at a time, so concurrent PROPPATCHes lose nothing.
    const { outcomes, failed } = await inTurn(sidecar, () =>
      applyPropertyUpdate(body, sidecar, resolution.filePath),
    );
    // §9.2: all or nothing; the instructions that would have succeeded get 424 Failed Dependency.
    const byStatus = new Map<number, string[]>();
    const reasons = new Map<number, string>();
    for (const outcome of outcomes) {
      const status = failed && outcome.status === 200 ? 424 : outcome.status;
      const list = byStatus.get(status) ?? [];
      list.push(propElement(outcome.name, null));
      byStatus.set(status, list);
      if (outcome.reason !== undefined) reasons.set(status, outcome.reason);
    }
    let response = `<D:response><D:href>${escapeXml(hrefOf(decoded.segments, resolution.kind === 'directory'))}</D:href>`;
    for (const [status, names] of byStatus) response += propstat(names.join(''), status, reasons.get(status));
    return multistatus(`${response}</D:response>\n`);
  }

  /** Applies a DAV:propertyupdate in document order, all or nothing (RFC 4918 §9.2). */
  async function applyPropertyUpdate(
    body: XmlElement,
    sidecar: string,
    filePath: string,
  ): Promise<{ outcomes: PatchOutcome[]; failed: boolean }> {
    const properties = new Map((await readDeadProperties(sidecar)).map((p) => [clarkName(p), p] as const));
    const outcomes: PatchOutcome[] = [];
    let modifiedMs: number | null = null;
    for (const instruction of childElements(body)) {
      if (instruction.ns !== DAV_NS || (instruction.local !== 'set' && instruction.local !== 'remove'))
        continue;
      for (const prop of childElements(instruction)) {
        if (prop.ns !== DAV_NS || prop.local !== 'prop') continue;
        for (const element of childElements(prop)) {
          const name = { ns: element.ns, local: element.local };
          if (isLiveProperty(name)) {
            outcomes.push({ name, status: 403, reason: 'live properties are computed by the server' });
            continue;
          }
          if (instruction.local === 'set') {
            properties.set(clarkName(name), { ...name, xml: serializeChildren(element) });
            if (name.ns === MS_NS && name.local === 'Win32LastModifiedTime') {
              // Windows Explorer keeps a copied file's date this way; the file's real mtime follows it.
              modifiedMs = parseHttpDate(textOf(element).trim());
            }
          } else properties.delete(clarkName(name));
          outcomes.push({ name, status: 200 });
        }
      }
    }
    const failed = outcomes.some((outcome) => outcome.status !== 200);
    if (!failed) {
      const list: DeadProperty[] = [...properties.values()];
      if (Buffer.byteLength(JSON.stringify(list)) > MAX_DEAD_PROPERTY_BYTES) {
        throw new DavRefusal(
          507,
          `a resource may carry at most ${MAX_DEAD_PROPERTY_BYTES} bytes of properties`,
        );
      }
      await writeDeadProperties(sidecar, list);
      if (modifiedMs !== null) {
        const when = new Date(modifiedMs);
        await utimes(filePath, when, when);
      }
    }
    return { outcomes, failed };
  }

  /** Runs `work` after every earlier work queued under the same key has settled. */
  async function inTurn<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = turns.get(key) ?? Promise.resolve();
    const current = previous.then(work, work);
    const settled = current.then(
      () => {},
      () => {},
    );
    turns.set(key, settled);
    try {
      return await current;
    } finally {
      if (turns.get(key) === settled) turns.delete(key);
    }
  }

  // ---- DELETE (§9.6) ----

  async function remove(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    const depth = request.headers.depth?.trim().toLowerCase();
    if (depth !== undefined && depth !== 'infinity') {
      throw new DavRefusal(400, 'DELETE of a collection acts on its whole tree: Depth must be infinity');
    }
    const where = await writeTarget(decoded);
    if (where.existing === 'none') throw new DavRefusal(404, 'no file or folder of that name');
    const denied = await deniedAccess(request, decoded.segments, true, where.existing === 'directory');
    if (denied !== null) return denied;
    const submitted = await checkIf(request, decoded);
    const key = lockKey(decoded.segments);
    requireUnlocked(key, submitted, true);
    requireParentUnlocked(decoded.segments, submitted);
    if (where.existing === 'directory' && where.entryPath === where.filePath) {
      const failures: RemovalFailure[] = [];
      if (!(await removeTree(where.entryPath, decoded.segments, failures))) {
        // §9.6.1: what could not be removed is listed (its ancestors, necessarily kept, are not).
        return multistatus(failures.map(failureResponse).join(''));
      }
    } else await unlink(where.entryPath);
    await removeDeadProperties(sidecarPathOf(root, decoded.segments));
    locks.removeBelow(key);
    return { status: 204 };
  }

  /**
   * Removes a folder depth-first, member by member; a member that cannot be removed is recorded and keeps
   * its ancestors (RFC 4918 §9.6.1). True when the folder itself is gone.
   */
  async function removeTree(
    dirPath: string,
    segments: readonly string[],
    failures: RemovalFailure[],
  ): Promise<boolean> {
    let complete = true;
    try {
      const dir = await opendir(dirPath);
      for await (const entry of dir) {
        const memberPath = path.join(dirPath, entry.name);
        const memberSegments = [...segments, entry.name];
        // A symlink is removed itself (never followed), like a file.
        if (entry.isDirectory()) {
          if (!(await removeTree(memberPath, memberSegments, failures))) complete = false;
          continue;
        }
        try {
          await unlink(memberPath);
        } catch (error) {
          failures.push({ segments: memberSegments, directory: false, error });
          complete = false;
        }
      }
      if (complete) await rmdir(dirPath);
    } catch (error) {
      failures.push({ segments, directory: true, error });
      return false;
    }
    return complete;
  }

  function failureResponse(failure: RemovalFailure): string {
    const refusal = refusalFor(failure.error);
    const code = (failure.error as NodeJS.ErrnoException).code;
    const reason = code === 'EBUSY' ? 'it is in use (a mount point?)' : refusal.message;
    const href = escapeXml(hrefOf(failure.segments, failure.directory));
    return `<D:response><D:href>${href}</D:href><D:status>${statusLine(refusal.status)}</D:status><D:responsedescription>${escapeXml(`could not be removed: ${reason}`)}</D:responsedescription></D:response>\n`;
  }

  async function removeEntry(where: WriteTarget): Promise<void> {
    if (where.existing === 'directory' && where.entryPath === where.filePath) {
      await rm(where.entryPath, { recursive: true });
    } else await unlink(where.entryPath);
  }

  // ---- COPY and MOVE (§9.8, §9.9) ----

  async function copyOrMove(
    request: HttpRequest,
    decoded: Decoded,
    move: boolean,
  ): Promise<ResponseDescription> {
    const destinationHeader = request.headers.destination;
    if (destinationHeader === undefined)
      throw new DavRefusal(400, `${request.method} needs a Destination header`);
    const reference = splitReference(destinationHeader.trim());
    if (reference === null)
      throw new DavRefusal(400, 'the Destination header is not an absolute URI or path');
    if (!sameAuthority(reference.authority, request)) {
      // §9.8.5 / §9.9.4: the destination is on another server, which this one will not talk to.
      throw new DavRefusal(502, 'the Destination is on another server; copies and moves stay on this one');
    }
    // Decoded by the same code as request paths: ".." and encoded slashes are refused, not resolved.
    const destination = decodeRequestPath(reference.path);
    if (destination.kind === 'error') throw new DavRefusal(400, `Destination: ${destination.message}`);
    const overwriteHeader = request.headers.overwrite?.trim().toUpperCase() ?? 'T';
    if (overwriteHeader !== 'T' && overwriteHeader !== 'F')
      throw new DavRefusal(400, 'Overwrite must be T or F');
    const depth = request.headers.depth?.trim().toLowerCase() ?? 'infinity';
    if (depth !== 'infinity' && (move || depth !== '0')) {
      throw new DavRefusal(400, move ? 'MOVE takes Depth: infinity only' : 'COPY takes Depth: 0 or infinity');
    }
    const source = await writeTarget(decoded);
    if (source.existing === 'none') throw new DavRefusal(404, 'no file or folder of that name');
    if (source.existing === 'other')
      throw new DavRefusal(403, 'only regular files and folders are copied or moved');
    const sourceKey = lockKey(decoded.segments);
    const destinationKey = lockKey(destination.segments);
    if (sourceKey === destinationKey)
      throw new DavRefusal(403, 'the source and the destination are the same');
    if (source.existing === 'directory' && isWithin(sourceKey, destinationKey)) {
      throw new DavRefusal(403, 'a folder cannot be copied or moved into itself');
    }
    const target = await writeTarget({ ...destination, trailingSlash: false });
    if (target.existing !== 'none' && overwriteHeader === 'F') {
      throw new DavRefusal(412, 'the destination exists and Overwrite: F was sent');
    }
    const isFolder = source.existing === 'directory';
    const denied =
      (await deniedAccess(request, decoded.segments, move, isFolder)) ??
      (await deniedAccess(request, destination.segments, true, true));
    if (denied !== null) return denied;
    const submitted = await checkIf(request, decoded);
    if (move) {
      requireUnlocked(sourceKey, submitted, true);
      requireParentUnlocked(decoded.segments, submitted);
    }
    requireUnlocked(destinationKey, submitted, true);
    requireParentUnlocked(destination.segments, submitted);
    const destinationSidecar = sidecarPathOf(root, destination.segments);
    if (target.existing !== 'none') {
      await removeEntry(target);
      await removeDeadProperties(destinationSidecar);
    }
    const sourceSidecar = sidecarPathOf(root, decoded.segments);
    if (move) {
      try {
        await rename(source.entryPath, target.entryPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        await copyTree(source, target.entryPath, true);
        await removeEntry(source);
      }
      await moveDeadProperties(sourceSidecar, destinationSidecar);
      locks.removeBelow(sourceKey);
    } else {
      await copyTree(source, target.entryPath, depth === 'infinity');
      await copyDeadProperties(sourceSidecar, destinationSidecar);
    }
    if (target.existing !== 'none') return { status: 204 };
    const location = hrefOf(destination.segments, source.existing === 'directory');
    return {
      status: 201,
      headers: { Location: location, 'Content-Type': 'text/plain; charset=utf-8' },
      body: { kind: 'bytes', data: `201 Created: ${location}\n` },
    };
  }

  /** Copies a file, or a folder (its members too with `deep`), under the serving rules. */
  async function copyTree(source: WriteTarget, destination: string, deep: boolean): Promise<void> {
    if (source.existing !== 'directory') {
      await copyFile(source.filePath, destination);
      return;
    }
    await mkdir(destination);
    if (deep) await copyMembers(source.filePath, destination, new Set([source.filePath]));
  }

  async function copyMembers(from: string, to: string, visited: Set<string>): Promise<void> {
    const dir = await opendir(from);
    for await (const entry of dir) {
      const name = entry.name;
      // Dead properties travel with their resources; other hidden names only with --dotfiles.
      if (name === PROPS_DIR) {
        await copyMembers(path.join(from, name), await ensureDir(path.join(to, name)), visited);
        continue;
      }
      if (isServerOwnName(name) || (!resolveOptions.dotfiles && name.startsWith('.'))) continue;
      let real: string;
      let stats: Stats;
      try {
        real = await realpath(path.join(from, name));
        stats = await stat(real);
      } catch {
        continue;
      }
      if (!isInside(root, real) && !resolveOptions.followSymlinks) continue;
      if (stats.isFile()) await copyFile(real, path.join(to, name));
      else if (stats.isDirectory() && !visited.has(real)) {
        visited.add(real);
        await mkdir(path.join(to, name));
        await copyMembers(real, path.join(to, name), visited);
      }
    }
  }

  async function ensureDir(dirPath: string): Promise<string> {
    await mkdir(dirPath, { recursive: true });
    return dirPath;
  }

  // ---- LOCK and UNLOCK (§9.10, §9.11) ----

  async function lock(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    const key = lockKey(decoded.segments);
    const body = await xmlBodyOf(request);
    const timeout = grantedTimeout(request.headers.timeout);
    if (body === null) {
      // §9.10.2: a LOCK without a body refreshes the lock named in the If header.
      const submitted = await checkIf(request, decoded);
      const held = locks.covering(key).find((candidate) => submitted.has(candidate.token));
      if (held === undefined) {
        throw new DavRefusal(
          412,
          'a lock refresh needs the token of a lock covering this resource in the If header',
          'lock-token-matches-request-uri',
        );
      }
      locks.refresh(held, timeout);
      return lockAnswer(200, held, false);
    }
    if (body.ns !== DAV_NS || body.local !== 'lockinfo')
      throw new DavRefusal(400, 'a LOCK body must be DAV:lockinfo');
    const scopeElement = childElement(body, DAV_NS, 'lockscope');
    const scopeName = scopeElement === undefined ? undefined : childElements(scopeElement)[0];
    let scope: LockScope;
    if (scopeName?.ns === DAV_NS && scopeName.local === 'exclusive') scope = 'exclusive';
    else if (scopeName?.ns === DAV_NS && scopeName.local === 'shared') scope = 'shared';
    else throw new DavRefusal(400, 'DAV:lockscope must be DAV:exclusive or DAV:shared');
    const typeElement = childElement(body, DAV_NS, 'locktype');
    if (typeElement === undefined || childElement(typeElement, DAV_NS, 'write') === undefined) {
      throw new DavRefusal(400, 'DAV:locktype must be DAV:write, the only lock type WebDAV defines');
    }
    const owner = childElement(body, DAV_NS, 'owner');
    const depthHeader = request.headers.depth?.trim().toLowerCase() ?? 'infinity';
    if (depthHeader !== '0' && depthHeader !== 'infinity')
      throw new DavRefusal(400, 'LOCK takes Depth: 0 or infinity');
    const submitted = await checkIf(request, decoded);
    const conflicting = locks.conflicts(key, scope, depthHeader as LockDepth);
    if (conflicting.length > 0) {
      throw new DavRefusal(
        423,
        `the resource is already locked (${conflicting[0]!.scope}); the new lock would conflict`,
        'no-conflicting-lock',
        conflicting.map((held) => hrefOf(held.root === '/' ? [] : held.root.slice(1).split('/'), false)),
      );
    }
    if (locks.size >= MAX_LOCKS)
      throw new DavRefusal(503, `the server holds its limit of ${MAX_LOCKS} locks`);
    let created = false;
    const resolution = await resolvePath(decoded, resolveOptions);
    if (resolution.kind === 'error') {
      if (resolution.status !== 404) throw new DavRefusal(resolution.status, resolution.message);
      // §7.3: locking an unmapped URL creates an empty resource ("locked empty resource").
      requireParentUnlocked(decoded.segments, submitted);
      const where = await writeTarget({ ...decoded, trailingSlash: false });
      await writeFileAtomically(where.filePath, Readable.from([]), 0);
      created = true;
    } else if (decoded.segments.length > 0) await writeTarget({ ...decoded, trailingSlash: false });
    const granted = locks.create(
      key,
      scope,
      depthHeader as LockDepth,
      owner === undefined ? '' : serializeChildren(owner),
      timeout,
      principalOf(request),
    );
    return lockAnswer(created ? 201 : 200, granted, true);
  }

  function lockAnswer(status: number, granted: ActiveLock, withToken: boolean): ResponseDescription {
    const body = `<?xml version="1.0" encoding="utf-8"?>\n<D:prop xmlns:D="DAV:"><D:lockdiscovery>${activeLockXml(granted)}</D:lockdiscovery></D:prop>\n`;
    return {
      status,
      headers: {
        'Content-Type': 'application/xml; charset=utf-8',
        ...(withToken ? { 'Lock-Token': `<${granted.token}>` } : {}),
      },
      body: { kind: 'bytes', data: body },
    };
  }

  async function unlock(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    const header = request.headers['lock-token']?.trim();
    if (header === undefined || !header.startsWith('<') || !header.endsWith('>') || header.length < 3) {
      throw new DavRefusal(400, 'UNLOCK needs a Lock-Token header: <token>');
    }
    const token = header.slice(1, -1);
    const key = lockKey(decoded.segments);
    const held = locks.byToken(token);
    if (held === undefined || !locks.covering(key).includes(held)) {
      throw new DavRefusal(
        409,
        'the Lock-Token names no lock on this resource (it may have expired)',
        'lock-token-matches-request-uri',
      );
    }
    if (held.principal !== principalOf(request)) {
      throw new DavRefusal(403, 'only the user who took a lock may remove it');
    }
    locks.remove(token);
    return { status: 204 };
  }
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
function sameAuthority(authority: string | null, request: HttpRequest): boolean {
  if (authority === null) return true;
  const ours = (request.authority || request.headers.host || '').toLowerCase();
  const theirs = authority.slice(authority.lastIndexOf('@') + 1).toLowerCase();
  if (ours === theirs) return true;
  // A default port may be written or left out (RFC 9110 §4.2.3).
  const defaultPort = request.secure ? ':443' : ':80';
  return ours === `${theirs}${defaultPort}` || theirs === `${ours}${defaultPort}`;
}
