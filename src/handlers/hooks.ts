/**
 * The file handler's hooks: what other handlers plug into it (`server.ts` wires them up). A script hook
 * (CGI) is asked first for every path; a write hook (uploads, WebDAV) answers the methods it lists.
 * @module
 */
import type { DecodedPath } from '../files/resolve.js';
import type { HttpRequest, ResponseDescription } from '../wire/message.js';

/** A hook for paths that are programs rather than documents (CGI). */
export interface ScriptHandler {
  /** Methods scripts accept, for Allow. */
  readonly methods: readonly string[];
  handle(request: HttpRequest, segments: readonly string[]): Promise<ResponseDescription | null>;
}

/** A hook for the write methods (PUT, PATCH, DELETE, MKCOL, POST with `--upload`). */
export interface WriteHandler {
  /** Methods it answers, added to Allow. */
  readonly methods: readonly string[];
  /** Fields added to OPTIONS answers (WebDAV's `DAV` compliance classes, RFC 4918 §10.1). */
  readonly optionsHeaders?: Readonly<Record<string, string>>;
  handle(request: HttpRequest, decoded: Extract<DecodedPath, { kind: 'ok' }>): Promise<ResponseDescription>;
}
