/**
 * COPY and MOVE (RFC 4918 §9.8, §9.9) within this server: the Destination is decoded like a request path,
 * checked against the write rules, the access rules and the locks of both places, and dead properties
 * travel with their resources.
 * @module
 */
import type { Stats } from 'node:fs';
import { copyFile, mkdir, opendir, realpath, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { decodeRequestPath, isInside, isServerOwnName } from '../../files/resolve.js';
import type { WriteTarget } from '../../files/write.js';
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import {
  type DavContext,
  DavRefusal,
  type Decoded,
  hrefOf,
  sameAuthority,
  splitReference,
} from './context.js';
import { removeEntry } from './delete.js';
import { isWithin, lockKey } from './locks.js';
import {
  copyDeadProperties,
  moveDeadProperties,
  PROPS_DIR,
  removeDeadProperties,
  sidecarPathOf,
} from './properties.js';

export async function copyOrMove(
  dav: DavContext,
  request: HttpRequest,
  decoded: Decoded,
  move: boolean,
): Promise<ResponseDescription> {
  const destinationHeader = request.headers.destination;
  if (destinationHeader === undefined)
    throw new DavRefusal(400, `${request.method} needs a Destination header`);
  const reference = splitReference(destinationHeader.trim());
  if (reference === null) throw new DavRefusal(400, 'the Destination header is not an absolute URI or path');
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
  const source = await dav.writeTarget(decoded);
  if (source.existing === 'none') throw new DavRefusal(404, 'no file or folder of that name');
  if (source.existing === 'other')
    throw new DavRefusal(403, 'only regular files and folders are copied or moved');
  const sourceKey = lockKey(decoded.segments);
  const destinationKey = lockKey(destination.segments);
  if (sourceKey === destinationKey) throw new DavRefusal(403, 'the source and the destination are the same');
  if (source.existing === 'directory' && isWithin(sourceKey, destinationKey)) {
    throw new DavRefusal(403, 'a folder cannot be copied or moved into itself');
  }
  const target = await dav.writeTarget({ ...destination, trailingSlash: false });
  if (target.existing !== 'none' && overwriteHeader === 'F') {
    throw new DavRefusal(412, 'the destination exists and Overwrite: F was sent');
  }
  const isFolder = source.existing === 'directory';
  const denied =
    (await dav.deniedAccess(request, decoded.segments, move, isFolder)) ??
    (await dav.deniedAccess(request, destination.segments, true, true));
  if (denied !== null) return denied;
  const submitted = await dav.checkIf(request, decoded);
  if (move) {
    dav.requireUnlocked(sourceKey, submitted, true);
    dav.requireParentUnlocked(decoded.segments, submitted);
  }
  dav.requireUnlocked(destinationKey, submitted, true);
  dav.requireParentUnlocked(destination.segments, submitted);
  const destinationSidecar = sidecarPathOf(dav.root, destination.segments);
  if (target.existing !== 'none') {
    await removeEntry(target);
    await removeDeadProperties(destinationSidecar);
  }
  const sourceSidecar = sidecarPathOf(dav.root, decoded.segments);
  if (move) {
    try {
      await rename(source.entryPath, target.entryPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await copyTree(dav, source, target.entryPath, true);
      await removeEntry(source);
    }
    await moveDeadProperties(sourceSidecar, destinationSidecar);
    dav.locks.removeBelow(sourceKey);
  } else {
    await copyTree(dav, source, target.entryPath, depth === 'infinity');
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
async function copyTree(
  dav: DavContext,
  source: WriteTarget,
  destination: string,
  deep: boolean,
): Promise<void> {
  if (source.existing !== 'directory') {
    await copyFile(source.filePath, destination);
    return;
  }
  await mkdir(destination);
  if (deep) await copyMembers(dav, source.filePath, destination, new Set([source.filePath]));
}

async function copyMembers(dav: DavContext, from: string, to: string, visited: Set<string>): Promise<void> {
  const dir = await opendir(from);
  for await (const entry of dir) {
    const name = entry.name;
    // Dead properties travel with their resources; other hidden names only with --dotfiles.
    if (name === PROPS_DIR) {
      await copyMembers(dav, path.join(from, name), await ensureDir(path.join(to, name)), visited);
      continue;
    }
    if (isServerOwnName(name) || (!dav.resolveOptions.dotfiles && name.startsWith('.'))) continue;
    let real: string;
    let stats: Stats;
    try {
      real = await realpath(path.join(from, name));
      stats = await stat(real);
    } catch {
      continue;
    }
    if (!isInside(dav.root, real) && !dav.resolveOptions.followSymlinks) continue;
    if (stats.isFile()) await copyFile(real, path.join(to, name));
    else if (stats.isDirectory() && !visited.has(real)) {
      visited.add(real);
      await mkdir(path.join(to, name));
      await copyMembers(dav, real, path.join(to, name), visited);
    }
  }
}

async function ensureDir(dirPath: string): Promise<string> {
  await mkdir(dirPath, { recursive: true });
  return dirPath;
}
