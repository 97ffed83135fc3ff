import { describe, expect, test } from 'vitest';
import {
  encodeRetryFrame,
  encodeUpdateData,
  encodeUpdateFrame,
  KEEPALIVE_FRAME,
  KEEPALIVE_FRAME_TEXT,
  UPDATE_EVENT,
  updateFrameText,
} from '../src/index.js';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const bytesOf = (s: string): number[] => [...new TextEncoder().encode(s)];

describe('update frame (PROTOCOL.md "The stream")', () => {
  test('is exactly the documented bytes', () => {
    const frame = encodeUpdateFrame(1735229888.76);
    expect(frame).toBeInstanceOf(Uint8Array);
    expect([...frame]).toEqual(
      bytesOf('event: environment_updated\ndata: {"updated_at": 1735229888.76}\n\n'),
    );
  });

  test('with id: carries the same number on an id line before the blank line', () => {
    expect(text(encodeUpdateFrame(1735229888.76, { id: true }))).toBe(
      'event: environment_updated\ndata: {"updated_at": 1735229888.76}\nid: 1735229888.76\n\n',
    );
  });

  test('without the option there is no id line', () => {
    expect(text(encodeUpdateFrame(1735229888.76, { id: false }))).not.toContain('id:');
    expect(text(encodeUpdateFrame(1735229888.76))).not.toContain('id:');
  });

  test('a whole-second timestamp keeps a fractional part (Flutter ignores integers)', () => {
    expect(updateFrameText(1735229888)).toBe(
      'event: environment_updated\ndata: {"updated_at": 1735229888.0}\n\n',
    );
    expect(updateFrameText(1735229888, { id: true })).toContain('\nid: 1735229888.0\n');
  });

  test('every field has a space after its colon', () => {
    for (const line of updateFrameText(1735229888.5, { id: true }).split('\n').filter(Boolean)) {
      expect(line).toMatch(/^(event|data|id): \S/);
    }
    expect(encodeUpdateData(1735229888.5)).toBe('{"updated_at": 1735229888.5}');
  });

  test('the event name is environment_updated', () => {
    expect(UPDATE_EVENT).toBe('environment_updated');
    expect(updateFrameText(1).split('\n')[0]).toBe('event: environment_updated');
  });

  test('the data line starts with "data: " (Ruby, Go and iOS SDKs read only such lines)', () => {
    expect(updateFrameText(1735229888.76).split('\n')[1]).toMatch(/^data: \{/);
  });

  test('bytes and text agree and end with one blank line (a single write per event)', () => {
    const frameText = updateFrameText(1673546802.02806, { id: true });
    expect(text(encodeUpdateFrame(1673546802.02806, { id: true }))).toBe(frameText);
    expect(frameText.endsWith('\n\n')).toBe(true);
    expect(frameText.slice(0, -2)).not.toContain('\n\n');
  });
});

describe('keep-alive', () => {
  test('is the SSE comment ": ping" and carries no data', () => {
    expect(KEEPALIVE_FRAME_TEXT).toBe(': ping\n\n');
    expect([...KEEPALIVE_FRAME]).toEqual(bytesOf(': ping\n\n'));
    expect(KEEPALIVE_FRAME_TEXT).not.toContain('data');
    expect(KEEPALIVE_FRAME_TEXT.startsWith(':')).toBe(true);
  });
});

describe('retry block', () => {
  test('is a retry field alone, without data', () => {
    expect(text(encodeRetryFrame(3000))).toBe('retry: 3000\n\n');
    expect(text(encodeRetryFrame(0))).toBe('retry: 0\n\n');
    expect(text(encodeRetryFrame(3000))).not.toContain('data');
  });

  test('refuses values that are not whole non-negative milliseconds', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => encodeRetryFrame(bad)).toThrow(RangeError);
    }
  });
});
