import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  evaluatePreconditions,
  isIfRangeSatisfied,
  type PreconditionOutcome,
  type Validators,
} from './conditional.js';
import { formatHttpDate } from './date.js';

const LAST_MODIFIED_MS = Date.UTC(2024, 4, 1, 12, 0, 0) + 250; // sub-second part must not matter
const AT = formatHttpDate(LAST_MODIFIED_MS);
const BEFORE = formatHttpDate(LAST_MODIFIED_MS - 1000);
const AFTER = formatHttpDate(LAST_MODIFIED_MS + 1000);
const STRONG: Validators = { etag: '"abc"', lastModifiedMs: LAST_MODIFIED_MS };
const WEAK: Validators = { etag: 'W/"abc"', lastModifiedMs: LAST_MODIFIED_MS };

const cases: Array<{
  name: string;
  method: string;
  headers: Record<string, string>;
  validators?: Validators;
  expected: PreconditionOutcome;
}> = [
  { name: 'proceeds without conditional headers', method: 'GET', headers: {}, expected: 'proceed' },
  // If-Match, §13.1.1
  {
    name: 'proceeds when If-Match lists the current ETag',
    method: 'PUT',
    headers: { 'if-match': '"x", "abc"' },
    expected: 'proceed',
  },
  {
    name: 'fails when If-Match does not list the current ETag',
    method: 'GET',
    headers: { 'if-match': '"x"' },
    expected: 'precondition-failed',
  },
  {
    name: 'fails If-Match with a weak tag (strong comparison)',
    method: 'PUT',
    headers: { 'if-match': 'W/"abc"' },
    expected: 'precondition-failed',
  },
  {
    name: 'fails If-Match when the current ETag is weak',
    method: 'PUT',
    headers: { 'if-match': '"abc"' },
    validators: WEAK,
    expected: 'precondition-failed',
  },
  {
    name: 'proceeds for If-Match: * on an existing representation',
    method: 'DELETE',
    headers: { 'if-match': '*' },
    expected: 'proceed',
  },
  {
    name: 'fails If-Match when there is no ETag',
    method: 'PUT',
    headers: { 'if-match': '"abc"' },
    validators: { lastModifiedMs: LAST_MODIFIED_MS },
    expected: 'precondition-failed',
  },
  {
    name: 'fails an unparseable If-Match',
    method: 'PUT',
    headers: { 'if-match': 'abc' },
    expected: 'precondition-failed',
  },
  {
    name: 'ignores If-Unmodified-Since when If-Match is present',
    method: 'PUT',
    headers: { 'if-match': '"abc"', 'if-unmodified-since': BEFORE },
    expected: 'proceed',
  },
  // If-Unmodified-Since, §13.1.4
  {
    name: 'fails If-Unmodified-Since earlier than Last-Modified',
    method: 'PUT',
    headers: { 'if-unmodified-since': BEFORE },
    expected: 'precondition-failed',
  },
  {
    name: 'proceeds on If-Unmodified-Since equal to Last-Modified (to the second)',
    method: 'PUT',
    headers: { 'if-unmodified-since': AT },
    expected: 'proceed',
  },
  {
    name: 'proceeds on If-Unmodified-Since later than Last-Modified',
    method: 'PUT',
    headers: { 'if-unmodified-since': AFTER },
    expected: 'proceed',
  },
  {
    name: 'ignores an invalid If-Unmodified-Since',
    method: 'PUT',
    headers: { 'if-unmodified-since': 'yesterday' },
    expected: 'proceed',
  },
  {
    name: 'ignores If-Unmodified-Since without Last-Modified',
    method: 'PUT',
    headers: { 'if-unmodified-since': BEFORE },
    validators: { etag: '"abc"' },
    expected: 'proceed',
  },
  // If-None-Match, §13.1.2
  {
    name: 'answers 304 when If-None-Match matches on GET',
    method: 'GET',
    headers: { 'if-none-match': '"abc"' },
    expected: 'not-modified',
  },
  {
    name: 'answers 304 when If-None-Match matches on HEAD',
    method: 'HEAD',
    headers: { 'if-none-match': '"abc"' },
    expected: 'not-modified',
  },
  {
    name: 'matches If-None-Match W/"a", "b" weakly against W/"a"',
    method: 'GET',
    headers: { 'if-none-match': 'W/"a", "b"' },
    validators: { etag: 'W/"a"' },
    expected: 'not-modified',
  },
  {
    name: 'matches a weak If-None-Match tag against a strong ETag',
    method: 'GET',
    headers: { 'if-none-match': 'W/"abc"' },
    expected: 'not-modified',
  },
  {
    name: 'proceeds when If-None-Match does not match',
    method: 'GET',
    headers: { 'if-none-match': '"x", W/"y"' },
    expected: 'proceed',
  },
  {
    name: 'fails POST with a matching If-None-Match (412, not 304)',
    method: 'POST',
    headers: { 'if-none-match': '"abc"' },
    expected: 'precondition-failed',
  },
  {
    name: 'fails PUT with If-None-Match: * on an existing representation',
    method: 'PUT',
    headers: { 'if-none-match': '*' },
    expected: 'precondition-failed',
  },
  {
    name: 'answers 304 for GET with If-None-Match: *',
    method: 'GET',
    headers: { 'if-none-match': '*' },
    expected: 'not-modified',
  },
  {
    name: 'treats methods case-sensitively (get is not GET)',
    method: 'get',
    headers: { 'if-none-match': '"abc"' },
    expected: 'precondition-failed',
  },
  {
    name: 'ignores an unparseable If-None-Match',
    method: 'GET',
    headers: { 'if-none-match': 'abc' },
    expected: 'proceed',
  },
  // If-Modified-Since, §13.1.3
  {
    name: 'answers 304 on If-Modified-Since equal to Last-Modified (to the second)',
    method: 'GET',
    headers: { 'if-modified-since': AT },
    expected: 'not-modified',
  },
  {
    name: 'answers 304 on If-Modified-Since later than Last-Modified',
    method: 'HEAD',
    headers: { 'if-modified-since': AFTER },
    expected: 'not-modified',
  },
  {
    name: 'proceeds on If-Modified-Since earlier than Last-Modified',
    method: 'GET',
    headers: { 'if-modified-since': BEFORE },
    expected: 'proceed',
  },
  {
    name: 'ignores If-Modified-Since on POST',
    method: 'POST',
    headers: { 'if-modified-since': AFTER },
    expected: 'proceed',
  },
  {
    name: 'ignores an invalid If-Modified-Since',
    method: 'GET',
    headers: { 'if-modified-since': 'Sat, 30 Feb 2019 00:00:00 GMT' },
    expected: 'proceed',
  },
  {
    name: 'ignores If-Modified-Since without Last-Modified',
    method: 'GET',
    headers: { 'if-modified-since': AFTER },
    validators: { etag: '"abc"' },
    expected: 'proceed',
  },
  {
    name: 'accepts an asctime If-Modified-Since',
    method: 'GET',
    headers: { 'if-modified-since': 'Wed May  1 12:00:00 2024' },
    expected: 'not-modified',
  },
  // Precedence, §13.2.2
  {
    name: 'lets a non-matching If-None-Match take precedence over a satisfied If-Modified-Since',
    method: 'GET',
    headers: { 'if-none-match': '"other"', 'if-modified-since': AFTER },
    expected: 'proceed',
  },
  {
    name: 'lets a matching If-None-Match take precedence over an unsatisfied If-Modified-Since',
    method: 'GET',
    headers: { 'if-none-match': '"abc"', 'if-modified-since': BEFORE },
    expected: 'not-modified',
  },
  {
    name: 'checks If-Match before If-None-Match',
    method: 'GET',
    headers: { 'if-match': '"x"', 'if-none-match': '"abc"' },
    expected: 'precondition-failed',
  },
  {
    name: 'checks If-Unmodified-Since before If-None-Match',
    method: 'GET',
    headers: { 'if-unmodified-since': BEFORE, 'if-none-match': '"abc"' },
    expected: 'precondition-failed',
  },
  {
    name: 'answers 304 when If-Match passes and If-None-Match matches',
    method: 'GET',
    headers: { 'if-match': '"abc"', 'if-none-match': '"abc"' },
    expected: 'not-modified',
  },
];

for (const { name, method, headers, validators, expected } of cases) {
  test(`evaluatePreconditions() ${name}`, () => {
    assert.equal(evaluatePreconditions(method, headers, validators ?? STRONG), expected);
  });
}

const ifRangeCases: Array<{
  name: string;
  value: string;
  validators?: Validators;
  nowMs?: number;
  expected: boolean;
}> = [
  { name: 'holds for the current strong ETag', value: '"abc"', expected: true },
  { name: 'fails for a different ETag', value: '"abd"', expected: false },
  { name: 'fails for a weak ETag even if the opaque-tag matches', value: 'W/"abc"', expected: false },
  { name: 'fails when the current ETag is weak', value: '"abc"', validators: WEAK, expected: false },
  {
    name: 'fails for a tag when there is no ETag',
    value: '"abc"',
    validators: { lastModifiedMs: LAST_MODIFIED_MS },
    expected: false,
  },
  { name: 'holds for a date equal to Last-Modified', value: AT, expected: true },
  {
    name: 'holds for a Wednesday date (not mistaken for a weak tag)',
    value: 'Wed, 01 May 2024 12:00:00 GMT',
    expected: true,
  },
  { name: 'fails for a date later than Last-Modified (must be exact)', value: AFTER, expected: false },
  { name: 'fails for a date earlier than Last-Modified', value: BEFORE, expected: false },
  {
    name: 'fails for a date without Last-Modified',
    value: AT,
    validators: { etag: '"abc"' },
    expected: false,
  },
  {
    name: 'fails for a date when Last-Modified is in the current second (weak, §8.8.2.2)',
    value: AT,
    nowMs: LAST_MODIFIED_MS + 500,
    expected: false,
  },
  {
    name: 'holds for a date when Last-Modified is an earlier second than now',
    value: AT,
    nowMs: LAST_MODIFIED_MS + 5000,
    expected: true,
  },
  { name: 'fails for an invalid date', value: 'Sat, 30 Feb 2019 00:00:00 GMT', expected: false },
  { name: 'fails for a list of tags', value: '"abc", "def"', expected: false },
  { name: 'fails for an empty value', value: '', expected: false },
];

for (const { name, value, validators, nowMs, expected } of ifRangeCases) {
  test(`isIfRangeSatisfied() ${name}: ${JSON.stringify(value)}`, () => {
    assert.equal(isIfRangeSatisfied(value, validators ?? STRONG, nowMs), expected);
  });
}
