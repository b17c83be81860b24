/**
 * HTTP-date formatting and parsing, RFC 9110 §5.6.7.
 *
 * Senders generate only IMF-fixdate; recipients must also accept the two obsolete forms (RFC 850 and
 * ANSI C asctime). HTTP-date is case-sensitive (§5.6.7), so names are matched exactly.
 * @module
 */
import { isDigit, trimOws } from './syntax.js';

/** Three-letter day names in `Date#getUTCDay()` order, RFC 9110 §5.6.7 `day-name`. */
const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
/** Full day names for the obsolete RFC 850 form, RFC 9110 §5.6.7 `day-name-l`. */
const LONG_DAY_NAMES = [
  'Sunday',
  'Monday',
  'Tuesday',
  'Wednesday',
  'Thursday',
  'Friday',
  'Saturday',
] as const;
/** Month names in `Date#getUTCMonth()` order, RFC 9110 §5.6.7 `month`. */
const MONTH_NAMES = [
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'May',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Oct',
  'Nov',
  'Dec',
] as const;

/** Largest year IMF-fixdate can carry: `year = 4DIGIT`, RFC 9110 §5.6.7. */
export const MAX_HTTP_DATE_YEAR = 9999;

/**
 * An rfc850-date whose two-digit year would put it more than this many years in the future is taken to be
 * in the past century instead, RFC 9110 §5.6.7.
 */
export const RFC850_FUTURE_YEARS_LIMIT = 50;

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function pad4(n: number): string {
  return n < 10 ? `000${n}` : n < 100 ? `00${n}` : n < 1000 ? `0${n}` : String(n);
}

/**
 * Formats an instant as IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 9110 §5.6.7.
 * Sub-second precision is dropped, since HTTP-date has one-second resolution.
 * @throws RangeError when `ms` is not finite or falls outside years 0000–9999.
 */
export function formatHttpDate(ms: number): string {
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  if (!Number.isFinite(ms) || Number.isNaN(year) || year < 0 || year > MAX_HTTP_DATE_YEAR) {
    throw new RangeError(`Cannot format ${ms} as an HTTP-date`);
  }
  return (
    `${DAY_NAMES[date.getUTCDay()]}, ${pad2(date.getUTCDate())} ${MONTH_NAMES[date.getUTCMonth()]} ` +
    `${pad4(year)} ${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())} GMT`
  );
}

/** Reads exactly `count` digits at `pos`; -1 when any of them is not a DIGIT or the text is too short. */
function readDigits(text: string, pos: number, count: number): number {
  if (pos + count > text.length) return -1;
  let n = 0;
  for (let i = pos; i < pos + count; i++) {
    const code = text.charCodeAt(i);
    if (!isDigit(code)) return -1;
    n = n * 10 + (code - 0x30);
  }
  return n;
}

/** Index of `names[i]` found at `pos` in `text`, or -1. */
function readName(text: string, pos: number, names: readonly string[]): number {
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (text.startsWith(name, pos)) return i;
  }
  return -1;
}

/** Index of the day name that ends right before `, ` in the RFC 850 form, or -1. */
function readLongDayName(text: string): number {
  const comma = text.indexOf(',');
  if (comma < 0) return -1;
  const name = text.slice(0, comma);
  for (let i = 0; i < LONG_DAY_NAMES.length; i++) {
    if (LONG_DAY_NAMES[i] === name) return i;
  }
  return -1;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 1) return isLeapYear(year) ? 29 : 28;
  return month === 3 || month === 5 || month === 8 || month === 10 ? 30 : 31;
}

/**
 * Reads `time-of-day = hour ":" minute ":" second` at `pos`, RFC 9110 §5.6.7.
 * Second 60 is allowed for a leap second (the grammar is `2DIGIT`; IMF, RFC 5322 §3.3, permits 60) and
 * folds into the next minute, since ECMAScript time has no leap seconds.
 */
function readTimeOfDay(text: string, pos: number): { hour: number; minute: number; second: number } | null {
  const hour = readDigits(text, pos, 2);
  const minute = readDigits(text, pos + 3, 2);
  const second = readDigits(text, pos + 6, 2);
  if (text.charCodeAt(pos + 2) !== 0x3a || text.charCodeAt(pos + 5) !== 0x3a) return null;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return null;
  return { hour, minute, second };
}

function toEpochMs(
  year: number,
  month: number,
  day: number,
  time: { hour: number; minute: number; second: number },
): number | null {
  if (year > MAX_HTTP_DATE_YEAR || day < 1 || day > daysInMonth(year, month)) return null;
  // Date.UTC maps years 0–99 to 1900–1999, so set the year separately; 2000 is a leap year, so any
  // already-validated day fits before the year changes. The time is added last so a leap second rolls over.
  const date = new Date(Date.UTC(2000, month, day));
  date.setUTCFullYear(year);
  return date.getTime() + ((time.hour * 60 + time.minute) * 60 + time.second) * 1000;
}

/** `IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT` where `date1 = day SP month SP year`. */
function parseImfFixdate(text: string): number | null {
  // Sun, 06 Nov 1994 08:49:37 GMT
  if (text.length !== 29) return null;
  if (readName(text, 0, DAY_NAMES) < 0 || text.charCodeAt(3) !== 0x2c || text.charCodeAt(4) !== 0x20)
    return null;
  const day = readDigits(text, 5, 2);
  const month = readName(text, 8, MONTH_NAMES);
  const year = readDigits(text, 12, 4);
  if (text.charCodeAt(7) !== 0x20 || text.charCodeAt(11) !== 0x20 || text.charCodeAt(16) !== 0x20)
    return null;
  if (day < 0 || month < 0 || year < 0) return null;
  const time = readTimeOfDay(text, 17);
  if (time === null || !text.startsWith(' GMT', 25)) return null;
  return toEpochMs(year, month, day, time);
}

/** `rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT` where `date2 = day "-" month "-" 2DIGIT`. */
function parseRfc850Date(text: string, nowMs: number): number | null {
  // Sunday, 06-Nov-94 08:49:37 GMT
  if (readLongDayName(text) < 0) return null;
  const at = text.indexOf(',') + 1;
  if (text.length !== at + 23 || text.charCodeAt(at) !== 0x20) return null;
  const day = readDigits(text, at + 1, 2);
  const month = readName(text, at + 4, MONTH_NAMES);
  const yy = readDigits(text, at + 8, 2);
  if (
    text.charCodeAt(at + 3) !== 0x2d ||
    text.charCodeAt(at + 7) !== 0x2d ||
    text.charCodeAt(at + 10) !== 0x20
  ) {
    return null;
  }
  if (day < 0 || month < 0 || yy < 0) return null;
  const time = readTimeOfDay(text, at + 11);
  if (time === null || !text.startsWith(' GMT', at + 19)) return null;
  // §5.6.7: a two-digit year that appears to be more than 50 years in the future means the most recent
  // past year with the same last two digits.
  const currentYear = new Date(nowMs).getUTCFullYear();
  let year = currentYear - (currentYear % 100) + yy;
  if (year > currentYear + RFC850_FUTURE_YEARS_LIMIT) year -= 100;
  return toEpochMs(year, month, day, time);
}

/** `asctime-date = day-name SP date3 SP time-of-day SP year` where `date3 = month SP ( 2DIGIT / ( SP DIGIT ) )`. */
function parseAsctimeDate(text: string): number | null {
  // Sun Nov  6 08:49:37 1994
  if (text.length !== 24) return null;
  if (readName(text, 0, DAY_NAMES) < 0 || text.charCodeAt(3) !== 0x20) return null;
  const month = readName(text, 4, MONTH_NAMES);
  if (month < 0 || text.charCodeAt(7) !== 0x20) return null;
  const day = text.charCodeAt(8) === 0x20 ? readDigits(text, 9, 1) : readDigits(text, 8, 2);
  if (day < 0 || text.charCodeAt(10) !== 0x20 || text.charCodeAt(19) !== 0x20) return null;
  const time = readTimeOfDay(text, 11);
  const year = readDigits(text, 20, 4);
  if (time === null || year < 0) return null;
  return toEpochMs(year, month, day, time);
}

/**
 * Parses an HTTP-date in any of the three forms recipients must accept (RFC 9110 §5.6.7) into epoch
 * milliseconds. Returns null for anything else, including impossible calendar dates (Feb 30) and times.
 * The day name is checked to be a real name but not against the date: it is redundant and some senders
 * get it wrong.
 * @param nowMs the current time, used only to resolve an RFC 850 two-digit year.
 */
export function parseHttpDate(value: string, nowMs: number = Date.now()): number | null {
  const text = trimOws(value);
  if (text.length === 0) return null;
  const fourth = text.charCodeAt(3);
  if (fourth === 0x2c) return parseImfFixdate(text); // "Sun,"
  if (fourth === 0x20) return parseAsctimeDate(text); // "Sun "
  return parseRfc850Date(text, nowMs); // "Sunday,"
}
