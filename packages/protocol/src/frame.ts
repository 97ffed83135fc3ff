import { encodeChunk } from './chunk.js';
import { UPDATE_EVENT, UPDATED_AT_FIELD } from './constants.js';
import { formatTimestamp } from './timestamp.js';

const encoder = new TextEncoder();

/** Options of {@link encodeUpdateFrame}. */
export interface UpdateFrameOptions {
  /**
   * Add an `id:` line carrying the same timestamp, so that a reconnecting
   * client can send it back as `Last-Event-ID`.
   * @defaultValue false
   */
  id?: boolean;
}

/** The `data:` payload of an update: `{"updated_at": 1735229888.76}` (Python's JSON spacing). */
export function encodeUpdateData(updatedAt: number): string {
  return `{"${UPDATED_AT_FIELD}": ${formatTimestamp(updatedAt)}}`;
}

/**
 * The complete bytes of one update event, ready to be written unchanged to
 * every subscriber in a single write:
 *
 * ```text
 * event: environment_updated
 * data: {"updated_at": 1735229888.76}
 *
 * ```
 */
export function encodeUpdateFrame(updatedAt: number, options: UpdateFrameOptions = {}): Uint8Array {
  return encoder.encode(updateFrameText(updatedAt, options));
}

/** The text of {@link encodeUpdateFrame}. */
export function updateFrameText(updatedAt: number, options: UpdateFrameOptions = {}): string {
  const id = options.id ? `id: ${formatTimestamp(updatedAt)}\n` : '';
  return `event: ${UPDATE_EVENT}\ndata: ${encodeUpdateData(updatedAt)}\n${id}\n`;
}

/** The keep-alive text: an SSE comment, never `data:` (the Python SDK treats any data as an update). */
export const KEEPALIVE_FRAME_TEXT = ': ping\n\n';
/** The keep-alive bytes. */
export const KEEPALIVE_FRAME: Uint8Array = encoder.encode(KEEPALIVE_FRAME_TEXT);
/** The keep-alive as one HTTP/1.1 chunk, for chunked streams. */
export const KEEPALIVE_CHUNK: Uint8Array = encodeChunk(KEEPALIVE_FRAME);

/** A `retry:` block, without `data:`, telling EventSource clients how long to wait before reconnecting. */
export function encodeRetryFrame(milliseconds: number): Uint8Array {
  if (!Number.isInteger(milliseconds) || milliseconds < 0) {
    throw new RangeError(
      `retry must be a non-negative integer of milliseconds, got ${milliseconds}`,
    );
  }
  return encoder.encode(`retry: ${milliseconds}\n\n`);
}
