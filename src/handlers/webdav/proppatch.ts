/**
 * PROPPATCH (RFC 4918 §9.2): sets and removes dead properties, in document order and all or nothing;
 * live properties are the server's (403). Updates of one resource run one at a time.
 * @module
 */
import { utimes } from 'node:fs/promises';
import { resolvePath } from '../../files/resolve.js';
import { parseHttpDate } from '../../http/date.js';
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import { PATH_REFUSAL_STATUS } from '../refusals.js';
import { type DavContext, DavRefusal, type Decoded, hrefOf } from './context.js';
import { lockKey } from './locks.js';
import { multistatus, propstat } from './multistatus.js';
import {
  clarkName,
  type DeadProperty,
  isLiveProperty,
  MAX_DEAD_PROPERTY_BYTES,
  type PropertyName,
  readDeadProperties,
  sidecarPathOf,
  writeDeadProperties,
} from './properties.js';
import { propElement } from './propfind.js';
import { childElements, DAV_NS, escapeXml, serializeChildren, textOf, type XmlElement } from './xml.js';

interface PatchOutcome {
  readonly name: PropertyName;
  readonly status: number;
  readonly reason?: string;
}

/** The namespace of the Win32 properties Windows' mini-redirector sets with PROPPATCH. */
const MS_NS = 'urn:schemas-microsoft-com:';

/** PROPPATCH for one handler: its sidecar files are read, changed and written one request at a time. */
export function createProppatch(dav: DavContext) {
  /** Pending property updates per sidecar file. */
  const turns = new Map<string, Promise<void>>();

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

  return async function proppatch(request: HttpRequest, decoded: Decoded): Promise<ResponseDescription> {
    const submitted = await dav.checkIf(request, decoded);
    dav.requireUnlocked(lockKey(decoded.segments), submitted);
    const body = await dav.xmlBodyOf(request);
    if (body === null || body.ns !== DAV_NS || body.local !== 'propertyupdate') {
      throw new DavRefusal(400, 'a PROPPATCH body must be a DAV:propertyupdate element');
    }
    const resolution = await resolvePath(decoded, dav.resolveOptions);
    if (resolution.kind === 'error')
      throw new DavRefusal(PATH_REFUSAL_STATUS[resolution.refusal], resolution.message);
    if (decoded.segments.length > 0) await dav.writeTarget(decoded);
    const sidecar = sidecarPathOf(dav.root, decoded.segments);
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
  };
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
