import { type Http2ServerRequest, constants as http2Constants } from 'node:http2';
import { parseEventId, validateEnvironmentKey } from '@flagsmith-rt/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Broker } from '../broker/broker.js';
import { HttpError, type RefusalHeaders, refusalHeaders, unavailable } from '../errors.js';
import { pendingHttp1Stream } from '../fanout/http1-sink.js';
import { pendingHttp2Stream } from '../fanout/http2-sink.js';
import type { Hub } from '../fanout/hub.js';
import type { Stats } from '../fanout/stats.js';
import type { RefusalHolds } from '../http/refusal-hold.js';

/** Route params of the environment routes. */
export interface EnvironmentParams {
  /** The raw environment key from the path. */
  environment: string;
}

/** Query of the stream route. */
export interface StreamQuery {
  /** The id of the last event received, as EventSource polyfills send it. */
  lastEventId?: string | string[];
}

/** What the stream route needs besides the hub. */
export interface StreamRouteOptions {
  /** Whose state admits new streams. */
  broker: Broker;
  /** Where refusals are counted. */
  stats: Stats;
  /** Where refusals wait before they are answered. */
  holds: RefusalHolds;
  /** Open streams beyond this many are refused. */
  maxSubscribers: number | undefined;
  /** `Retry-After` of the refusals, in seconds. */
  retryAfterSeconds: number;
}

/** Why a new stream would be refused now: the one admission rule of every path that opens streams. */
export type StreamRefusal = 'shutting_down' | 'broker_unavailable' | 'too_many_subscribers';

/**
 * Whether `hub` can take a new stream now, and if not why: it is draining, the
 * broker is not ready, or it holds `maxSubscribers` streams. Shared by the
 * route and by servers that accept streams before Fastify (apps/sse's fast path).
 */
export function streamRefusal(
  hub: Pick<Hub, 'closing' | 'subscriberCount'>,
  broker: Pick<Broker, 'state'>,
  maxSubscribers: number | undefined,
): StreamRefusal | undefined {
  if (hub.closing) return 'shutting_down';
  if (broker.state !== 'ready') return 'broker_unavailable';
  if (maxSubscribers !== undefined && hub.subscriberCount >= maxSubscribers) {
    return 'too_many_subscribers';
  }
  return undefined;
}

/**
 * `GET /sse/environments/:environment/stream`: validates the key, refuses
 * with `503` when no stream can be served, then takes over the socket
 * (HTTP/1.x) or the HTTP/2 stream and hands it to {@link Hub.subscribe},
 * which writes the head and the first frames.
 */
export function streamHandler(hub: Hub, options: StreamRouteOptions) {
  const { broker, stats, holds, maxSubscribers } = options;
  const http2Headers = refusalHeaders(options.retryAfterSeconds);
  // A refused HTTP/1.1 connection is not reused (HTTP/2 forbids the field).
  const http1Headers = refusalHeaders(options.retryAfterSeconds, true);

  const admissionError = (headers: RefusalHeaders): HttpError | undefined => {
    const refusal = streamRefusal(hub, broker, maxSubscribers);
    if (refusal === 'shutting_down') {
      return new HttpError(503, refusal, 'This instance is shutting down; reconnect.', headers);
    }
    if (refusal === 'broker_unavailable') return unavailable(headers, broker.state);
    if (refusal === 'too_many_subscribers') {
      return new HttpError(
        503,
        refusal,
        'This instance serves its maximum number of streams; retry later.',
        headers,
      );
    }
    return undefined;
  };

  return (
    request: FastifyRequest<{ Params: EnvironmentParams; Querystring: StreamQuery }>,
    reply: FastifyReply,
  ): void | Promise<void> => {
    const key = validateEnvironmentKey(request.params.environment);
    if (!key.ok) throw new HttpError(400, key.error.code, key.error.message);
    // Only a real HTTP/2 stream takes the HTTP/2 path: an HTTP/1 request line may claim any version.
    const http2Stream = (request.raw as { stream?: Http2ServerRequest['stream'] }).stream;
    if (http2Stream === undefined && request.raw.httpVersionMajor !== 1) {
      throw new HttpError(
        400,
        'bad_request',
        `HTTP/${request.raw.httpVersion} is not spoken in an HTTP/1 request; use HTTP/1.1, or HTTP/2 framing.`,
      );
    }
    const refusal = admissionError(http2Stream ? http2Headers : http1Headers);
    if (refusal) {
      stats.shed(refusal.code);
      return holdThenRefuse(holds, reply, refusal);
    }
    reply.hijack();
    // HTTP/1.x: the raw socket (the hot path), chunked unless HTTP/1.0, which has no
    // chunked coding. HTTP/2: the request's own stream, with its own framing.
    const stream =
      http2Stream !== undefined
        ? pendingHttp2Stream(http2Stream)
        : pendingHttp1Stream(request.raw.socket, request.raw.httpVersionMinor >= 1);
    hub.subscribe(stream, key.value, lastEventIdOf(request));
  };
}

/**
 * Answers `refusal` after the hold (REFUSAL.md), so that SDKs that reconnect
 * with no delay cannot turn refusals into a storm. Over the bound, the
 * connection (HTTP/2: the stream) is closed unanswered; a client that left
 * during the hold gets nothing.
 */
function holdThenRefuse(
  holds: RefusalHolds,
  reply: FastifyReply,
  refusal: HttpError,
): Promise<void> | undefined {
  const held = holds.hold((release) => reply.raw.once('close', release));
  if (held === undefined) {
    reply.hijack();
    const http2Stream = (reply.request.raw as { stream?: Http2ServerRequest['stream'] }).stream;
    if (http2Stream) http2Stream.close(http2Constants.NGHTTP2_REFUSED_STREAM);
    else reply.request.raw.socket.destroy();
    return undefined;
  }
  return held.then(() => {
    if (reply.raw.destroyed) {
      reply.hijack();
      return;
    }
    throw refusal;
  });
}

/** `Last-Event-ID` header, else `?lastEventId=`; invalid values are ignored. */
function lastEventIdOf(request: FastifyRequest<{ Querystring: StreamQuery }>): number | undefined {
  const header = request.headers['last-event-id'];
  const fromQuery = request.query?.lastEventId;
  const raw =
    typeof header === 'string' && header.length > 0
      ? header
      : Array.isArray(fromQuery)
        ? fromQuery[0]
        : fromQuery;
  const parsed = parseEventId(raw);
  return parsed.ok ? parsed.value : undefined;
}
