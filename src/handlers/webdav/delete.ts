/**
 * DELETE of a collection (RFC 4918 §9.6): the whole tree, member by member; what cannot be removed is
 * listed in a 207 and keeps its ancestors. (DELETE of a file goes the same way, behind the lock checks.)
 * @module
 */
import { opendir, rm, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { WriteTarget } from '../../files/write.js';
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import { httpRefusalOf } from '../refusals.js';
import { type DavContext, DavRefusal, type Decoded, hrefOf } from './context.js';
import { lockKey } from './locks.js';
import { multistatus, statusLine } from './multistatus.js';
import { removeDeadProperties, sidecarPathOf } from './properties.js';
import { escapeXml } from './xml.js';

/** A member a DELETE could not remove. */
interface RemovalFailure {
  readonly segments: readonly string[];
  readonly directory: boolean;
  readonly error: unknown;
}

export async function remove(
  dav: DavContext,
  request: HttpRequest,
  decoded: Decoded,
): Promise<ResponseDescription> {
  const depth = request.headers.depth?.trim().toLowerCase();
  if (depth !== undefined && depth !== 'infinity') {
    throw new DavRefusal(400, 'DELETE of a collection acts on its whole tree: Depth must be infinity');
  }
  const where = await dav.writeTarget(decoded);
  if (where.existing === 'none') throw new DavRefusal(404, 'no file or folder of that name');
  const denied = await dav.deniedAccess(request, decoded.segments, true, where.existing === 'directory');
  if (denied !== null) return denied;
  const submitted = await dav.checkIf(request, decoded);
  const key = lockKey(decoded.segments);
  dav.requireUnlocked(key, submitted, true);
  dav.requireParentUnlocked(decoded.segments, submitted);
  if (where.existing === 'directory' && where.entryPath === where.filePath) {
    const failures: RemovalFailure[] = [];
    if (!(await removeTree(where.entryPath, decoded.segments, failures))) {
      // §9.6.1: what could not be removed is listed (its ancestors, necessarily kept, are not).
      return multistatus(failures.map(failureResponse).join(''));
    }
  } else await unlink(where.entryPath);
  await removeDeadProperties(sidecarPathOf(dav.root, decoded.segments));
  dav.locks.removeBelow(key);
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
  const refusal = httpRefusalOf(failure.error);
  const code = (failure.error as NodeJS.ErrnoException).code;
  const reason = code === 'EBUSY' ? 'it is in use (a mount point?)' : refusal.message;
  const href = escapeXml(hrefOf(failure.segments, failure.directory));
  return `<D:response><D:href>${href}</D:href><D:status>${statusLine(refusal.status)}</D:status><D:responsedescription>${escapeXml(`could not be removed: ${reason}`)}</D:responsedescription></D:response>\n`;
}

/** Removes what a write target names: a file or symlink, or a real folder with everything in it. */
export async function removeEntry(where: WriteTarget): Promise<void> {
  if (where.existing === 'directory' && where.entryPath === where.filePath) {
    await rm(where.entryPath, { recursive: true });
  } else await unlink(where.entryPath);
}
