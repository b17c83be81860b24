/**
 * Error answers a transport makes itself (a handler that threw, a file that could not be opened, a
 * protocol error, the connection limit). The transport takes an `ErrorRenderer` from whoever composes the
 * server (`server.ts` passes the handlers' HTML-or-text renderer); without one it sends the plain line.
 * @module
 */
import type { ResponseDescription } from './message.js';
import { reasonPhrase } from './status.js';

/** Makes the response for an error status and its one-line reason; `accept` is the request's Accept field. */
export type ErrorRenderer = (
  status: number,
  message: string,
  accept: string | undefined,
) => ResponseDescription;

/** What the client is told when a handler throws; the detail goes to the server log only. */
export const HANDLER_FAILED_MESSAGE =
  'the server failed while handling this request (details are in the server log)';
/** What the client is told when a handler's answer cannot be sent (a field with CR/LF, say). */
export const INVALID_RESPONSE_MESSAGE =
  'the server built an invalid response (details are in the server log)';

/** `404 Not Found: no file or folder of that name` as text/plain, with nosniff. */
export function plainErrorResponse(
  status: number,
  message: string,
  _accept?: string,
  headers: Readonly<Record<string, string>> = {},
): ResponseDescription {
  return {
    status,
    headers: {
      ...headers,
      'Content-Type': 'text/plain; charset=utf-8',
      'X-Content-Type-Options': 'nosniff',
    },
    body: { kind: 'bytes', data: `${status} ${reasonPhrase(status)}: ${message}\n` },
  };
}

/** The renderer's answer, or the plain line when the renderer itself fails (logged). */
export function renderErrorSafely(
  render: ErrorRenderer | undefined,
  status: number,
  message: string,
  accept: string | undefined,
  logError: (error: unknown, context: string) => void,
): ResponseDescription {
  if (render !== undefined) {
    try {
      return render(status, message, accept);
    } catch (error) {
      logError(error, 'error page renderer');
    }
  }
  return plainErrorResponse(status, message);
}
