import type { Socket } from 'node:net';
import { parseEventId, STREAM_ROUTE, validateEnvironmentKey } from '@flagsmith-rt/protocol';
import { pendingHttp1Stream, streamRefusal } from '@flagsmith-rt/server';
import type { FastifyInstance } from 'fastify';

/**
 * Serves a connection's first bytes if they are a plain stream request, and says whether it
 * did; `false` leaves the connection untouched, for the HTTP/1.1 server and Fastify.
 */
export type StreamFastPath = (socket: Socket, firstBytes: Buffer) => boolean;

/** What {@link streamFastPath} checks besides the request itself. */
export interface StreamFastPathOptions {
  /** The plugin's hub (`app.realtimeHub`). */
  hub: FastifyInstance['realtimeHub'];
  /** The plugin's broker (`app.realtimeBroker`): streams are admitted while it is ready. */
  broker: FastifyInstance['realtimeBroker'];
  /** `MAX_SUBSCRIBERS`: at the limit, requests take the normal path (and its held 503). */
  maxSubscribers: number | undefined;
  /** `MAX_HEADER_SIZE`: a longer head takes the normal path (and its 431). */
  maxHeaderBytes: number;
}

const [ROUTE_PREFIX, ROUTE_SUFFIX] = STREAM_ROUTE.split(':environment') as [string, string];
const REQUEST_LINE_START = `GET ${ROUTE_PREFIX}`;
const REQUEST_LINE_END = `${ROUTE_SUFFIX} HTTP/1.1`;
/** RFC 9110 §5.1 field names (tokens). */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Control characters other than tab may not appear in a field value (RFC 9110 §5.5). */
const BAD_FIELD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
/**
 * Fields that change how the request is served (a body, a protocol switch, an expectation):
 * requests with them take the normal path.
 */
const NORMAL_PATH_FIELDS = new Set(['content-length', 'transfer-encoding', 'upgrade', 'expect']);
/** Optional whitespace around a field value (RFC 9110 §5.5). */
const OWS = /^[ \t]+|[ \t]+$/g;

/** A plain stream request: its environment key and the `Last-Event-ID` it sent, if valid. */
export interface PlainStreamRequest {
  environment: string;
  lastEventId: number | undefined;
}

/**
 * The request in `chunk` when it is exactly one complete request head of the plain form
 * `GET /sse/environments/<key>/stream HTTP/1.1`, with a Host field, well-formed fields,
 * none of {@link NORMAL_PATH_FIELDS}, at most one `Last-Event-ID`, a valid key, and no byte
 * after the head; else `undefined` (and the request is served as before: every error
 * answer, limit and special case stays with the HTTP/1.1 server and Fastify).
 */
export function plainStreamRequest(
  chunk: Buffer,
  maxHeaderBytes: number,
): PlainStreamRequest | undefined {
  const n = chunk.length;
  if (n > maxHeaderBytes || n < REQUEST_LINE_START.length + 4) return undefined;
  // The head ends the chunk: nothing pipelined after it, nothing still to come.
  if (chunk[n - 4] !== 13 || chunk[n - 3] !== 10 || chunk[n - 2] !== 13 || chunk[n - 1] !== 10) {
    return undefined;
  }
  const text = chunk.toString('latin1');
  if (!text.startsWith(REQUEST_LINE_START)) return undefined;
  const lineEnd = text.indexOf('\r\n');
  const requestLine = text.slice(0, lineEnd);
  if (!requestLine.endsWith(REQUEST_LINE_END)) return undefined;
  const key = requestLine.slice(REQUEST_LINE_START.length, -REQUEST_LINE_END.length);
  // The key pattern leaves out `/`, `?`, `%`: no query, no percent-decoding, one path form.
  if (!validateEnvironmentKey(key).ok) return undefined;
  let hasHost = false;
  let lastEventIdField: string | undefined;
  let at = lineEnd + 2;
  while (at < n - 2) {
    const end = text.indexOf('\r\n', at);
    const line = text.slice(at, end);
    at = end + 2;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon);
    if (!FIELD_NAME.test(name) || BAD_FIELD_VALUE.test(line.slice(colon + 1))) return undefined;
    const lower = name.toLowerCase();
    if (NORMAL_PATH_FIELDS.has(lower)) return undefined;
    if (lower === 'host') {
      hasHost = true;
    } else if (lower === 'last-event-id') {
      // Node would join repeated fields with ", ": no valid id either way; leave it to Node.
      if (lastEventIdField !== undefined) return undefined;
      lastEventIdField = line.slice(colon + 1).replace(OWS, '');
    }
  }
  if (!hasHost) return undefined;
  // As the route reads it: an empty or invalid Last-Event-ID counts as none.
  const parsed = lastEventIdField ? parseEventId(lastEventIdField) : undefined;
  return { environment: key, lastEventId: parsed?.ok ? parsed.value : undefined };
}

/**
 * The stream route of `@flagsmith-rt/server` for the plain requests
 * {@link plainStreamRequest} accepts, without the HTTP/1.1 server and
 * Fastify: the same admission, the same sink (`pendingHttp1Stream`: head and
 * first frames in one write) and the same `hub.subscribe`. Each accepted
 * stream then costs no HTTP parser, no request and reply objects, no routing,
 * hooks or child logger: about half of the CPU of accepting a stream (19,000
 * at once on Node 24: 710-780 ms of server CPU against 1,430-1,650 ms through
 * Fastify). A request the instance would refuse (shutting down, NATS not
 * ready, `MAX_SUBSCRIBERS` reached) takes the normal path, which holds and
 * answers the 503 and counts it.
 */
export function streamFastPath(options: StreamFastPathOptions): StreamFastPath {
  const { hub, broker, maxSubscribers, maxHeaderBytes } = options;
  return (socket, firstBytes) => {
    if (streamRefusal(hub, broker, maxSubscribers) !== undefined) return false;
    const request = plainStreamRequest(firstBytes, maxHeaderBytes);
    if (request === undefined) return false;
    hub.subscribe(pendingHttp1Stream(socket, true), request.environment, request.lastEventId);
    // Read on and drop what arrives, as node:http does: a paused socket stops reading once
    // 16 KiB wait in it, and would then miss the client's FIN behind them. The socket is
    // flowing already (its first bytes came in a `data` event); this keeps it so.
    if (socket.isPaused()) socket.resume();
    return true;
  };
}
