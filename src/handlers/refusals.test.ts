import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WriteRefusal } from '../files/write.js';
import { HttpRefusal, httpRefusalOf } from './refusals.js';

test('file-layer refusals and file-system errors become the statuses handlers answer with', () => {
  const errno = (code: string) => Object.assign(new Error(code), { code });
  const cases: Array<[unknown, number]> = [
    [new WriteRefusal('forbidden', 'm'), 403],
    [new WriteRefusal('invalid', 'm'), 400],
    [new WriteRefusal('conflict', 'm'), 409],
    [new WriteRefusal('exists', 'm'), 412],
    [new WriteRefusal('too-large', 'm'), 413],
    [new WriteRefusal('no-space', 'm'), 507],
    [new WriteRefusal('failed', 'm'), 500],
    [errno('ENOSPC'), 507],
    [errno('EACCES'), 403],
    [errno('ENOTEMPTY'), 409],
    [errno('ENAMETOOLONG'), 400],
    [new Error('anything else'), 500],
    [new HttpRefusal(415, 'm'), 415],
  ];
  for (const [error, status] of cases) assert.equal(httpRefusalOf(error).status, status, String(error));
  const unexpected = new Error('disk on fire');
  assert.equal(httpRefusalOf(unexpected).cause, unexpected, 'an unexpected error is kept for the log');
  assert.equal(
    httpRefusalOf(new WriteRefusal('conflict', 'the folder is not empty')).message,
    'the folder is not empty',
  );
});
