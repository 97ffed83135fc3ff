import { encodeChunk } from '@flagsmith-rt/protocol';

/**
 * The bytes of one frame, built once: `plain` for HTTP/2 and HTTP/1.0
 * streams, `chunked` (the same frame as one HTTP/1.1 chunk) for the rest.
 */
export interface Frame {
  readonly plain: Buffer;
  readonly chunked: Buffer;
}

/** A frame both ways. */
export function frameOf(plain: Uint8Array): Frame {
  return { plain: toBuffer(plain), chunked: toBuffer(encodeChunk(plain)) };
}

/** The bytes of `frame` for a stream that is `chunked` or not. */
export function pick(frame: Frame, chunked: boolean): Buffer {
  return chunked ? frame.chunked : frame.plain;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
