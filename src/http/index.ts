/**
 * The HTTP-semantics layer: pure functions over field values (RFC 9110), no I/O.
 * @module
 */
export * from './conditional.js';
export * from './date.js';
export * from './etag.js';
export * from './location.js';
export * from './method.js';
export * from './mime.js';
export * from './negotiate.js';
export * from './range.js';
