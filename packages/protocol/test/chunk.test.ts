import { describe, expect, test } from 'vitest';
import {
  encodeChunk,
  encodeUpdateFrame,
  KEEPALIVE_CHUNK,
  KEEPALIVE_FRAME,
  LAST_CHUNK,
} from '../src/index.js';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

describe('HTTP/1.1 chunks (PROTOCOL.md "The stream": one chunk per event or keep-alive)', () => {
  test('an update is one chunk: hex size, CRLF, the exact frame, CRLF', () => {
    const frame = encodeUpdateFrame(1735229888.76, { id: true });
    expect(frame.byteLength).toBe(0x52);
    expect(text(encodeChunk(frame))).toBe(
      '52\r\nevent: environment_updated\ndata: {"updated_at": 1735229888.76}\nid: 1735229888.76\n\n\r\n',
    );
  });

  test('sizes are lower-case hex with no padding', () => {
    expect(text(encodeChunk(new Uint8Array(255).fill(0x61))).slice(0, 4)).toBe('ff\r\n');
    expect(text(encodeChunk(new Uint8Array(1).fill(0x61)))).toBe('1\r\na\r\n');
  });

  test('the keep-alive chunk wraps the comment, and the last-chunk ends the body', () => {
    expect(text(KEEPALIVE_CHUNK)).toBe(
      `${KEEPALIVE_FRAME.byteLength.toString(16)}\r\n: ping\n\n\r\n`,
    );
    expect(text(LAST_CHUNK)).toBe('0\r\n\r\n');
  });

  test('refuses an empty chunk, which would end the body', () => {
    expect(() => encodeChunk(new Uint8Array(0))).toThrow(RangeError);
  });
});
