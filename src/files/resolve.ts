/**
 * From a request path to a file or directory under the document root, or a refusal. This is the security
 * boundary of the file server: everything that could name a byte outside the root is refused here.
 * @module
 */

import type { Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';

export interface ResolveOptions {
  /** The document root, already made absolute and real (symlinks resolved) by the caller. */
  root: string;
  /** Serve names starting with '.'. @default false */
  dotfiles?: boolean;
  /** Follow symlinks whose target lies outside the root. @default false */
  followSymlinks?: boolean;
}

/**
 * Why a path is refused, in the file layer's terms (handlers map each to a status, see
 * `handlers/refusals.ts`): `malformed` (it cannot name anything under the root: bad encoding, `..`,
 * an escape), `forbidden` (it names something the server may not serve), `not-found` (nothing there,
 * or nothing the serving rules show).
 */
export type PathRefusal = 'malformed' | 'forbidden' | 'not-found';

export type DecodedPath =
  | { readonly kind: 'ok'; readonly segments: readonly string[]; readonly trailingSlash: boolean }
  | { readonly kind: 'error'; readonly refusal: 'malformed'; readonly message: string };

export type Resolution =
  | { readonly kind: 'file'; readonly filePath: string; readonly stats: Stats; readonly urlPath: string }
  | {
      readonly kind: 'directory';
      readonly filePath: string;
      readonly stats: Stats;
      /** Decoded URL path of the directory, ending in '/'. */
      readonly urlPath: string;
      /** The request lacked the trailing slash and should be redirected (RFC 9110 §15.4.2). */
      readonly needsSlash: boolean;
    }
  | { readonly kind: 'error'; readonly refusal: PathRefusal; readonly message: string };

/**
 * Percent-decodes a raw request path once, segment by segment (RFC 3986 §2.4), and refuses every form of
 * escape: `..` segments (raw or encoded), encoded `/` or `\` inside a segment, raw backslashes, NUL and
 * invalid or overlong UTF-8. Empty and `.` segments are dropped, so `//a/./b` names `/a/b`.
 */
export function decodeRequestPath(rawPath: string): DecodedPath {
  if (rawPath.length === 0 || rawPath.charCodeAt(0) !== 0x2f) {
    return { kind: 'error', refusal: 'malformed', message: 'the path must start with "/"' };
  }
  const rawSegments = rawPath.split('/');
  const segments: string[] = [];
  for (let i = 1; i < rawSegments.length; i++) {
    const raw = rawSegments[i]!;
    if (raw.includes('\\')) {
      return { kind: 'error', refusal: 'malformed', message: 'the path contains a backslash' };
    }
    let segment: string;
    try {
      segment = raw.includes('%') ? decodeURIComponent(raw) : raw;
    } catch {
      return {
        kind: 'error',
        refusal: 'malformed',
        message: 'the path has an invalid percent-escape or is not valid UTF-8 once decoded',
      };
    }
    if (segment.includes('/') || segment.includes('\\')) {
      return {
        kind: 'error',
        refusal: 'malformed',
        message: 'the path has an encoded slash or backslash inside a segment',
      };
    }
    if (segment.includes('\0'))
      return { kind: 'error', refusal: 'malformed', message: 'the path contains a NUL byte' };
    if (segment === '..')
      return { kind: 'error', refusal: 'malformed', message: 'the path has a ".." segment' };
    if (segment === '' || segment === '.') continue;
    segments.push(segment);
  }
  const trailingSlash = rawPath.length > 1 && rawPath.endsWith('/');
  return { kind: 'ok', segments, trailingSlash };
}

/** Whether `candidate` is `root` or lies beneath it (with a separator, so /srv/site2 is not under /srv/site). */
export function isInside(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return candidate.startsWith(prefix);
}

/**
 * Names the server keeps for itself (uploads in progress, WebDAV's dead-property sidecars): never served,
 * listed, archived, searched or written by a client, even with dotfiles.
 */
export const SERVER_OWN_PREFIX = '.docroot-';

/** Names of uploads in progress (files/write.ts re-exports it); kept here so reads need not load write code. */
export const UPLOAD_TEMP_PREFIX = `${SERVER_OWN_PREFIX}upload-`;

export function isServerOwnName(name: string): boolean {
  return name.startsWith(SERVER_OWN_PREFIX);
}

export function hasDotSegment(segments: readonly string[]): boolean {
  for (const segment of segments) if (segment.charCodeAt(0) === 0x2e) return true;
  return false;
}

/** Decoded URL path for a list of segments, with a trailing slash for directories. */
export function toUrlPath(segments: readonly string[], directory: boolean): string {
  if (segments.length === 0) return '/';
  return `/${segments.join('/')}${directory ? '/' : ''}`;
}

/**
 * Maps decoded segments to something on disk. Hidden names are not found unless `dotfiles`; a path whose
 * real location (after symlinks) is outside the root is forbidden unless `followSymlinks`.
 */
export async function resolvePath(
  decoded: Extract<DecodedPath, { kind: 'ok' }>,
  options: ResolveOptions,
): Promise<Resolution> {
  const { segments } = decoded;
  if (!options.dotfiles && hasDotSegment(segments)) {
    return {
      kind: 'error',
      refusal: 'not-found',
      message: 'hidden files (names starting with ".") are not served',
    };
  }
  // An upload still being written (files/write.ts), or a WebDAV sidecar, is never served, even with dotfiles.
  if (segments.some(isServerOwnName)) {
    return { kind: 'error', refusal: 'not-found', message: 'no file or folder of that name' };
  }
  const filePath = segments.length === 0 ? options.root : path.join(options.root, ...segments);
  if (!isInside(options.root, filePath)) {
    return { kind: 'error', refusal: 'malformed', message: 'the path leads outside the document root' };
  }
  let real: string;
  let stats: Stats;
  try {
    real = await realpath(filePath);
    stats = await stat(real);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      return { kind: 'error', refusal: 'forbidden', message: 'the server may not read this path' };
    }
    return { kind: 'error', refusal: 'not-found', message: 'no file or folder of that name' };
  }
  if (!isInside(options.root, real) && !options.followSymlinks) {
    return {
      kind: 'error',
      refusal: 'forbidden',
      message: 'the path is a symbolic link to a place outside the document root',
    };
  }
  if (stats.isDirectory()) {
    return {
      kind: 'directory',
      filePath: real,
      stats,
      urlPath: toUrlPath(segments, true),
      needsSlash: !decoded.trailingSlash && segments.length > 0,
    };
  }
  if (decoded.trailingSlash)
    return { kind: 'error', refusal: 'not-found', message: 'a file was requested as a folder' };
  if (!stats.isFile()) {
    return { kind: 'error', refusal: 'forbidden', message: 'only regular files and folders are served' };
  }
  return { kind: 'file', filePath: real, stats, urlPath: toUrlPath(segments, false) };
}
