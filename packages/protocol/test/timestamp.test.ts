import { describe, expect, test } from 'vitest';
import {
  formatTimestamp,
  MILLISECONDS_THRESHOLD,
  parseUpdatedAt,
  YEAR_10000_SECONDS,
} from '../src/index.js';

const accepted = (value: unknown) => {
  const result = parseUpdatedAt(value);
  if (!result.ok)
    throw new Error(`expected ${JSON.stringify(value)} to be accepted: ${result.error.message}`);
  return result.value;
};

const rejection = (value: unknown) => {
  const result = parseUpdatedAt(value);
  if (result.ok) throw new Error(`expected ${String(value)} to be rejected, got ${result.value}`);
  expect(result.error.code).toBe('invalid_updated_at');
  return result.error.message;
};

describe('parseUpdatedAt: numbers (PROTOCOL.md "Publishing")', () => {
  test('integer and float seconds are kept as they are', () => {
    expect(accepted(1735229888)).toBe(1735229888);
    expect(accepted(1735229888.76)).toBe(1735229888.76);
    expect(accepted(1)).toBe(1);
  });

  test('numbers above 2e10 are milliseconds and are converted (as pydantic does)', () => {
    expect(MILLISECONDS_THRESHOLD).toBe(2e10);
    expect(accepted(1735229888760)).toBe(1735229888.76);
    expect(accepted(2e10)).toBe(2e10); // the threshold itself is still seconds
    expect(accepted(2e10 + 1)).toBe(20_000_000.001);
  });

  test('numeric strings are read like numbers', () => {
    expect(accepted('1735229888')).toBe(1735229888);
    expect(accepted('1735229888.76')).toBe(1735229888.76);
    expect(accepted('1735229888760')).toBe(1735229888.76);
  });

  test('NaN and infinities are rejected', () => {
    expect(rejection(Number.NaN)).toMatch(/finite/);
    rejection(Number.POSITIVE_INFINITY);
    rejection(Number.NEGATIVE_INFINITY);
  });

  test('zero and negative numbers are rejected', () => {
    expect(rejection(0)).toMatch(/epoch/);
    rejection(-0);
    rejection(-1);
    rejection(-1735229888.76);
    rejection('-1735229888');
  });

  test('a year past 9999 is rejected, in milliseconds as in seconds', () => {
    expect(YEAR_10000_SECONDS).toBe(253_402_300_800); // datetime(10000,1,1) would be this
    expect(rejection(YEAR_10000_SECONDS * 1000)).toMatch(/9999/);
    expect(accepted(YEAR_10000_SECONDS * 1000 - 1000)).toBe(YEAR_10000_SECONDS - 1);
    rejection(1e300);
    rejection(Number.MAX_VALUE);
  });
});

describe('parseUpdatedAt: ISO-8601 strings', () => {
  // Expected values from Python 3.11: datetime.fromisoformat(s).timestamp(), naive as UTC.
  const cases: Array<[string, number]> = [
    ['2024-12-26T16:18:08.760000+00:00', 1735229888.76],
    ['2024-12-26T16:18:08Z', 1735229888.0],
    ['2023-01-12T18:06:42.028060', 1673546802.02806],
    ['2024-12-26T21:48:08.76+05:30', 1735229888.76],
    ['2024-12-26T08:18:08-08:00', 1735229888.0],
    ['2024-12-26T21:48:08+0530', 1735229888.0],
    ['2024-12-26 16:18:08', 1735229888.0],
    ['2024-12-26T16:18:08.1', 1735229888.1],
    ['2024-12-26T16:18:08.123456789', 1735229888.123456],
    ['2024-12-26T16:18', 1735229880.0],
    ['2000-02-29T00:00:00Z', 951782400.0],
    ['9999-12-31T23:59:59Z', 253402300799.0],
    ['1970-01-01T00:00:00.000001Z', 1e-6],
  ];
  test.each(cases)('%s is %d, as in Python', (iso, seconds) => {
    expect(accepted(iso)).toBe(seconds);
  });

  test('fractions of 1 to 9 digits are read (beyond microseconds truncated, as Python)', () => {
    const base = 1735229888;
    expect(accepted('2024-12-26T16:18:08.7Z')).toBe(base + 0.7);
    expect(accepted('2024-12-26T16:18:08.76Z')).toBe(1735229888.76);
    expect(accepted('2024-12-26T16:18:08.760Z')).toBe(1735229888.76);
    expect(accepted('2024-12-26T16:18:08.7600001Z')).toBe(1735229888.76);
    expect(accepted('2024-12-26T16:18:08.760000999Z')).toBe(1735229888.76);
    rejection('2024-12-26T16:18:08.1234567890Z');
    rejection('2024-12-26T16:18:08.Z');
  });

  test('a naive date-time means UTC', () => {
    expect(accepted('2024-12-26T16:18:08')).toBe(accepted('2024-12-26T16:18:08+00:00'));
    expect(accepted('2024-12-26T16:18:08')).toBe(accepted('2024-12-26T16:18:08Z'));
  });

  test('the offset is applied in the right direction', () => {
    expect(accepted('2024-12-26T16:18:08+01:00')).toBe(1735229888 - 3600);
    expect(accepted('2024-12-26T16:18:08-01:00')).toBe(1735229888 + 3600);
  });

  test('impossible dates and times are rejected', () => {
    expect(rejection('2023-02-30T00:00:00')).toMatch(/no such date/);
    rejection('2023-02-29T00:00:00'); // 2023 is not a leap year
    rejection('2100-02-29T00:00:00'); // nor is 2100
    rejection('2024-13-01T00:00:00');
    rejection('2024-00-10T00:00:00');
    rejection('2024-04-31T00:00:00');
    expect(rejection('2024-12-26T24:00:00')).toMatch(/no such time/);
    rejection('2024-12-26T23:60:00');
    rejection('2024-12-26T23:59:60');
    rejection('2024-12-26T16:18:08+24:00');
    rejection('2024-12-26T16:18:08+05:60');
  });

  test('dates before or at the epoch are rejected', () => {
    rejection('1970-01-01T00:00:00Z');
    rejection('1969-12-31T23:59:59Z');
    rejection('0001-01-01T00:00:00');
    rejection('1970-01-01T00:30:00+01:00');
  });

  test('malformed strings are rejected with an example of the expected form', () => {
    const malformed = [
      '',
      ' ',
      'yesterday',
      '2024-12-26',
      '2024-12-26T',
      '2024/12/26 16:18:08',
      '24-12-26T16:18:08',
      '2024-12-26T16:18:08 +00:00',
      '2024-12-26T16:18:08+00',
      '2024-12-26T16:18:08+0:00',
      ' 2024-12-26T16:18:08Z',
      '2024-12-26T16:18:08Z ',
      '2024-12-26T16:18:08ZZ',
      '1735229888.',
      '.5',
      '1e9',
      '0x10',
      'NaN',
      'Infinity',
    ];
    for (const text of malformed) {
      expect(rejection(text), text).toMatch(/ISO-8601|epoch|finite/);
    }
    expect(rejection('yesterday')).toContain('2024-12-26T16:18:08.760000+00:00');
  });
});

describe('parseUpdatedAt: other types', () => {
  test.each([
    [null, 'null'],
    [undefined, 'a undefined'],
    [true, 'a boolean'],
    [false, 'a boolean'],
    [[1735229888], 'an array'],
    [{ seconds: 1735229888 }, 'a object'],
    [1735229888n, 'a bigint'],
  ])('%o is rejected and named', (value, kind) => {
    const message = rejection(value);
    expect(message).toContain(kind);
    expect(message).toMatch(/number of seconds since the epoch or an ISO-8601 string/);
  });
});

describe('formatTimestamp', () => {
  test('always has a fractional part, like Python json.dumps of a float', () => {
    expect(formatTimestamp(1735229888)).toBe('1735229888.0');
    expect(formatTimestamp(1735229888.76)).toBe('1735229888.76');
    expect(formatTimestamp(1673546802.02806)).toBe('1673546802.02806');
    expect(formatTimestamp(0.1)).toBe('0.1');
    expect(formatTimestamp(253402300799)).toBe('253402300799.0');
  });

  test('never uses exponent form', () => {
    expect(formatTimestamp(1e-6)).toBe('0.000001');
    expect(formatTimestamp(1.5e-7)).toBe('0.00000015');
    expect(formatTimestamp(5e-324)).toBe(`0.${'0'.repeat(323)}5`);
    expect(formatTimestamp(1.2345e-10)).toBe('0.00000000012345');
    expect(formatTimestamp(1e21)).toBe('1000000000000000000000.0');
    expect(Number(formatTimestamp(5e-324))).toBe(5e-324);
  });

  test('refuses non-finite numbers', () => {
    expect(() => formatTimestamp(Number.NaN)).toThrow(RangeError);
    expect(() => formatTimestamp(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});
