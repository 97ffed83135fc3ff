import {
  parsePublishBody,
  QUEUE_CHANGE_ROUTE,
  validateEnvironmentKey,
} from '@flagsmith-rt/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Broker, PublishOutcome } from '../broker/broker.js';
import { HttpError, refusalHeaders, unauthorized, unavailable } from '../errors.js';
import type { Stats } from '../fanout/stats.js';
import type { TokenVerifier } from '../http/auth.js';
import { environmentRouteKey } from '../http/error-handler.js';
import type { EnvironmentParams } from './stream.js';

/** The JSON answer of a successful publish. */
export interface PublishResponse {
  /** The timestamp as stored, epoch seconds. */
  updated_at: number;
  /** What the broker did with it. */
  result: PublishOutcome;
}

/** The `done` of a callback-style hook (cheaper than an async hook: no promise per request). */
type HookDone = (error?: Error) => void;

/**
 * `onRequest` hook of `queue-change`: the token is checked first, before the
 * key and before the body is read, so an unauthenticated caller learns nothing
 * about keys or body rules and cannot make the service buffer a body.
 */
export function requireToken(verifier: TokenVerifier) {
  return (request: FastifyRequest, _reply: FastifyReply, done: HookDone): void => {
    done(verifier.verify(request.headers.authorization) ? undefined : unauthorized());
  };
}

/**
 * `onResponse` hook of the whole plugin counting a refused publish by its
 * status: one place sees every refusal, Fastify's own (body too large) and
 * those of keys the router could not match included. Successful outcomes are
 * counted by the handler, which knows the result.
 */
export function countRefusedPublish(stats: Stats) {
  return (request: FastifyRequest, reply: FastifyReply, done: HookDone): void => {
    if (reply.statusCode >= 400 && isPublish(request)) stats.publishAnswered(reply.statusCode);
    done();
  };
}

/** A request to `queue-change`, routed or not (a key the router could not match). */
function isPublish(request: FastifyRequest): boolean {
  if (request.method !== 'POST') return false;
  if (!request.is404) return request.routeOptions.url === QUEUE_CHANGE_ROUTE;
  return environmentRouteKey('POST', request.url) !== undefined;
}

/**
 * `POST /sse/environments/:environment/queue-change`: validates the key and
 * the raw body, publishes through the broker and answers `200` only once the
 * broker has acknowledged it, `503` with `Retry-After` when it cannot (a
 * `BrokerUnavailableError` from `publish` becomes that `503` in the error handler).
 */
export function publishHandler(broker: Broker, stats: Stats, retryAfterSeconds: number) {
  const headers = refusalHeaders(retryAfterSeconds);

  return async (
    request: FastifyRequest<{ Params: EnvironmentParams; Body: Buffer | undefined }>,
    reply: FastifyReply,
  ): Promise<PublishResponse> => {
    const key = validateEnvironmentKey(request.params.environment);
    if (!key.ok) throw new HttpError(400, key.error.code, key.error.message);
    const body = parsePublishBody(request.body ?? '');
    if (!body.ok) throw new HttpError(400, body.error.code, body.error.message);
    // Answered at once, never held: publishers time out after 2 s and retry.
    if (broker.state !== 'ready') throw unavailable(headers, broker.state);
    const result = await broker.publish(key.value, body.value.updatedAt);
    stats.published(result);
    reply.code(200);
    return { updated_at: body.value.updatedAt, result };
  };
}
