import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { CORS_ALLOW_ORIGIN } from '../http/cors.js';
import type { PendingStream } from './subscriber.js';

/**
 * The response headers of an SSE stream over HTTP/2: the same fields as the
 * HTTP/1.1 head, minus `Connection` (a connection-specific field is malformed
 * in HTTP/2, RFC 9113 §8.2.2) and the framing talk: an HTTP/2 body is DATA
 * frames ended by END_STREAM, so there is nothing to choose. Node adds `date`.
 */
export const H2_RESPONSE_HEADERS: Readonly<OutgoingHttpHeaders> = Object.freeze({
  ':status': 200,
  // [spec] text/event-stream is the only content type an EventSource accepts.
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
  'access-control-allow-origin': CORS_ALLOW_ORIGIN,
});

/**
 * An HTTP/2 stream request, answered as an SSE stream: opening it sends the
 * headers, then the first frames in one DATA write. The `Http2Stream` is the
 * sink (a Duplex: `write` returns `false` once its buffer is full and `drain`
 * follows, `end` sends END_STREAM, `destroy` resets the stream); opening gives
 * `undefined` if the client already reset it. The connection stays open for
 * the client's other streams.
 */
export function pendingHttp2Stream(stream: ServerHttp2Stream): PendingStream {
  return {
    chunked: false,
    open(first) {
      if (stream.destroyed || stream.closed || stream.headersSent) return undefined;
      stream.respond({ ...H2_RESPONSE_HEADERS });
      if (first.length > 0) stream.write(Buffer.concat(first));
      return stream;
    },
  };
}
