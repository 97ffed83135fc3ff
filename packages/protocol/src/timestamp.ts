import { fail, ok, type Result } from './result.js';

/** Numbers above this are milliseconds, not seconds (the rule pydantic applies). */
export const MILLISECONDS_THRESHOLD = 2e10;
/** The start of year 10000 in epoch seconds: timestamps from then on are rejected. */
export const YEAR_10000_SECONDS = 253_402_300_800;

const ISO_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;
const NUMERIC_STRING_PATTERN = /^\d+(?:\.\d+)?$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/**
 * Parses the `updated_at` of a publish body into Unix epoch seconds.
 *
 * Accepts what the Flagsmith API and pydantic accept: a number of seconds
 * (integer or float; above `2e10` it is milliseconds and is converted), a
 * string of digits read the same way, or an ISO-8601 date-time with an offset,
 * with `Z`, or naive (meaning UTC), with optional fractional seconds. Rejects
 * NaN, infinities, zero, negative values, years past 9999 and any other type,
 * with a message naming the problem.
 */
export function parseUpdatedAt(value: unknown): Result<number> {
  if (typeof value === 'number') return fromNumber(value);
  if (typeof value === 'string') {
    if (NUMERIC_STRING_PATTERN.test(value)) return fromNumber(Number(value));
    return fromIsoString(value);
  }
  const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  return fail(
    'invalid_updated_at',
    `updated_at must be a number of seconds since the epoch or an ISO-8601 string, not ${kind}.`,
  );
}

function fromNumber(raw: number): Result<number> {
  if (!Number.isFinite(raw)) {
    return fail('invalid_updated_at', 'updated_at must be a finite number.');
  }
  if (raw <= 0) {
    return fail('invalid_updated_at', 'updated_at must be after the epoch (greater than zero).');
  }
  const seconds = raw > MILLISECONDS_THRESHOLD ? raw / 1000 : raw;
  return withinRange(seconds);
}

function withinRange(seconds: number): Result<number> {
  if (seconds <= 0) {
    return fail('invalid_updated_at', 'updated_at must be after 1970-01-01T00:00:00Z.');
  }
  if (seconds >= YEAR_10000_SECONDS) {
    return fail('invalid_updated_at', 'updated_at is past the year 9999.');
  }
  return ok(seconds);
}

function fromIsoString(text: string): Result<number> {
  const m = ISO_PATTERN.exec(text);
  if (!m) {
    return fail(
      'invalid_updated_at',
      'updated_at is not an ISO-8601 date-time such as "2024-12-26T16:18:08.760000+00:00".',
    );
  }
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const fraction = m[7] ?? '';
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return fail('invalid_updated_at', `updated_at has no such date: ${m[1]}-${m[2]}-${m[3]}.`);
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return fail(
      'invalid_updated_at',
      `updated_at has no such time: ${m[4]}:${m[5]}:${m[6] ?? '00'}.`,
    );
  }
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) {
      return fail('invalid_updated_at', 'updated_at has an offset outside -23:59 to +23:59.');
    }
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const wholeSeconds = date.getTime() / 1000 - offsetMinutes * 60;
  // Truncated to microseconds, then one correctly rounded conversion of the exact decimal,
  // as Python's datetime.timestamp() does with integers (`(s * 10**6 + us) / 10**6`). Number()
  // of the decimal text stays exact where `s * 1e6` would pass 2^53 (dates after 2255).
  const micros = fraction.padEnd(6, '0').slice(0, 6);
  const seconds =
    wholeSeconds >= 0
      ? Number(`${wholeSeconds}.${micros}`)
      : (wholeSeconds * 1e6 + Number(micros)) / 1e6;
  return withinRange(seconds);
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/**
 * Formats epoch seconds the way Python's `json.dumps` writes a float: the
 * shortest representation that reads back to the same number, always with a
 * fractional part (`1735229888.0`, never `1735229888`) and never in exponent
 * form. Flutter ignores a value that decodes as an integer.
 */
export function formatTimestamp(seconds: number): string {
  if (!Number.isFinite(seconds)) {
    throw new RangeError(`Cannot format a non-finite timestamp: ${seconds}`);
  }
  const text = String(seconds);
  const exponentAt = text.indexOf('e');
  const plain = exponentAt === -1 ? text : expandExponent(text, exponentAt);
  return plain.includes('.') ? plain : `${plain}.0`;
}

/**
 * Formats epoch seconds as an ISO-8601 UTC date-time with microseconds
 * (`2603-10-11T11:33:20.000001Z`). {@link parseUpdatedAt} reads it back to the
 * same double for every timestamp above `2e10` (whose shortest decimal has at
 * most 6 fraction digits). Used where a number would be misread: numbers above
 * `2e10` are milliseconds.
 */
export function formatIsoTimestamp(seconds: number): string {
  const text = formatTimestamp(seconds);
  const pointAt = text.indexOf('.');
  const whole = Number(text.slice(0, pointAt));
  const fraction = text
    .slice(pointAt + 1)
    .padEnd(6, '0')
    .slice(0, 6);
  const iso = new Date(whole * 1000).toISOString();
  return `${iso.slice(0, iso.indexOf('.'))}.${fraction}Z`;
}

/**
 * Spells out JavaScript's exponent form (used below 1e-6 and from 1e21) with the same
 * shortest digits: `1.5e-7` becomes `0.00000015`. (`toFixed` would print the binary
 * expansion instead, e.g. `0.00000014999999999999999...`.)
 */
function expandExponent(text: string, exponentAt: number): string {
  const sign = text.startsWith('-') ? '-' : '';
  const mantissa = text.slice(sign.length, exponentAt);
  const exponent = Number(text.slice(exponentAt + 1));
  const pointAt = mantissa.indexOf('.');
  const digits = mantissa.replace('.', '');
  const integerDigits = (pointAt === -1 ? mantissa.length : pointAt) + exponent;
  if (integerDigits <= 0) return `${sign}0.${'0'.repeat(-integerDigits)}${digits}`;
  if (integerDigits >= digits.length)
    return sign + digits + '0'.repeat(integerDigits - digits.length);
  return `${sign}${digits.slice(0, integerDigits)}.${digits.slice(integerDigits)}`;
}
