/**
 * The file handler's hooks: the script hook (CGI) and the write hook (uploads, WebDAV), each loading its
 * module with the first request that needs it, and wrapped with counters when metrics are on. Composed
 * into the handler chain by `handler-chain.ts`.
 * @module
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import {
  DAV_LOCK_METHODS,
  DAV_READ_METHODS,
  DAV_WRITE_METHODS,
  DEFAULT_CGI_DIR,
  DEFAULT_CGI_MAX_BODY_BYTES,
  DEFAULT_CGI_METHODS,
  DEFAULT_CGI_TIMEOUT_MS,
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_UPLOAD_METHODS,
} from './defaults.js';
import type { AuthGate } from './handlers/auth.js';
import type { AuthRule } from './handlers/auth-rules.js';
import type { CgiOptions } from './handlers/cgi/options.js';
import type { ScriptHandler, WriteHandler } from './handlers/hooks.js';
import type { DavAccess } from './handlers/webdav/handler.js';
import { type Lazy, lazy } from './lazy.js';
import type { ServerMetrics } from './metrics/counters.js';
import type { ServerOptions } from './server.js';
import type { HttpRequest, ResponseDescription } from './wire/message.js';

export interface HookContext {
  /** The real root. */
  root: string;
  serverSoftware: string;
  logError(error: unknown, context: string): void;
  /** The whole handler, for a script's local redirect (RFC 3875 §6.2.2). */
  redispatch(request: HttpRequest): Promise<ResponseDescription>;
  /** The access rules' gate, for the paths a WebDAV request touches beyond its own URL. */
  authGate: Lazy<AuthGate> | null;
  metrics: ServerMetrics | null;
}

export interface HandlerHooks {
  scriptHandler: ScriptHandler | undefined;
  writeHandler: WriteHandler | undefined;
  /** Stops the scripts still running (they run in their own process groups and would outlive the server). */
  close(): Promise<void>;
}

export function createHandlerHooks(options: ServerOptions, context: HookContext): HandlerHooks {
  if (
    options.upload !== undefined &&
    options.cgi !== undefined &&
    Object.keys(options.cgi.interpreters ?? {}).length > 0
  ) {
    throw new TypeError(
      'upload with cgi.interpreters would let anyone who may write upload a script and run it; use cgi.dir (never writable by uploads) instead',
    );
  }
  const cgi = options.scriptHandler === undefined ? cgiScriptHook(options, context) : null;
  let scriptHandler = options.scriptHandler ?? cgi?.handler;
  let writeHandler = writeHook(options, context);
  const { metrics } = context;
  if (metrics !== null) {
    if (scriptHandler !== undefined) scriptHandler = countedScripts(scriptHandler, metrics);
    if (writeHandler !== undefined) writeHandler = countedWrites(writeHandler, metrics);
  }
  return { scriptHandler, writeHandler, close: async () => cgi?.close() };
}

/** The CGI folder under the root, or null without CGI or with interpreters only. */
function cgiDirOf(options: ServerOptions): string | null {
  if (options.cgi === undefined) return null;
  return options.cgi.dir === undefined ? DEFAULT_CGI_DIR : options.cgi.dir;
}

/** Runs scripts with the CGI module, loaded on the first request so servers without scripts never pay for it. */
function cgiScriptHook(
  options: ServerOptions,
  context: HookContext,
): { handler: ScriptHandler; close(): Promise<void> } | null {
  if (options.cgi === undefined) return null;
  const cgiOptions: CgiOptions = {
    root: context.root,
    cgiDir: cgiDirOf(options),
    interpreters: options.cgi.interpreters ?? {},
    timeoutMs: options.cgi.timeoutMs ?? DEFAULT_CGI_TIMEOUT_MS,
    maxBodyBytes: options.cgi.maxBodyBytes ?? DEFAULT_CGI_MAX_BODY_BYTES,
    serverSoftware: context.serverSoftware,
    dotfiles: options.dotfiles ?? false,
    logError: context.logError,
    // A script's local redirect (RFC 3875 §6.2.2) is answered by the whole handler, as a new request.
    redispatch: context.redispatch,
  };
  const cgiHandler = lazy(async () =>
    (await import('./handlers/cgi/handler.js')).createCgiScriptHandler(cgiOptions),
  );
  return {
    handler: {
      methods: DEFAULT_CGI_METHODS,
      handle: async (request, segments) => (await cgiHandler.get()).handle(request, segments),
    },
    // This server's own scripts, so closing it stops them and no other server's.
    close: async () => {
      const loaded = cgiHandler.ifStarted();
      if (loaded !== null) (await loaded).stopScripts();
    },
  };
}

/** Uploads and WebDAV: one write hook, loading each module with the first request that needs it. */
function writeHook(options: ServerOptions, context: HookContext): WriteHandler | undefined {
  const { root, logError } = context;
  // Writes and WebDAV resolve paths by the same rules as reads.
  const pathRules = {
    root,
    dotfiles: options.dotfiles ?? false,
    followSymlinks: options.followSymlinks ?? false,
  };
  const cgiDir = cgiDirOf(options);
  const uploadOptions =
    options.upload === undefined
      ? null
      : {
          ...pathRules,
          maxBytes: options.upload.maxBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
          logError,
          ...(cgiDir !== null ? { scriptDir: realOrSelf(path.join(root, cgiDir)) } : {}),
        };
  let handleUpload: WriteHandler['handle'] | null = null;
  if (uploadOptions !== null) {
    // Loaded on the first write, so servers that only read never pay for it.
    const upload = lazy(async () =>
      (await import('./handlers/upload.js')).createUploadHandler(uploadOptions),
    );
    handleUpload = async (request, decoded) => (await upload.get())(request, decoded);
  }
  if (options.webdav === false) {
    return handleUpload === null ? undefined : { methods: DEFAULT_UPLOAD_METHODS, handle: handleUpload };
  }
  const locking = handleUpload !== null && options.webdavLocks !== false;
  const davOptions = {
    // The same write rules as the upload handler's (WebDAV writes through COPY and MOVE too).
    ...(uploadOptions ?? pathRules),
    upload: handleUpload,
    locking,
    ...(options.auth !== undefined && options.auth.length > 0 && context.authGate !== null
      ? { access: davAccessCheck(options.auth, context.authGate) }
      : {}),
  };
  const dav = lazy(async () => (await import('./handlers/webdav/handler.js')).createDavHandler(davOptions));
  // WebDAV wraps the upload handler (its lock checks come first) and is loaded on the first DAV request.
  return {
    methods:
      handleUpload === null
        ? DAV_READ_METHODS
        : [...DEFAULT_UPLOAD_METHODS, ...DAV_WRITE_METHODS, ...(locking ? DAV_LOCK_METHODS : [])],
    // RFC 4918 §10.1: class 2 only when locks are real; MS-Author-Via makes Windows' redirector use DAV.
    optionsHeaders: { DAV: locking ? '1, 2' : '1', 'MS-Author-Via': 'DAV' },
    handle: async (request, decoded) => (await dav.get())(request, decoded),
  };
}

/** The real path when it exists, else the path as given (a folder that may be made later). */
function realOrSelf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/** The access rules for the paths a WebDAV request touches beyond its own URL (Destination, members). */
function davAccessCheck(rules: readonly AuthRule[], gate: Lazy<AuthGate>): DavAccess {
  return {
    rulePrefixes: rules.map((rule) => rule.pathPrefix.split('/').filter((segment) => segment !== '')),
    async check(request, urlPath, write) {
      // The request itself was already checked: the paths it touches are not more login attempts.
      return (await gate.get()).check(
        { ...request, method: write ? 'PUT' : 'GET', path: urlPath, query: '', body: null },
        { countFailures: false },
      );
    },
  };
}

/** Counts script runs and how they ended, around whatever runs the scripts. */
function countedScripts(inner: ScriptHandler, metrics: ServerMetrics): ScriptHandler {
  return {
    methods: inner.methods,
    async handle(request, segments) {
      let response: ResponseDescription | null;
      try {
        response = await inner.handle(request, segments);
      } catch (error) {
        metrics.cgiRuns++;
        metrics.cgiFailures++;
        throw error;
      }
      // null: the path is not a script after all.
      if (response === null) return null;
      metrics.cgiRuns++;
      if (response.status === 504) metrics.cgiTimeouts++;
      else if (response.status >= 500) metrics.cgiFailures++;
      return response;
    },
  };
}

/** Counts successful uploads (PUT, PATCH and the form's POST answered with 2xx). */
function countedWrites(inner: WriteHandler, metrics: ServerMetrics): WriteHandler {
  return {
    methods: inner.methods,
    // WebDAV's DAV and MS-Author-Via on OPTIONS: without them clients do not mount the share.
    ...(inner.optionsHeaders !== undefined ? { optionsHeaders: inner.optionsHeaders } : {}),
    async handle(request, decoded) {
      const response = await inner.handle(request, decoded);
      const method = request.method;
      if (
        response.status >= 200 &&
        response.status < 300 &&
        (method === 'PUT' || method === 'PATCH' || method === 'POST')
      ) {
        metrics.uploads++;
      }
      return response;
    },
  };
}
