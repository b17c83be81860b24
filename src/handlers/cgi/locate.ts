/**
 * Locating the script a request path names (RFC 3875 §3.3, §4.1.5, §4.1.13): SCRIPT_NAME, PATH_INFO and
 * whether it runs directly or through the interpreter of its extension.
 * @module
 */
import { constants as fsConstants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { hasDotSegment, isInside } from '../../files/resolve.js';
import type { CgiOptions } from './options.js';

export interface CgiScript {
  /** Real absolute path of the script file. */
  scriptPath: string;
  /** Decoded URL path of the script (SCRIPT_NAME, RFC 3875 §4.1.13). */
  scriptName: string;
  /** Decoded URL path after the script (PATH_INFO, RFC 3875 §4.1.5); '' when none. */
  pathInfo: string;
  /** Interpreter command from `interpreters`, or null to execute the script itself. */
  interpreter: string | null;
}

/**
 * Walks decoded URL segments from the root and returns the script they name, or null when the path is not
 * a CGI path. In `cgiDir` the first regular file is the script (run directly, or by its interpreter when its
 * extension has one); elsewhere the first regular file whose extension is in `interpreters` is. The rest of
 * the segments is PATH_INFO (RFC 3875 §4.1.5). `trailingSlash` keeps a final "/" in PATH_INFO.
 */
export async function findCgiScript(
  segments: readonly string[],
  options: CgiOptions,
  trailingSlash = false,
): Promise<CgiScript | null> {
  if (segments.length === 0) return null;
  if (!options.dotfiles && hasDotSegment(segments)) return null;
  const inCgiDir = options.cgiDir !== null && segments[0] === options.cgiDir;
  for (let end = inCgiDir ? 2 : 1; end <= segments.length; end++) {
    const candidate = path.join(options.root, ...segments.slice(0, end));
    if (!isInside(options.root, candidate)) return null;
    let isFile: boolean;
    try {
      const stats = await stat(candidate);
      if (stats.isDirectory()) continue;
      isFile = stats.isFile();
    } catch {
      return null;
    }
    if (!isFile) return null;
    const interpreter = interpreterFor(segments[end - 1]!, options.interpreters);
    if (!inCgiDir && interpreter === null) return null;
    let real: string;
    try {
      real = await realpath(candidate);
    } catch {
      return null;
    }
    // A symlink that leads out of the root is not a script of this site.
    if (!isInside(options.root, real)) return null;
    const rest = segments.slice(end);
    let pathInfo = rest.length === 0 ? '' : `/${rest.join('/')}`;
    if (trailingSlash) pathInfo += '/';
    const scriptName = `/${segments.slice(0, end).join('/')}`;
    if (inCgiDir && (await isExecutable(real))) {
      return { scriptPath: real, scriptName, pathInfo, interpreter: null };
    }
    return { scriptPath: real, scriptName, pathInfo, interpreter };
  }
  return null;
}

function interpreterFor(name: string, interpreters: Record<string, string>): string | null {
  const extension = path.extname(name);
  if (extension === '') return null;
  if (Object.hasOwn(interpreters, extension)) return interpreters[extension] ?? null;
  const lower = extension.toLowerCase();
  if (Object.hasOwn(interpreters, lower)) return interpreters[lower] ?? null;
  return null;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}
