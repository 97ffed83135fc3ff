import { type Http2ServerRequest, constants as http2Constants } from 'node:http2';
import {
  encodeChunk,
  encodeRetryFrame,
  parseEventId,
  validateEnvironmentKey,
} from '@flagsmith-rt/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { brokerUnavailableMessage } from '../broker/broker.js';
import { HttpError } from '../errors.js';
import { openHttp1Stream } from '../fanout/http1-sink.js';
import { openHttp2Stream } from '../fanout/http2-sink.js';
import type { Hub } from '../fanout/hub.js';
import type { RefusalHolds } from '../http/refusal-hold.js';
import type { ResolvedOptions } from '../options.js';

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

/**
 * `GET /sse/environments/:environment/stream`: validates the key, refuses
 * with `503` when no stream can be served, then takes over the socket (HTTP/1.x)
 * or the HTTP/2 stream, writes the head, `retry:` and the initial event, and
 * hands it to the hub.
 */
export function streamHandler(hub: Hub, options: ResolvedOptions, holds: RefusalHolds) {
  const retryFrame = options.retryMs === undefined ? undefined : encodeRetryFrame(options.retryMs);
  const retryChunk = retryFrame && encodeChunk(retryFrame);
  const retryAfter = { 'retry-after': String(options.retryAfterSeconds) };
  // A refused HTTP/1.1 connection is not reused (HTTP/2 forbids the field).
  const retryAfterClose = { ...retryAfter, connection: 'close' };

  return (
    request: FastifyRequest<{ Params: EnvironmentParams; Querystring: StreamQuery }>,
    reply: FastifyReply,
  ): void | Promise<void> => {
    const key = validateEnvironmentKey(request.params.environment);
    if (!key.ok) throw new HttpError(400, key.error.code, key.error.message);
    const environment = key.value;
    // Only a real HTTP/2 stream takes the HTTP/2 path: an HTTP/1 request line may claim any version.
    const http2Stream = (request.raw as { stream?: Http2ServerRequest['stream'] }).stream;
    if (http2Stream === undefined && request.raw.httpVersionMajor !== 1) {
      throw new HttpError(
        400,
        'bad_request',
        `HTTP/${request.raw.httpVersion} is not spoken in an HTTP/1 request; use HTTP/1.1, or HTTP/2 framing.`,
      );
    }
    const refusal = admissionError(hub, options, http2Stream ? retryAfter : retryAfterClose);
    if (refusal) {
      if (refusal.code === 'too_many_subscribers') hub.counters.shedMaxSubscribers++;
      else hub.counters.shedUnavailable++;
      return holdThenRefuse(holds, reply, refusal);
    }

    // Every HTTP/1.1 stream is chunked; HTTP/1.0 has no chunked coding, HTTP/2 its own framing.
    const chunked = http2Stream === undefined && request.raw.httpVersionMinor >= 1;
    const preamble: Uint8Array[] = [];
    if (retryFrame && retryChunk) preamble.push(chunked ? retryChunk : retryFrame);
    const latest = hub.broker.latest(environment);
    // [spec] A reconnecting EventSource sends the last `id:` it saw as Last-Event-ID;
    // the initial event is skipped unless the latest is newer.
    if (latest !== undefined && latest > (lastEventIdOf(request) ?? 0)) {
      const frame = hub.frameFor(latest);
      preamble.push(chunked ? frame.chunked : frame.plain);
      hub.counters.writesData++;
    }

    reply.hijack();
    // HTTP/1.x: the raw socket (the hot path). HTTP/2: the request's own stream.
    const sink =
      http2Stream !== undefined
        ? openHttp2Stream(http2Stream, preamble)
        : openHttp1Stream(request.raw.socket, preamble, chunked);
    // Registered in the same tick as latest() was read: no update can slip between.
    if (sink) hub.add(sink, environment, chunked);
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

function admissionError(
  hub: Hub,
  options: ResolvedOptions,
  retryAfter: Record<string, string>,
): HttpError | undefined {
  if (hub.closing) {
    return new HttpError(
      503,
      'shutting_down',
      'This instance is shutting down; reconnect.',
      retryAfter,
    );
  }
  if (hub.broker.state !== 'ready') {
    return new HttpError(
      503,
      'broker_unavailable',
      brokerUnavailableMessage(hub.broker.state),
      retryAfter,
    );
  }
  if (options.maxSubscribers !== undefined && hub.subscriberCount >= options.maxSubscribers) {
    return new HttpError(
      503,
      'too_many_subscribers',
      'This instance serves its maximum number of streams; retry later.',
      retryAfter,
    );
  }
  return undefined;
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
