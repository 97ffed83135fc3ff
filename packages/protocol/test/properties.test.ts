import { createParser, type EventSourceMessage } from 'eventsource-parser';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  decodeUpdateMessage,
  encodeUpdateMessage,
  formatTimestamp,
  MILLISECONDS_THRESHOLD,
  parseEventId,
  parseUpdatedAt,
  UPDATE_EVENT,
  updateFrameText,
  validateEnvironmentKey,
  YEAR_10000_SECONDS,
} from '../src/index.js';

/** Any double a timestamp can be: (0, 2.5e11] seconds, subnormals included. */
const seconds = fc.double({ min: 0, max: 2.5e11, minExcluded: true, noNaN: true });
/** Whole milliseconds from 1970 to about 2223, where Date and ISO strings are exact. */
const epochMillis = fc.integer({ min: 1, max: 8_000_000_000_000 });

const unwrap = <T>(result: { ok: true; value: T } | { ok: false; error: { message: string } }) => {
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
};

describe('properties', () => {
  test('formatTimestamp: digits, a point, digits; and it reads back to the same double', () => {
    fc.assert(
      fc.property(seconds, (x) => {
        const text = formatTimestamp(x);
        expect(text).toMatch(/^\d+\.\d+$/);
        expect(Number(text)).toBe(x);
      }),
    );
  });

  test('formatTimestamp is the shortest form: JavaScript digits, exponent spelled out', () => {
    fc.assert(
      fc.property(seconds, (x) => {
        // The significant digits, without point, exponent, leading or trailing zeros.
        const significant = (s: string) =>
          s.replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
        expect(significant(formatTimestamp(x))).toBe(significant(String(x)));
      }),
    );
  });

  test('an update frame read by eventsource-parser gives the event and the same timestamp', () => {
    fc.assert(
      fc.property(seconds, fc.boolean(), (x, withId) => {
        const events: EventSourceMessage[] = [];
        createParser({ onEvent: (event) => events.push(event) }).feed(
          updateFrameText(x, { id: withId }),
        );
        expect(events).toHaveLength(1);
        expect(events[0]?.event).toBe(UPDATE_EVENT);
        expect(JSON.parse(events[0]!.data)).toEqual({ updated_at: x });
        if (withId) expect(unwrap(parseEventId(events[0]?.id))).toBe(x);
        else expect(events[0]?.id).toBeUndefined();
      }),
    );
  });

  test('a NATS message decodes to the timestamp it was encoded from (ISO past 2e10)', () => {
    fc.assert(
      fc.property(seconds, (x) => {
        expect(unwrap(decodeUpdateMessage(encodeUpdateMessage(x)))).toBe(x);
      }),
    );
    fc.assert(
      fc.property(fc.double({ min: MILLISECONDS_THRESHOLD, max: 2.5e11, noNaN: true }), (x) => {
        expect(unwrap(decodeUpdateMessage(encodeUpdateMessage(x)))).toBe(x);
      }),
      { numRuns: 2000 },
    );
  });

  test('numbers up to 2e10 are seconds, above are milliseconds, up to the year 10000', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: MILLISECONDS_THRESHOLD, minExcluded: true, noNaN: true }),
        (x) => {
          expect(unwrap(parseUpdatedAt(x))).toBe(x);
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.double({
          min: MILLISECONDS_THRESHOLD,
          max: YEAR_10000_SECONDS * 1000,
          minExcluded: true,
          maxExcluded: true,
          noNaN: true,
        }),
        (ms) => {
          expect(unwrap(parseUpdatedAt(ms))).toBe(ms / 1000);
        },
      ),
    );
  });

  test('an ISO string (Z, naive, or any offset) parses to the instant it names', () => {
    fc.assert(
      fc.property(
        epochMillis,
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        (ms, offset) => {
          const utc = new Date(ms).toISOString(); // 2024-12-26T16:18:08.760Z
          expect(unwrap(parseUpdatedAt(utc))).toBe(ms / 1000);
          expect(unwrap(parseUpdatedAt(utc.slice(0, -1)))).toBe(ms / 1000);
          const local = new Date(ms + offset * 60_000).toISOString().slice(0, -1);
          const sign = offset < 0 ? '-' : '+';
          const hh = String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0');
          const mm = String(Math.abs(offset) % 60).padStart(2, '0');
          expect(unwrap(parseUpdatedAt(`${local}${sign}${hh}:${mm}`))).toBe(ms / 1000);
          expect(unwrap(parseUpdatedAt(`${local}${sign}${hh}${mm}`))).toBe(ms / 1000);
        },
      ),
    );
  });

  test('an ISO string and its number give the same frame', () => {
    fc.assert(
      fc.property(epochMillis, (ms) => {
        const fromIso = unwrap(parseUpdatedAt(new Date(ms).toISOString()));
        const fromMillis = unwrap(parseUpdatedAt(ms > MILLISECONDS_THRESHOLD ? ms : ms / 1000));
        expect(updateFrameText(fromIso)).toBe(updateFrameText(fromMillis));
      }),
    );
  });

  test('environment keys: exactly A-Z a-z 0-9 _ - of 1 to 128 characters are accepted', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/), (key) => {
        expect(validateEnvironmentKey(key)).toEqual({ ok: true, value: key });
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 0, maxLength: 140 }), (key) => {
        expect(validateEnvironmentKey(key).ok).toBe(/^[A-Za-z0-9_-]{1,128}$/.test(key));
      }),
    );
  });
});
