/**
 * LOCK and UNLOCK (RFC 4918 §9.10, §9.11): write locks, exclusive or shared, depth 0 or infinity, held in
 * the handler's lock table; a LOCK without a body refreshes, a LOCK of an unmapped URL creates an empty
 * file (§7.3), and only the user who took a lock may remove it (§6.4).
 * @module
 */
import { Readable } from 'node:stream';
import { resolvePath } from '../../files/resolve.js';
import { writeFileAtomically } from '../../files/write.js';
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import { PATH_REFUSAL_STATUS } from '../refusals.js';
import { type DavContext, DavRefusal, type Decoded, hrefOfLockRoot } from './context.js';
import {
  type ActiveLock,
  grantedTimeout,
  type LockDepth,
  type LockScope,
  lockKey,
  MAX_LOCKS,
} from './locks.js';
import { childElement, childElements, DAV_NS, serializeChildren } from './xml.js';

export async function lock(
  dav: DavContext,
  request: HttpRequest,
  decoded: Decoded,
): Promise<ResponseDescription> {
  const key = lockKey(decoded.segments);
  const body = await dav.xmlBodyOf(request);
  const timeout = grantedTimeout(request.headers.timeout);
  if (body === null) {
    // §9.10.2: a LOCK without a body refreshes the lock named in the If header.
    const submitted = await dav.checkIf(request, decoded);
    const held = dav.locks.covering(key).find((candidate) => submitted.has(candidate.token));
    if (held === undefined) {
      throw new DavRefusal(
        412,
        'a lock refresh needs the token of a lock covering this resource in the If header',
        'lock-token-matches-request-uri',
      );
    }
    dav.locks.refresh(held, timeout);
    return lockAnswer(dav, 200, held, false);
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
  const submitted = await dav.checkIf(request, decoded);
  const conflicting = dav.locks.conflicts(key, scope, depthHeader as LockDepth);
  if (conflicting.length > 0) {
    throw new DavRefusal(
      423,
      `the resource is already locked (${conflicting[0]!.scope}); the new lock would conflict`,
      'no-conflicting-lock',
      conflicting.map((held) => hrefOfLockRoot(held.root)),
    );
  }
  if (dav.locks.size >= MAX_LOCKS)
    throw new DavRefusal(503, `the server holds its limit of ${MAX_LOCKS} locks`);
  let created = false;
  const resolution = await resolvePath(decoded, dav.resolveOptions);
  if (resolution.kind === 'error') {
    if (resolution.refusal !== 'not-found')
      throw new DavRefusal(PATH_REFUSAL_STATUS[resolution.refusal], resolution.message);
    // §7.3: locking an unmapped URL creates an empty resource ("locked empty resource").
    dav.requireParentUnlocked(decoded.segments, submitted);
    const where = await dav.writeTarget({ ...decoded, trailingSlash: false });
    await writeFileAtomically(where.filePath, Readable.from([]), 0);
    created = true;
  } else if (decoded.segments.length > 0) await dav.writeTarget({ ...decoded, trailingSlash: false });
  const granted = dav.locks.create(
    key,
    scope,
    depthHeader as LockDepth,
    owner === undefined ? '' : serializeChildren(owner),
    timeout,
    dav.principalOf(request),
  );
  return lockAnswer(dav, created ? 201 : 200, granted, true);
}

function lockAnswer(
  dav: DavContext,
  status: number,
  granted: ActiveLock,
  withToken: boolean,
): ResponseDescription {
  const body = `<?xml version="1.0" encoding="utf-8"?>\n<D:prop xmlns:D="DAV:"><D:lockdiscovery>${dav.activeLockXml(granted)}</D:lockdiscovery></D:prop>\n`;
  return {
    status,
    headers: {
      'Content-Type': 'application/xml; charset=utf-8',
      ...(withToken ? { 'Lock-Token': `<${granted.token}>` } : {}),
    },
    body: { kind: 'bytes', data: body },
  };
}

export async function unlock(
  dav: DavContext,
  request: HttpRequest,
  decoded: Decoded,
): Promise<ResponseDescription> {
  const header = request.headers['lock-token']?.trim();
  if (header === undefined || !header.startsWith('<') || !header.endsWith('>') || header.length < 3) {
    throw new DavRefusal(400, 'UNLOCK needs a Lock-Token header: <token>');
  }
  const token = header.slice(1, -1);
  const key = lockKey(decoded.segments);
  const held = dav.locks.byToken(token);
  if (held === undefined || !dav.locks.covering(key).includes(held)) {
    throw new DavRefusal(
      409,
      'the Lock-Token names no lock on this resource (it may have expired)',
      'lock-token-matches-request-uri',
    );
  }
  if (held.principal !== dav.principalOf(request)) {
    throw new DavRefusal(403, 'only the user who took a lock may remove it');
  }
  dav.locks.remove(token);
  return { status: 204 };
}
