import { describe, expect, test } from 'vitest';
import {
  decodeUpdateMessage,
  encodeUpdateMessage,
  parsePublishBody,
  parsePublishPayload,
  parseUpdatedAt,
} from '../src/index.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('parsePublishBody (PROTOCOL.md "Publishing")', () => {
  test('reads the bodies the Flagsmith API sends, as text or bytes', () => {
    expect(parsePublishBody('{"updated_at": 1735229888.76}')).toEqual({
      ok: true,
      value: { updatedAt: 1735229888.76 },
    });
    expect(parsePublishBody(utf8('{"updated_at": "2024-12-26T16:18:08.760000+00:00"}'))).toEqual({
      ok: true,
      value: { updatedAt: 1735229888.76 },
    });
    expect(parsePublishBody('{"updated_at":"2023-01-12T18:06:42.028060"}')).toEqual({
      ok: true,
      value: { updatedAt: 1673546802.02806 },
    });
    expect(parsePublishBody(' {"updated_at": 1735229888760}\n')).toEqual({
      ok: true,
      value: { updatedAt: 1735229888.76 },
    });
  });

  test('ignores extra fields', () => {
    expect(
      parsePublishBody('{"environment": "abc", "updated_at": 1735229888, "extra": [1, {}]}'),
    ).toEqual({ ok: true, value: { updatedAt: 1735229888 } });
  });

  test('rejects a body that is not JSON', () => {
    for (const body of [
      '',
      'updated_at=1735229888',
      '{"updated_at": 1735229888',
      '{updated_at: 1}',
      'NaN',
    ]) {
      const result = parsePublishBody(body);
      expect(result.ok, body).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe('invalid_json');
        expect(result.error.message).toContain('{"updated_at": <timestamp>}');
      }
    }
  });

  test('rejects bytes that are not UTF-8', () => {
    const body = new Uint8Array([...utf8('{"updated_at": "'), 0xff, 0xfe, ...utf8('"}')]);
    expect(parsePublishBody(body)).toEqual({
      ok: false,
      error: { code: 'invalid_json', message: 'The body is not valid UTF-8.' },
    });
    // A lone continuation byte and a truncated sequence are not UTF-8 either.
    expect(parsePublishBody(new Uint8Array([0x7b, 0x80, 0x7d])).ok).toBe(false);
    expect(parsePublishBody(new Uint8Array([0x7b, 0xe2, 0x82])).ok).toBe(false);
  });

  test('rejects JSON that is not an object', () => {
    for (const body of [
      '1735229888',
      '"2024-12-26T16:18:08Z"',
      'null',
      'true',
      '[1735229888]',
      '[]',
    ]) {
      const result = parsePublishBody(body);
      expect(result, body).toMatchObject({ ok: false, error: { code: 'invalid_body' } });
    }
  });

  test('rejects an object without updated_at, naming the field', () => {
    for (const body of ['{}', '{"updatedAt": 1735229888}', '{"UPDATED_AT": 1735229888}']) {
      expect(parsePublishBody(body)).toEqual({
        ok: false,
        error: { code: 'missing_updated_at', message: 'The body has no "updated_at" field.' },
      });
    }
  });

  test('does not take updated_at from the prototype', () => {
    expect(parsePublishPayload(Object.create({ updated_at: 1735229888 }))).toMatchObject({
      ok: false,
      error: { code: 'missing_updated_at' },
    });
  });

  test('passes the value through parseUpdatedAt', () => {
    for (const value of ['null', '0', '-5', '"soon"', '1e400', 'false', '{}', '253402300800000']) {
      const result = parsePublishBody(`{"updated_at": ${value}}`);
      expect(result, value).toMatchObject({ ok: false, error: { code: 'invalid_updated_at' } });
    }
  });
});

describe('NATS update message', () => {
  test('is the same JSON as the event data', () => {
    expect(new TextDecoder().decode(encodeUpdateMessage(1735229888))).toBe(
      '{"updated_at": 1735229888.0}',
    );
  });

  test('decodes back to the same timestamp', () => {
    for (const seconds of [1735229888, 1735229888.76, 1673546802.02806, 0.000001, 2e10]) {
      expect(decodeUpdateMessage(encodeUpdateMessage(seconds))).toEqual({
        ok: true,
        value: seconds,
      });
    }
  });

  test('writes seconds above 2e10 (dates after 2603) as ISO, which reads back as seconds', () => {
    const year9999 = parseUpdatedAt('9999-12-31T23:59:59Z');
    expect(year9999).toEqual({ ok: true, value: 253402300799 });
    expect(new TextDecoder().decode(encodeUpdateMessage(253402300799))).toBe(
      '{"updated_at": "9999-12-31T23:59:59.000000Z"}',
    );
    expect(decodeUpdateMessage(encodeUpdateMessage(253402300799))).toEqual({
      ok: true,
      value: 253402300799,
    });
    for (const seconds of [2e10 + 0.5, 30000000000.123455, 178809642711.24072, 253402300799.99]) {
      expect(decodeUpdateMessage(encodeUpdateMessage(seconds))).toEqual({
        ok: true,
        value: seconds,
      });
    }
  });

  test('accepts every payload form a queue-change body accepts (direct publishers)', () => {
    const forms: Array<[string, number]> = [
      ['{"updated_at": 1735229888.76}', 1735229888.76],
      ['{"updated_at": 1735229888}', 1735229888],
      ['{"updated_at": 1735229888760}', 1735229888.76],
      ['{"updated_at": "1735229888.76"}', 1735229888.76],
      ['{"updated_at": "2024-12-26T16:18:08.760000+00:00"}', 1735229888.76],
      ['{"updated_at": "2024-12-26T16:18:08.76Z"}', 1735229888.76],
      ['{"updated_at": "2023-01-12T18:06:42.028060"}', 1673546802.02806],
      ['{"updated_at": 1735229888.76, "environment": "x", "by": "task-processor"}', 1735229888.76],
    ];
    for (const [payload, seconds] of forms) {
      expect(decodeUpdateMessage(utf8(payload)), payload).toEqual({ ok: true, value: seconds });
    }
  });

  test('refuses a payload that is not an update', () => {
    expect(decodeUpdateMessage(utf8('hello')).ok).toBe(false);
    for (const payload of [
      '{"updated_at": 0}',
      '{"updated_at": -1}',
      '{"updated_at": "yesterday"}',
      '{"updated_at": null}',
      '{"updated_at": 1e20}',
      '{}',
      '[1735229888]',
      '1735229888',
    ]) {
      expect(decodeUpdateMessage(utf8(payload)).ok, payload).toBe(false);
    }
    expect(decodeUpdateMessage(new Uint8Array([0xff])).ok).toBe(false);
  });
});
