/**
 * WebDAV (RFC 4918): PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK and collection DELETE, plus the lock
 * and `If` checks in front of the upload handler's PUT, PATCH, MKCOL and POST. Loaded on the first DAV
 * request. Every path goes through the same resolver and write rules as GET and PUT (containment, dotfiles,
 * symlinks, the server's own names), and every answer is a ResponseDescription like any other handler's.
 * This module dispatches by method (one module per method family) and turns refusals into answers;
 * `context.ts` holds what the methods share.
 * @module
 */
import { resolvePath } from '../../files/resolve.js';
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import { errorResponse } from '../errors.js';
import { HttpRefusal, httpRefusalOf } from '../refusals.js';
import { DavContext, type DavOptions, DavRefusal, type Decoded } from './context.js';
import { copyOrMove } from './copy-move.js';
import { remove } from './delete.js';
import { lock, unlock } from './lock.js';
import { lockKey } from './locks.js';
import { conditionResponse } from './multistatus.js';
import { propfind } from './propfind.js';
import { createProppatch } from './proppatch.js';
import { XmlBodyError } from './xml.js';

export type { DavAccess, DavOptions } from './context.js';

export function createDavHandler(options: DavOptions) {
  const dav = new DavContext(options);
  const proppatch = createProppatch(dav);

  return async function handleDav(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    try {
      switch (request.method) {
        case 'PROPFIND':
          return await propfind(dav, request, decoded);
        case 'PROPPATCH':
          return await proppatch(request, decoded);
        case 'COPY':
        case 'MOVE':
          return await copyOrMove(dav, request, decoded, request.method === 'MOVE');
        case 'LOCK':
        case 'UNLOCK':
          if (!dav.locking) throw new DavRefusal(405, 'locks are off here (class 1 only)');
          return await (request.method === 'LOCK'
            ? lock(dav, request, decoded)
            : unlock(dav, request, decoded));
        case 'DELETE':
          return await remove(dav, request, decoded);
        default:
          return await guardedUpload(dav, request, decoded);
      }
    } catch (error) {
      let response: ResponseDescription;
      if (error instanceof DavRefusal && error.condition !== null) {
        response = conditionResponse(error.status, error.condition, error.message, error.hrefs);
      } else {
        const refusal =
          error instanceof DavRefusal || error instanceof XmlBodyError
            ? new HttpRefusal(error.status, error.message)
            : httpRefusalOf(error);
        response = errorResponse(refusal.status, refusal.message, request.headers.accept);
      }
      // The body is left alone (a client waiting for 100 Continue then never sends it); an unread body
      // would have to be skipped before the next request, so the connection closes instead.
      if (request.body !== null && !request.body.readableEnded) response.close = true;
      return response;
    }
  };
}

/** PUT, PATCH, MKCOL, POST: the upload handler, behind the `If` and lock checks. */
async function guardedUpload(
  dav: DavContext,
  request: HttpRequest,
  decoded: Decoded,
): Promise<ResponseDescription> {
  const upload = dav.options.upload;
  if (upload === null) throw new DavRefusal(405, `${request.method} needs --upload`);
  const submitted = await dav.checkIf(request, decoded);
  const key = lockKey(decoded.segments);
  dav.requireUnlocked(key, submitted);
  if (request.method === 'PUT' || request.method === 'MKCOL') {
    const exists = (await resolvePath(decoded, dav.resolveOptions)).kind !== 'error';
    if (!exists) dav.requireParentUnlocked(decoded.segments, submitted);
  }
  return upload(request, decoded);
}
