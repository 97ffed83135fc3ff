import { describe, expect, test } from 'vitest';
import { parseEventId } from '../src/index.js';

describe('parseEventId (Last-Event-ID / ?lastEventId=)', () => {
  test('reads the ids the service writes', () => {
    expect(parseEventId('1735229888.76')).toEqual({ ok: true, value: 1735229888.76 });
    expect(parseEventId('1735229888.0')).toEqual({ ok: true, value: 1735229888 });
    expect(parseEventId('1735229888')).toEqual({ ok: true, value: 1735229888 });
    expect(parseEventId(' 1735229888.5 ')).toEqual({ ok: true, value: 1735229888.5 });
  });

  test('rejects anything that is not a positive decimal number', () => {
    const bad = [
      undefined,
      null,
      '',
      '   ',
      '0',
      '0.0',
      '-1735229888',
      '+1735229888',
      '1e9',
      '1735229888.',
      '.5',
      'NaN',
      'Infinity',
      'abc',
      '1735229888.76x',
      '2024-12-26T16:18:08Z',
      '9'.repeat(400),
    ];
    for (const value of bad) {
      expect(parseEventId(value), String(value)).toMatchObject({
        ok: false,
        error: { code: 'invalid_event_id' },
      });
    }
  });
});
