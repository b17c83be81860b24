import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatHttpDate, parseHttpDate } from './date.js';

/** The RFC 9110 §5.6.7 example instant: Sun, 06 Nov 1994 08:49:37 GMT. */
const RFC_EXAMPLE_MS = Date.UTC(1994, 10, 6, 8, 49, 37);
/** A fixed "now" for the two-digit-year rule. */
const NOW_2026 = Date.UTC(2026, 0, 15);

const formatCases: Array<{ name: string; ms: number; expected: string }> = [
  { name: 'the RFC 9110 example instant', ms: RFC_EXAMPLE_MS, expected: 'Sun, 06 Nov 1994 08:49:37 GMT' },
  { name: 'the epoch', ms: 0, expected: 'Thu, 01 Jan 1970 00:00:00 GMT' },
  {
    name: 'a time with milliseconds, dropping them',
    ms: RFC_EXAMPLE_MS + 999,
    expected: 'Sun, 06 Nov 1994 08:49:37 GMT',
  },
  { name: 'a leap day', ms: Date.UTC(2024, 1, 29, 23, 59, 59), expected: 'Thu, 29 Feb 2024 23:59:59 GMT' },
  {
    name: 'a single-digit day with a zero',
    ms: Date.UTC(2000, 0, 1, 1, 2, 3),
    expected: 'Sat, 01 Jan 2000 01:02:03 GMT',
  },
];

for (const { name, ms, expected } of formatCases) {
  test(`formatHttpDate() formats ${name} as ${expected}`, () => {
    assert.equal(formatHttpDate(ms), expected);
  });
}

for (const ms of [Number.NaN, Number.POSITIVE_INFINITY, Date.UTC(10000, 0, 1)]) {
  test(`formatHttpDate() throws RangeError for ${ms}`, () => {
    assert.throws(() => formatHttpDate(ms), RangeError);
  });
}

const parseCases: Array<{ name: string; value: string; expected: number | null }> = [
  { name: 'accepts IMF-fixdate', value: 'Sun, 06 Nov 1994 08:49:37 GMT', expected: RFC_EXAMPLE_MS },
  {
    name: 'accepts obsolete RFC 850 dates',
    value: 'Sunday, 06-Nov-94 08:49:37 GMT',
    expected: RFC_EXAMPLE_MS,
  },
  {
    name: 'accepts asctime with a space-padded day',
    value: 'Sun Nov  6 08:49:37 1994',
    expected: RFC_EXAMPLE_MS,
  },
  {
    name: 'accepts asctime with a two-digit day',
    value: 'Wed Nov 16 08:49:37 1994',
    expected: Date.UTC(1994, 10, 16, 8, 49, 37),
  },
  {
    name: 'accepts asctime with a zero-padded day',
    value: 'Sun Nov 06 08:49:37 1994',
    expected: RFC_EXAMPLE_MS,
  },
  { name: 'trims surrounding OWS', value: ' \tSun, 06 Nov 1994 08:49:37 GMT ', expected: RFC_EXAMPLE_MS },
  {
    name: 'accepts Feb 29 in a leap year',
    value: 'Thu, 29 Feb 2024 00:00:00 GMT',
    expected: Date.UTC(2024, 1, 29),
  },
  {
    name: 'accepts Feb 29 in 2000 (divisible by 400)',
    value: 'Tue, 29 Feb 2000 00:00:00 GMT',
    expected: Date.UTC(2000, 1, 29),
  },
  {
    name: 'accepts a leap second as the next minute',
    value: 'Sat, 31 Dec 2016 23:59:60 GMT',
    expected: Date.UTC(2017, 0, 1),
  },
  {
    name: 'accepts years before 100 literally',
    value: 'Mon, 01 Jan 0001 00:00:00 GMT',
    expected: Date.parse('0001-01-01T00:00:00Z'),
  },
  {
    name: 'does not check the day name against the date',
    value: 'Mon, 06 Nov 1994 08:49:37 GMT',
    expected: RFC_EXAMPLE_MS,
  },
  {
    name: 'reads RFC 850 year 76 as 2076 (within 50 years of 2026)',
    value: 'Thursday, 01-Jan-76 00:00:00 GMT',
    expected: Date.UTC(2076, 0, 1),
  },
  {
    name: 'reads RFC 850 year 77 as 1977 (more than 50 years ahead)',
    value: 'Saturday, 01-Jan-77 00:00:00 GMT',
    expected: Date.UTC(1977, 0, 1),
  },
  {
    name: 'reads RFC 850 year 05 as 2005',
    value: 'Saturday, 01-Jan-05 00:00:00 GMT',
    expected: Date.UTC(2005, 0, 1),
  },
  { name: 'rejects Feb 30', value: 'Sat, 30 Feb 2019 00:00:00 GMT', expected: null },
  { name: 'rejects Feb 29 in a common year', value: 'Fri, 29 Feb 2019 00:00:00 GMT', expected: null },
  {
    name: 'rejects Feb 29 in 1900 (divisible by 100)',
    value: 'Thu, 29 Feb 1900 00:00:00 GMT',
    expected: null,
  },
  { name: 'rejects Apr 31', value: 'Thu, 31 Apr 2020 00:00:00 GMT', expected: null },
  { name: 'rejects day 00', value: 'Sun, 00 Nov 1994 08:49:37 GMT', expected: null },
  { name: 'rejects hour 24', value: 'Sun, 06 Nov 1994 24:00:00 GMT', expected: null },
  { name: 'rejects minute 60', value: 'Sun, 06 Nov 1994 08:60:37 GMT', expected: null },
  { name: 'rejects second 61', value: 'Sun, 06 Nov 1994 08:49:61 GMT', expected: null },
  {
    name: 'rejects a lower-case month (HTTP-date is case-sensitive)',
    value: 'Sun, 06 nov 1994 08:49:37 GMT',
    expected: null,
  },
  { name: 'rejects a lower-case day name', value: 'sun, 06 Nov 1994 08:49:37 GMT', expected: null },
  { name: 'rejects an unknown month', value: 'Sun, 06 Foo 1994 08:49:37 GMT', expected: null },
  { name: 'rejects a zone other than GMT', value: 'Sun, 06 Nov 1994 08:49:37 UTC', expected: null },
  { name: 'rejects a numeric zone', value: 'Sun, 06 Nov 1994 08:49:37 +0000', expected: null },
  { name: 'rejects a one-digit day in IMF-fixdate', value: 'Sun, 6 Nov 1994 08:49:37 GMT', expected: null },
  { name: 'rejects a two-digit year in IMF-fixdate', value: 'Sun, 06 Nov 94 08:49:37 GMT', expected: null },
  { name: 'rejects trailing garbage', value: 'Sun, 06 Nov 1994 08:49:37 GMTx', expected: null },
  { name: 'rejects a short day name in RFC 850 form', value: 'Sun, 06-Nov-94 08:49:37 GMT', expected: null },
  {
    name: 'rejects a four-digit year in RFC 850 form',
    value: 'Sunday, 06-Nov-1994 08:49:37 GMT',
    expected: null,
  },
  { name: 'rejects asctime with a trailing zone', value: 'Sun Nov  6 08:49:37 1994 GMT', expected: null },
  {
    name: 'rejects asctime with a single space before a one-digit day',
    value: 'Sun Nov 6 08:49:37 1994',
    expected: null,
  },
  { name: 'rejects an ISO 8601 date', value: '1994-11-06T08:49:37Z', expected: null },
  { name: 'rejects a number', value: '784111777', expected: null },
  { name: 'rejects an empty value', value: '', expected: null },
  {
    name: 'rejects two dates joined as a list',
    value: 'Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT',
    expected: null,
  },
  { name: 'rejects a sign in the time', value: 'Sun, 06 Nov 1994 -8:49:37 GMT', expected: null },
];

for (const { name, value, expected } of parseCases) {
  test(`parseHttpDate() ${name}: ${JSON.stringify(value)}`, () => {
    assert.equal(parseHttpDate(value, NOW_2026), expected);
  });
}

test('parseHttpDate() round-trips formatHttpDate() output', () => {
  for (let ms = 0; ms < 4e12; ms += 123_456_789_000) {
    const whole = Math.floor(ms / 1000) * 1000;
    assert.equal(parseHttpDate(formatHttpDate(ms)), whole);
  }
});
