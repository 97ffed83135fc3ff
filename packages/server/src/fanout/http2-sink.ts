import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { CORS_ALLOW_ORIGIN } from '../http/cors.js';
import type { StreamSink } from './subscriber.js';

/**
 * The response headers of a stream over HTTP/2: the same fields as the
 * HTTP/1.1 head, minus `Connection` (a connection-specific field is malformed
 * in HTTP/2, RFC 9113 §8.2.2) and the framing talk: an HTTP/2 body is DATA
 * frames ended by END_STREAM, so there is nothing to choose. Node adds `date`.
 */
export const H2_STREAM_HEADERS: Readonly<OutgoingHttpHeaders> = Object.freeze({
  ':status': 200,
  // [spec] text/event-stream is the only content type an EventSource accepts.
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
  'access-control-allow-origin': CORS_ALLOW_ORIGIN,
});

/**
 * Answers an HTTP/2 stream request: sends the headers, then the first frames
 * (`retry:`, initial event) in one DATA write. Returns the `Http2Stream` as the
 * stream's sink (a Duplex: `write` returns `false` once its buffer is full and
 * `drain` follows, `end` sends END_STREAM, `destroy` resets the stream), or
 * `undefined` if the client already reset it. The connection stays open for
 * the client's other streams.
 */
export function openHttp2Stream(
  stream: ServerHttp2Stream,
  preamble: readonly Uint8Array[],
): StreamSink | undefined {
  if (stream.destroyed || stream.closed || stream.headersSent) return undefined;
  stream.respond({ ...H2_STREAM_HEADERS });
  if (preamble.length > 0) stream.write(Buffer.concat(preamble));
  return stream;
}
