/**
 * The worker thread that checks slow password hashes (bcrypt, SHA-512 crypt) for password-verifier.ts,
 * so a guesser costs CPU time on this thread, not the event loop every other request needs.
 * Messages in: `{ id, given, stored }`; out: `{ id, ok }`.
 * @module
 */
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import { verifyPasswordSync } from './passwords.js';

interface VerifyMessage {
  id: number;
  given: string;
  stored: string;
}

const port = parentPort;
if (port === null) throw new Error('password-worker.js runs only as a worker thread');
port.on('message', (message: VerifyMessage) => {
  let ok = false;
  try {
    ok = verifyPasswordSync(message.given, message.stored, bcrypt);
  } catch {
    // A malformed hash does not match; the thread keeps serving.
  }
  port.postMessage({ id: message.id, ok });
});
