import { decodeUpdateData, UPDATE_EVENT } from '@flagsmith-rt/protocol';
import { EventError } from './errors.js';
import type { SseMessage } from './sse-parser.js';

/**
 * The timestamp an SSE message carries, or the {@link EventError} saying why
 * it is ignored: only `environment_updated` with `{"updated_at": <seconds>}`
 * counts. The data is read by the protocol's own decoder, the one the server
 * reads its NATS messages with.
 */
export function readUpdate(message: SseMessage): number | EventError {
  if (message.event !== UPDATE_EVENT) {
    return new EventError(
      'unknown_event',
      `Ignored an event named "${message.event ?? 'message'}".`,
      true,
    );
  }
  const decoded = decodeUpdateData(message.data);
  return decoded.ok
    ? decoded.value
    : new EventError(
        'malformed_event',
        `Ignored an ${UPDATE_EVENT} event: ${decoded.error.message} Data: ${message.data.slice(0, 100)}`,
        true,
      );
}
