/**
 * WebDAV properties (RFC 4918 §15): the live ones computed from the file system, and dead ones (set by
 * PROPPATCH) kept in a sidecar folder beside the resource: the properties of `dir/name` live in the file
 * `dir/.docroot-props/name` (those of the root in `root/.docroot-props/.docroot-root`). Names starting
 * with `.docroot-` are the server's own: the resolver never serves them, listings, archives, search and
 * PROPFIND never show them, and no write may name them, even with --dotfiles.
 * @module
 */
import type { Stats } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { SERVER_OWN_PREFIX } from '../../files/resolve.js';
import { writeFileAtomically } from '../../files/write.js';
import { formatHttpDate } from '../../http/date.js';
import { makeFileEtag } from '../../http/etag.js';
import { contentTypeFor } from '../../http/mime.js';
import { DAV_NS, escapeXml } from './xml.js';

/** The sidecar folder holding the dead properties of a folder's entries. */
export const PROPS_DIR = `${SERVER_OWN_PREFIX}props`;
/** The entry in the root's sidecar folder holding the root's own dead properties. */
const ROOT_ENTRY = `${SERVER_OWN_PREFIX}root`;
/** Most bytes of dead properties one resource may carry; beyond, PROPPATCH gets 507 (RFC 4918 §9.2.1). */
export const MAX_DEAD_PROPERTY_BYTES = 256 * 1024;

export interface PropertyName {
  readonly ns: string;
  readonly local: string;
}

/** `{ns}local`, Clark notation: the key of a property. */
export function clarkName(name: PropertyName): string {
  return `{${name.ns}}${name.local}`;
}

/** The live properties (all protected: computed from the file system, or by the lock table). */
export const LIVE_PROPERTIES: readonly string[] = [
  'creationdate',
  'displayname',
  'getcontentlength',
  'getcontenttype',
  'getetag',
  'getlastmodified',
  'resourcetype',
  'supportedlock',
  'lockdiscovery',
  'quota-available-bytes',
  'quota-used-bytes',
];
const liveNames: ReadonlySet<string> = new Set(LIVE_PROPERTIES);
/** RFC 4331 §3: quota properties are not part of allprop. */
const NOT_IN_ALLPROP: ReadonlySet<string> = new Set(['quota-available-bytes', 'quota-used-bytes']);

export function isLiveProperty(name: PropertyName): boolean {
  return name.ns === DAV_NS && liveNames.has(name.local);
}

/** One resource as PROPFIND describes it. */
export interface DavResource {
  /** The percent-encoded href, with a trailing slash for folders. */
  readonly href: string;
  /** Decoded URL path segments. */
  readonly segments: readonly string[];
  readonly stats: Stats;
  readonly isDirectory: boolean;
}

/** What live properties need beyond the resource: lock state and the file system's free space. */
export interface LiveContext {
  /** The `DAV:lockdiscovery` content for a resource. */
  lockDiscovery(resource: DavResource): string;
  /** Whether locks are offered (class 2); without, supportedlock is empty. */
  readonly locking: boolean;
  readonly root: string;
}

/** RFC 3339 date-time for `DAV:creationdate` (RFC 4918 §15.1). */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const SUPPORTED_LOCK =
  '<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>' +
  '<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>';

/**
 * The XML content of a live property, or null when the resource has none (a folder has no length,
 * type or ETag: GET on a folder answers a listing that is generated, not stored).
 */
export async function liveValue(
  local: string,
  resource: DavResource,
  ctx: LiveContext,
): Promise<string | null> {
  const stats = resource.stats;
  switch (local) {
    case 'creationdate':
      return rfc3339(stats.birthtimeMs > 0 ? stats.birthtimeMs : stats.ctimeMs);
    case 'displayname': {
      const name = resource.segments[resource.segments.length - 1];
      return name === undefined ? '' : escapeXml(name);
    }
    case 'getcontentlength':
      return resource.isDirectory ? null : String(stats.size);
    case 'getcontenttype': {
      const name = resource.segments[resource.segments.length - 1];
      return resource.isDirectory || name === undefined ? null : escapeXml(contentTypeFor(name));
    }
    case 'getetag':
      // The same validator GET sends (handlers/representation.ts), so If-Match from either works on both.
      return resource.isDirectory ? null : escapeXml(makeFileEtag(stats.size, stats.mtimeMs));
    case 'getlastmodified':
      return formatHttpDate(stats.mtimeMs);
    case 'resourcetype':
      return resource.isDirectory ? '<D:collection/>' : '';
    case 'supportedlock':
      return ctx.locking ? SUPPORTED_LOCK : '';
    case 'lockdiscovery':
      return ctx.lockDiscovery(resource);
    case 'quota-available-bytes': {
      const fs = await statfs(ctx.root);
      return String(fs.bavail * fs.bsize);
    }
    case 'quota-used-bytes':
      return resource.isDirectory ? null : String(stats.size);
    default:
      return null;
  }
}

/** The live property names allprop returns (RFC 4918 §9.1: all of them but RFC 4331's quota pair). */
export function allpropLiveNames(): string[] {
  return LIVE_PROPERTIES.filter((name) => !NOT_IN_ALLPROP.has(name));
}

/** A dead property: its name and its value as standalone XML content. */
export interface DeadProperty extends PropertyName {
  readonly xml: string;
}

/** Where the dead properties of the resource at these decoded segments are kept. */
export function sidecarPathOf(root: string, segments: readonly string[]): string {
  const name = segments[segments.length - 1];
  if (name === undefined) return path.join(root, PROPS_DIR, ROOT_ENTRY);
  return path.join(root, ...segments.slice(0, -1), PROPS_DIR, name);
}

/** The dead properties of a resource (none when it has no sidecar, or the sidecar is unreadable). */
export async function readDeadProperties(sidecar: string): Promise<DeadProperty[]> {
  let text: string;
  try {
    text = await readFile(sidecar, 'utf8');
  } catch {
    return [];
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (entry): entry is DeadProperty =>
        typeof entry === 'object' &&
        entry !== null &&
        typeof entry.ns === 'string' &&
        typeof entry.local === 'string' &&
        typeof entry.xml === 'string',
    );
  } catch {
    return [];
  }
}

/** Replaces a resource's dead properties (an empty list removes the sidecar). */
export async function writeDeadProperties(
  sidecar: string,
  properties: readonly DeadProperty[],
): Promise<void> {
  if (properties.length === 0) {
    await rm(sidecar, { force: true });
    return;
  }
  const bytes = Buffer.from(JSON.stringify(properties));
  await mkdir(path.dirname(sidecar), { recursive: true });
  await writeFileAtomically(sidecar, Readable.from([bytes]), MAX_DEAD_PROPERTY_BYTES);
}

/** The names in a folder that have dead properties (one readdir for a whole Depth: 1 PROPFIND). */
export async function namesWithDeadProperties(dirPath: string): Promise<Set<string>> {
  try {
    return new Set(await readdir(path.join(dirPath, PROPS_DIR)));
  } catch {
    return new Set();
  }
}

/** Moves a resource's dead properties along with it (MOVE), replacing any at the destination. */
export async function moveDeadProperties(from: string, to: string): Promise<void> {
  await rm(to, { force: true });
  const properties = await readDeadProperties(from);
  if (properties.length === 0) return;
  await mkdir(path.dirname(to), { recursive: true });
  await rename(from, to);
}

/** Copies a resource's dead properties (COPY, RFC 4918 §9.8.2: dead properties are duplicated). */
export async function copyDeadProperties(from: string, to: string): Promise<void> {
  await writeDeadProperties(to, await readDeadProperties(from));
}

/** Removes a resource's dead properties (DELETE). */
export async function removeDeadProperties(sidecar: string): Promise<void> {
  await rm(sidecar, { force: true });
}
