/**
 * PROPFIND (RFC 4918 §9.1): a resource's properties, and with `Depth: 1` its members', streamed as one
 * 207 multistatus document. `Depth: infinity` is refused (§9.1 allows it), folder by folder is the way.
 * @module
 */
import type { Stats } from 'node:fs';
import { lstat, opendir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { isInside, isServerOwnName, resolvePath } from '../../files/resolve.js';
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import { PATH_REFUSAL_STATUS } from '../refusals.js';
import { type DavContext, DavRefusal, type Decoded, hrefOf } from './context.js';
import { propstat, streamedMultistatus } from './multistatus.js';
import {
  allpropLiveNames,
  clarkName,
  type DavResource,
  isLiveProperty,
  liveValue,
  namesWithDeadProperties,
  PROPS_DIR,
  type PropertyName,
  readDeadProperties,
  sidecarPathOf,
} from './properties.js';
import { childElement, childElements, DAV_NS, escapeXml, type XmlElement } from './xml.js';

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

/** A property element, empty (a name only) when `content` is null or empty. */
export function propElement(name: PropertyName, content: string | null): string {
  if (name.ns === DAV_NS) {
    return content === null || content === ''
      ? `<D:${name.local}/>`
      : `<D:${name.local}>${content}</D:${name.local}>`;
  }
  const open = `${name.local} xmlns="${escapeXml(name.ns)}"`;
  return content === null || content === '' ? `<${open}/>` : `<${open}>${content}</${name.local}>`;
}

export async function propfind(
  dav: DavContext,
  request: HttpRequest,
  decoded: Decoded,
): Promise<ResponseDescription> {
  const depth = request.headers.depth?.trim().toLowerCase() ?? 'infinity';
  if (depth !== '0' && depth !== '1' && depth !== 'infinity') {
    throw new DavRefusal(400, 'Depth must be 0, 1 or infinity');
  }
  const what = parsePropfind(await dav.xmlBodyOf(request));
  if (depth === 'infinity') {
    // §9.1: a server may refuse Depth: infinity; walking a whole share in one answer is a denial of service.
    throw new DavRefusal(
      403,
      'PROPFIND with Depth: infinity is refused here; ask with Depth: 0 or 1, folder by folder',
      'propfind-finite-depth',
    );
  }
  const resolution = await resolvePath(decoded, dav.resolveOptions);
  if (resolution.kind === 'error')
    throw new DavRefusal(PATH_REFUSAL_STATUS[resolution.refusal], resolution.message);
  const isDirectory = resolution.kind === 'directory';
  const target: DavResource = {
    href: hrefOf(decoded.segments, isDirectory),
    segments: decoded.segments,
    stats: resolution.stats,
    isDirectory,
  };
  const dirPath = resolution.filePath;
  async function* responses(): AsyncGenerator<string> {
    yield await describe(dav, target, what, sidecarPathOf(dav.root, decoded.segments));
    if (depth !== '1' || !isDirectory) return;
    const withProps = await namesWithDeadProperties(dirPath);
    try {
      const dir = await opendir(dirPath);
      for await (const entry of dir) {
        const member = await memberOf(dav, dirPath, entry.name, decoded.segments);
        if (member === null) continue;
        const sidecar = withProps.has(entry.name) ? path.join(dirPath, PROPS_DIR, entry.name) : null;
        yield await describe(dav, member, what, sidecar);
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
  dav: DavContext,
  dirPath: string,
  name: string,
  parentSegments: readonly string[],
): Promise<DavResource | null> {
  if (isServerOwnName(name)) return null;
  if (!dav.resolveOptions.dotfiles && name.startsWith('.')) return null;
  const entryPath = path.join(dirPath, name);
  let stats: Stats;
  try {
    stats = await lstat(entryPath);
    if (stats.isSymbolicLink()) {
      const real = await realpath(entryPath);
      if (!isInside(dav.root, real) && !dav.resolveOptions.followSymlinks) return null;
      stats = await stat(real);
    }
  } catch {
    return null;
  }
  if (!stats.isFile() && !stats.isDirectory()) return null;
  const segments = [...parentSegments, name];
  return { href: hrefOf(segments, stats.isDirectory()), segments, stats, isDirectory: stats.isDirectory() };
}

/** One resource's D:response: the properties asked for, found (200) and missing (404). */
async function describe(
  dav: DavContext,
  resource: DavResource,
  what: PropfindRequest,
  sidecar: string | null,
): Promise<string> {
  const dead = sidecar === null ? [] : await readDeadProperties(sidecar);
  const found: string[] = [];
  const missing: string[] = [];
  if (what.kind === 'propname') {
    for (const local of allpropLiveNames()) {
      if ((await liveValue(local, resource, dav.liveContext)) !== null) found.push(`<D:${local}/>`);
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
        ? await liveValue(name.local, resource, dav.liveContext)
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
