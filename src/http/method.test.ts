import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isIdempotentMethod, isKnownMethod, isSafeMethod } from './method.js';

const cases: Array<{ method: string; known: boolean; safe: boolean; idempotent: boolean }> = [
  { method: 'GET', known: true, safe: true, idempotent: true },
  { method: 'HEAD', known: true, safe: true, idempotent: true },
  { method: 'OPTIONS', known: true, safe: true, idempotent: true },
  { method: 'TRACE', known: true, safe: true, idempotent: true },
  { method: 'PUT', known: true, safe: false, idempotent: true },
  { method: 'DELETE', known: true, safe: false, idempotent: true },
  { method: 'POST', known: true, safe: false, idempotent: false },
  { method: 'CONNECT', known: true, safe: false, idempotent: false },
  { method: 'PATCH', known: true, safe: false, idempotent: false },
  { method: 'PROPFIND', known: true, safe: true, idempotent: true },
  { method: 'MKCOL', known: true, safe: false, idempotent: true },
  { method: 'LOCK', known: true, safe: false, idempotent: false },
  { method: 'get', known: false, safe: false, idempotent: false },
  { method: 'BREW', known: false, safe: false, idempotent: false },
  { method: '', known: false, safe: false, idempotent: false },
];

for (const { method, known, safe, idempotent } of cases) {
  const label = JSON.stringify(method);
  test(`isKnownMethod(${label}) is ${known}`, () => assert.equal(isKnownMethod(method), known));
  test(`isSafeMethod(${label}) is ${safe}`, () => assert.equal(isSafeMethod(method), safe));
  test(`isIdempotentMethod(${label}) is ${idempotent}`, () =>
    assert.equal(isIdempotentMethod(method), idempotent));
}
