/**
 * How a script's failure is answered: a generic one-line 502 or 504 for the client, the reason in one log line.
 * @module
 */
import { plainErrorResponse } from '../../wire/error-response.js';
import type { ResponseDescription } from '../../wire/message.js';
import type { CgiOptions } from './options.js';

/**
 * What the client is told when a script fails: nothing about the script, its interpreter or its exit
 * (SECURITY.md: internal errors never reach the client). The reason goes to the log, as one line.
 */
export const CGI_FAILURE_MESSAGES = {
  502: 'the script did not produce a valid response (the server log says why)',
  504: 'the script did not answer in time',
} as const;

/** Logs why a script failed, as one line tagged with the script, and answers with the generic message. */
export function scriptFailure(
  status: keyof typeof CGI_FAILURE_MESSAGES,
  reason: string,
  options: Pick<CgiOptions, 'logError'>,
  context: string,
): ResponseDescription {
  options.logError(reason, context);
  return cgiErrorResponse(status, CGI_FAILURE_MESSAGES[status]);
}

/** A one-line description of an error for the log: its code and message, never its stack. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code === undefined || error.message.includes(code) ? error.message : `${code}: ${error.message}`;
}

/** The one-line plain answer every transport uses, nosniff included (scripts' callers are often tools). */
export function cgiErrorResponse(status: number, message: string): ResponseDescription {
  return plainErrorResponse(status, message);
}
