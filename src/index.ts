/**
 * docroot's library API: the server, the transport-free handler, and the wire contract.
 * @module
 */

export {
  type ConnectMiddlewareOptions,
  type NextFunction,
  type NodeHttpAdapterOptions,
  toConnectMiddleware,
  toHttpRequest,
  toNodeHttpHandler,
} from './adapters/node-http.js';
export { type CaseProbe, detectCaseInsensitive } from './files/real-path.js';
export { type AuthRate, DEFAULT_AUTH_RATE, parseAuthRate } from './handlers/auth-rate.js';
export { type Access, type AuthRule, parseAuthRule } from './handlers/auth-rules.js';
export { errorResponse } from './handlers/errors.js';
export type { CacheOptions } from './handlers/file-cache.js';
export { LIVE_RELOAD_PATH } from './handlers/livereload.js';
export type { CacheControlRule } from './handlers/policy.js';
export {
  createFileHandler,
  type FileHandlerOptions,
  type ScriptHandler,
  STATIC_ALLOW,
  type WriteHandler,
} from './handlers/static.js';
export {
  createServer,
  type DocrootServer,
  RootError,
  resolveRoot,
  SERVER_SOFTWARE,
  type ServerOptions,
  type UploadServerOptions,
} from './server.js';
export type { TlsOptions } from './tls/server.js';
export { VERSION } from './version.js';
export {
  ACCESS_LOG_FORMATS,
  type AccessLogFormat,
  type AccessLogOptions,
  createAccessLogObserver,
} from './wire/access-log.js';
export { type BufferedLineSink, createBufferedLineSink } from './wire/buffered-sink.js';
export { type ErrorRenderer, plainErrorResponse } from './wire/error-response.js';
export { DEFAULT_LIMITS, type WireLimits } from './wire/limits.js';
export { WireServer, type WireServerOptions } from './wire/listener.js';
export type {
  HttpRequest,
  HttpVersion,
  RequestHandler,
  ResponseBody,
  ResponseDescription,
  ResponseHeaders,
} from './wire/message.js';
export type { ExchangeRecord, ObservedConnection, WireObserver } from './wire/observer.js';
export { combineObservers } from './wire/observers.js';
export { createTraceObserver, type TraceOptions } from './wire/trace.js';
