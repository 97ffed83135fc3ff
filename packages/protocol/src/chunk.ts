const encoder = new TextEncoder();

/**
 * One HTTP/1.1 chunk carrying `bytes`: the size in hex, CRLF, the bytes, CRLF
 * (RFC 9112 §7.1). A stream frame is wrapped once, when it is built, so that
 * every subscriber still gets one prebuilt buffer in one write.
 */
export function encodeChunk(bytes: Uint8Array): Uint8Array {
  // [spec] chunk = chunk-size CRLF chunk-data CRLF; an empty chunk would end the body.
  if (bytes.byteLength === 0) throw new RangeError('a chunk must carry at least one byte');
  const sizeLine = encoder.encode(`${bytes.byteLength.toString(16)}\r\n`);
  const chunk = new Uint8Array(sizeLine.byteLength + bytes.byteLength + 2);
  chunk.set(sizeLine, 0);
  chunk.set(bytes, sizeLine.byteLength);
  chunk[chunk.byteLength - 2] = 0x0d;
  chunk[chunk.byteLength - 1] = 0x0a;
  return chunk;
}

/** The last-chunk that ends a chunked body gracefully, with no trailers (RFC 9112 §7.1). */
export const LAST_CHUNK: Uint8Array = encoder.encode('0\r\n\r\n');
