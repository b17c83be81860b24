/**
 * Why a proxied request gets no upstream answer to forward, and the one failure that may be retried.
 * @module
 */

/** Why no response can be forwarded: `status` is 502 (bad or no answer) or 504 (no answer in time). */
export class UpstreamError extends Error {
  readonly status: 502 | 504;
  constructor(status: 502 | 504, message: string) {
    super(message);
    this.name = 'UpstreamError';
    this.status = status;
  }
}

/** Raised by a reused connection that closed before any byte of an answer: the request may be retried. */
export class StaleConnectionError extends Error {
  readonly original: UpstreamError;
  constructor(original: UpstreamError) {
    super(original.message);
    this.original = original;
  }
}

export function unwrap(error: unknown): unknown {
  return error instanceof StaleConnectionError ? error.original : error;
}

/** Why a connection failed before the upstream answered anything: refused, unresolvable or unreachable. */
export function unreachable(error: NodeJS.ErrnoException): UpstreamError {
  const code = error.code ?? '';
  if (code === 'ECONNREFUSED') {
    return new UpstreamError(502, 'the upstream refused the connection (is the backend running?)');
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new UpstreamError(502, "the upstream's host name could not be resolved");
  }
  return new UpstreamError(502, `the upstream cannot be reached (${code || error.message})`);
}
