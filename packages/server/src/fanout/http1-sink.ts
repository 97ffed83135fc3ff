import type { Socket } from 'node:net';
import { CORS_ALLOW_ORIGIN } from '../http/cors.js';
import type { PendingStream } from './subscriber.js';

/**
 * The response head of an HTTP/1.x stream, written by hand on the raw socket.
 * Never compressed, and `Connection: close`: the socket is the stream's, it is
 * closed when the stream ends and never reused (RFC 9112 §9.6).
 *
 * `chunked` (every HTTP/1.1 request): `Transfer-Encoding: chunked`, so a
 * client that reads in fixed-size blocks (the Python SDK via urllib3) gets
 * each event as soon as its chunk arrives. Each chunk is prebuilt with its
 * frame, so this costs no extra write. Otherwise (HTTP/1.0, which has no
 * chunked coding, RFC 9112 §7.1) the body is close-delimited: every byte until
 * the connection closes (RFC 9112 §6.3, rule 8).
 */
export function http1ResponseHead(date: Date, chunked: boolean): string {
  // [spec] text/event-stream is the only content type an EventSource accepts.
  return (
    'HTTP/1.1 200 OK\r\n' +
    'Content-Type: text/event-stream\r\n' +
    'Cache-Control: no-cache\r\n' +
    'X-Accel-Buffering: no\r\n' +
    `Access-Control-Allow-Origin: ${CORS_ALLOW_ORIGIN}\r\n` +
    `Date: ${date.toUTCString()}\r\n` +
    (chunked ? 'Transfer-Encoding: chunked\r\n' : '') +
    'Connection: close\r\n' +
    '\r\n'
  );
}

/**
 * The socket of an HTTP/1.x request, taken over as a stream: opening it
 * writes the head and the first frames (already chunked if `chunked`) in a
 * single write, and the socket itself is the stream's sink.
 */
export function pendingHttp1Stream(socket: Socket, chunked: boolean): PendingStream {
  return {
    chunked,
    open(first, now) {
      if (socket.destroyed || !socket.writable) return undefined;
      socket.write(openingBytes(now, chunked, first));
      return socket;
    },
  };
}

/**
 * The last opening write built, for each framing: its second (the `Date`), the
 * first frames it was built with, and the bytes. Streams that open in the same
 * second with the same first frames (a reconnect storm on one environment) get
 * the same bytes, built once: no Date string, head or concatenation per
 * stream. The bytes are never changed after they are built, so one buffer can
 * be queued on many sockets.
 */
interface Opening {
  second: number;
  first: readonly Uint8Array[];
  head: Buffer;
  bytes: Buffer;
}

const lastOpening: { chunked: Opening | undefined; plain: Opening | undefined } = {
  chunked: undefined,
  plain: undefined,
};

/** The head at `now` (epoch milliseconds) followed by `first`, as one buffer. */
function openingBytes(now: number, chunked: boolean, first: readonly Uint8Array[]): Buffer {
  const second = Math.floor(now / 1000);
  const last = chunked ? lastOpening.chunked : lastOpening.plain;
  if (last !== undefined && last.second === second && sameFrames(last.first, first)) {
    return last.bytes;
  }
  const head =
    last !== undefined && last.second === second
      ? last.head
      : Buffer.from(http1ResponseHead(new Date(now), chunked), 'latin1');
  const bytes = first.length === 0 ? head : Buffer.concat([head, ...first]);
  const opening = { second, first, head, bytes };
  if (chunked) lastOpening.chunked = opening;
  else lastOpening.plain = opening;
  return bytes;
}

function sameFrames(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
