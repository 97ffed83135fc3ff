import type { Socket } from 'node:net';
import { CORS_ALLOW_ORIGIN } from './cors.js';
import type { StreamSink } from './subscriber.js';

/**
 * The response head of a stream, written by hand on the raw socket. No
 * `Content-Length` and no `Transfer-Encoding`: the body is every byte until
 * the connection closes (RFC 9112 §6.3, rule 8), so each event goes out as
 * its own bytes with no chunk framing around it. `Connection: close` says so
 * to the client and to proxies: the connection cannot be reused after a
 * close-delimited body (RFC 9112 §9.3, §9.6). Never compressed.
 */
export function streamHead(date: Date): string {
  // [spec] text/event-stream is the only content type an EventSource accepts.
  return (
    'HTTP/1.1 200 OK\r\n' +
    'Content-Type: text/event-stream\r\n' +
    'Cache-Control: no-cache\r\n' +
    'X-Accel-Buffering: no\r\n' +
    `Access-Control-Allow-Origin: ${CORS_ALLOW_ORIGIN}\r\n` +
    `Date: ${date.toUTCString()}\r\n` +
    'Connection: close\r\n' +
    '\r\n'
  );
}

/**
 * Takes over the socket of an HTTP/1.x request and writes the head and the
 * first frames (`retry:`, initial event) in a single write. Returns the
 * socket as the stream's sink, or `undefined` if the client already left.
 */
export function openHttp1Stream(
  socket: Socket,
  preamble: readonly Uint8Array[],
): StreamSink | undefined {
  if (socket.destroyed || !socket.writable) return undefined;
  const head = Buffer.from(streamHead(new Date()), 'latin1');
  socket.write(preamble.length === 0 ? head : Buffer.concat([head, ...preamble]));
  return socket;
}
