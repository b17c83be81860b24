/**
 * Password checks for `--auth`: plain text (compared in constant time), bcrypt (`$2a$`/`$2b$`/`$2y$`, via
 * the pure-JS `bcryptjs`, loaded only when such a hash is first checked), SHA-512 crypt (`$6$`, the glibc
 * scheme of `openssl passwd -6` and `mkpasswd -m sha-512`, implemented here on `node:crypto`), and
 * `sha512:<hex>` (the hex SHA-512 of the password, for systems without either tool).
 *
 * The slow kinds (bcrypt, SHA-512 crypt) are deliberately expensive, so the server verifies them on a
 * worker thread (password-verifier.ts); `verifyPasswordSync` is what runs there.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** What kind of secret a rule holds; decided once when the rule is parsed. */
export type PasswordKind = 'plain' | 'bcrypt' | 'sha512-crypt' | 'sha512-hex';

export function passwordKind(stored: string): PasswordKind {
  if (/^\$2[aby]\$\d\d\$/.test(stored)) return 'bcrypt';
  if (stored.startsWith('$6$')) return 'sha512-crypt';
  if (/^sha512:[0-9a-fA-F]{128}$/.test(stored)) return 'sha512-hex';
  return 'plain';
}

/**
 * Longest password checked (bytes of UTF-8). SHA-512 crypt hashes the password once per byte of its own
 * length (steps 13–16 of the scheme), so its cost grows with the square of the length: a cap keeps one
 * request from costing seconds. Longer passwords never match (the gate answers them 400 before that).
 */
export const MAX_PASSWORD_BYTES = 1024;

/** True for the kinds that cost milliseconds on purpose (and so belong off the event loop). */
export function isSlowKind(kind: PasswordKind): boolean {
  return kind === 'bcrypt' || kind === 'sha512-crypt';
}

/** Whether `given` matches the stored secret. Never throws for a malformed hash: it just does not match. */
export async function verifyPassword(given: string, stored: string): Promise<boolean> {
  if (passwordKind(stored) !== 'bcrypt') return verifyPasswordSync(given, stored, null);
  const bcrypt = await import('bcryptjs');
  return verifyPasswordSync(given, stored, bcrypt);
}

/** The bcryptjs functions this module needs (passed in, so that it is only loaded where bcrypt is used). */
export interface BcryptCompare {
  compareSync(given: string, stored: string): boolean;
}

/**
 * The synchronous check, for a worker thread (or a fast kind). `bcrypt` must be given for bcrypt hashes;
 * without it they never match.
 */
export function verifyPasswordSync(given: string, stored: string, bcrypt: BcryptCompare | null): boolean {
  if (Buffer.byteLength(given, 'utf8') > MAX_PASSWORD_BYTES) return false;
  switch (passwordKind(stored)) {
    case 'plain':
      return equalDigests(sha512(Buffer.from(given, 'utf8')), sha512(Buffer.from(stored, 'utf8')));
    case 'sha512-hex':
      return equalDigests(sha512(Buffer.from(given, 'utf8')), Buffer.from(stored.slice(7), 'hex'));
    case 'sha512-crypt': {
      const computed = sha512Crypt(given, stored);
      return computed !== null && equalDigests(sha512(Buffer.from(computed)), sha512(Buffer.from(stored)));
    }
    case 'bcrypt':
      try {
        // bcryptjs compares in constant time itself.
        return bcrypt?.compareSync(given, stored) === true;
      } catch {
        return false;
      }
  }
}

/**
 * Constant-time comparison: digests of equal length, so `timingSafeEqual` never throws and the time taken
 * says nothing about how much of the password was right.
 */
function equalDigests(left: Buffer, right: Buffer): boolean {
  return left.length === right.length && timingSafeEqual(left, right);
}

function sha512(data: Buffer): Buffer {
  return createHash('sha512').update(data).digest();
}

/** SHA-crypt constants (Ulrich Drepper, "Unix crypt using SHA-256 and SHA-512", 2007). */
const SHA_CRYPT_DEFAULT_ROUNDS = 5000;
const SHA_CRYPT_MIN_ROUNDS = 1000;
const SHA_CRYPT_MAX_ROUNDS = 999_999_999;
const SHA_CRYPT_MAX_SALT_CHARS = 16;
const SHA_CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SHA512_BYTES = 64;

/**
 * The `$6$` crypt string of `password` with the salt (and rounds) taken from `setting` (a full hash or just
 * its `$6$[rounds=N$]salt` prefix), or null when `setting` is not a SHA-512 crypt setting.
 */
export function sha512Crypt(password: string, setting: string): string | null {
  const match = /^\$6\$(?:rounds=(\d+)\$)?([^$]*)/.exec(setting);
  if (match === null) return null;
  const roundsText = match[1];
  const rounds =
    roundsText === undefined
      ? SHA_CRYPT_DEFAULT_ROUNDS
      : Math.min(SHA_CRYPT_MAX_ROUNDS, Math.max(SHA_CRYPT_MIN_ROUNDS, Number(roundsText)));
  const saltText = (match[2] ?? '').slice(0, SHA_CRYPT_MAX_SALT_CHARS);
  const key = Buffer.from(password, 'utf8');
  const salt = Buffer.from(saltText, 'utf8');

  // Steps 1–8: digest B of key, salt, key.
  const digestB = createHash('sha512').update(key).update(salt).update(key).digest();
  // Steps 9–12: digest A of key, salt, B repeated over the key's length, then key/B per bit of the length.
  const hashA = createHash('sha512').update(key).update(salt);
  hashA.update(repeatToLength(digestB, key.length));
  for (let bits = key.length; bits > 0; bits >>= 1) hashA.update(bits & 1 ? digestB : key);
  const digestA = hashA.digest();
  // Steps 13–16: byte sequence P from the key repeated key-length times.
  const hashDP = createHash('sha512');
  for (let i = 0; i < key.length; i++) hashDP.update(key);
  const sequenceP = repeatToLength(hashDP.digest(), key.length);
  // Steps 17–20: byte sequence S from the salt repeated 16 + A[0] times.
  const hashDS = createHash('sha512');
  for (let i = 0; i < 16 + digestA[0]!; i++) hashDS.update(salt);
  const sequenceS = repeatToLength(hashDS.digest(), salt.length);
  // Step 21: the rounds that make guessing slow.
  let current = digestA;
  for (let round = 0; round < rounds; round++) {
    const hash = createHash('sha512');
    hash.update(round & 1 ? sequenceP : current);
    if (round % 3 !== 0) hash.update(sequenceS);
    if (round % 7 !== 0) hash.update(sequenceP);
    hash.update(round & 1 ? current : sequenceP);
    current = hash.digest();
  }
  const prefix = roundsText === undefined ? '$6$' : `$6$rounds=${rounds}$`;
  return `${prefix}${saltText}$${encodeShaCrypt(current)}`;
}

function repeatToLength(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0; offset < length; offset += block.length) block.copy(out, offset);
  return out;
}

/** Step 22: the digest's bytes, shuffled in the scheme's fixed order, in crypt's base-64 alphabet. */
function encodeShaCrypt(digest: Buffer): string {
  let out = '';
  const emit = (value: number, chars: number) => {
    for (let i = 0; i < chars; i++) {
      out += SHA_CRYPT_ALPHABET[value & 0x3f];
      value >>= 6;
    }
  };
  const groups = (SHA512_BYTES - 1) / 3;
  for (let i = 0; i < groups; i++) {
    const triple = [i, i + groups, i + 2 * groups];
    const rotation = i % 3;
    const a = triple[rotation]!;
    const b = triple[(rotation + 1) % 3]!;
    const c = triple[(rotation + 2) % 3]!;
    emit((digest[a]! << 16) | (digest[b]! << 8) | digest[c]!, 4);
  }
  emit(digest[SHA512_BYTES - 1]!, 2);
  return out;
}
