/**
 * Refusals as HTTP answers: the file layer says why a path or a write is refused in its own terms
 * (`files/resolve.ts` `PathRefusal`, `files/write.ts` `WriteRefusalReason`); this is where each reason
 * becomes a status, and where handlers' own refusals carry theirs.
 * @module
 */
import type { PathRefusal } from '../files/resolve.js';
import { refusalFor, WriteRefusal, type WriteRefusalReason } from '../files/write.js';

/** A refusal decided by a handler: the status and the one-line reason to answer with. */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The error this refusal stands for, when it was not a rule of ours. */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'HttpRefusal';
  }
}

/** RFC 9110 §15.5.1, §15.5.4, §15.5.5: the status of each reason a path is refused. */
export const PATH_REFUSAL_STATUS: Readonly<Record<PathRefusal, 400 | 403 | 404>> = {
  malformed: 400,
  forbidden: 403,
  'not-found': 404,
};

/** RFC 9110 §15.5 and RFC 4918 §11.5 (507): the status of each reason a write is refused. */
export const WRITE_REFUSAL_STATUS: Readonly<Record<WriteRefusalReason, number>> = {
  forbidden: 403,
  invalid: 400,
  conflict: 409,
  exists: 412,
  'too-large': 413,
  'no-space': 507,
  failed: 500,
};

/** Any error met while writing, as the status and message to answer with (file-system errors mapped). */
export function httpRefusalOf(error: unknown): HttpRefusal {
  if (error instanceof HttpRefusal) return error;
  const refusal: WriteRefusal = error instanceof WriteRefusal ? error : refusalFor(error);
  return new HttpRefusal(WRITE_REFUSAL_STATUS[refusal.reason], refusal.message, refusal.cause);
}
