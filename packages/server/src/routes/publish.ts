import { parsePublishBody, validateEnvironmentKey } from '@flagsmith-rt/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  BrokerUnavailableError,
  brokerUnavailableMessage,
  type PublishOutcome,
} from '../broker/broker.js';
import { HttpError } from '../errors.js';
import type { Hub } from '../fanout/hub.js';
import type { TokenVerifier } from '../http/auth.js';
import { WWW_AUTHENTICATE } from '../http/cors.js';
import type { ResolvedOptions } from '../options.js';
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

/** The `401` of a missing or wrong token. */
export function unauthorizedError(): HttpError {
  return new HttpError(
    401,
    'unauthorized',
    'Missing or wrong token; send "Authorization: Token <SSE_AUTHENTICATION_TOKEN>".',
    { 'www-authenticate': WWW_AUTHENTICATE },
  );
}

/**
 * `onRequest` hook of `queue-change`: the token is checked first, before the
 * key and before the body is read, so an unauthenticated caller learns nothing
 * about keys or body rules and cannot make the service buffer a body.
 */
export function requireToken(verifier: TokenVerifier) {
  return (request: FastifyRequest, _reply: FastifyReply, done: HookDone): void => {
    done(verifier.verify(request.headers.authorization) ? undefined : unauthorizedError());
  };
}

/**
 * Counts a refused publish by its status (`onResponse` hook of `queue-change`):
 * one place sees every refusal, Fastify's own (body too large) included.
 * Successful outcomes are counted by the handler, which knows the result.
 */
export function countRefusedPublish(hub: Hub) {
  return (_request: FastifyRequest, reply: FastifyReply, done: HookDone): void => {
    countPublishStatus(hub, reply.statusCode);
    done();
  };
}

/** Adds a refused publish with this status to the hub's counters. */
export function countPublishStatus(hub: Hub, statusCode: number): void {
  if (statusCode === 401) hub.counters.publishesUnauthorized++;
  else if (statusCode === 503) hub.counters.publishesUnavailable++;
  else if (statusCode >= 400 && statusCode < 500) hub.counters.publishesInvalid++;
}

/**
 * `POST /sse/environments/:environment/queue-change`: validates the key and
 * the raw body, publishes through the broker and answers `200` only once the
 * broker has acknowledged it, `503` with `Retry-After` when it cannot.
 */
export function publishHandler(hub: Hub, options: ResolvedOptions) {
  const retryAfter = { 'retry-after': String(options.retryAfterSeconds) };

  return async (
    request: FastifyRequest<{ Params: EnvironmentParams; Body: Buffer | undefined }>,
    reply: FastifyReply,
  ): Promise<PublishResponse> => {
    const key = validateEnvironmentKey(request.params.environment);
    if (!key.ok) throw new HttpError(400, key.error.code, key.error.message);
    const body = parsePublishBody(request.body ?? '');
    if (!body.ok) throw new HttpError(400, body.error.code, body.error.message);
    // Answered at once, never held: publishers time out after 2 s and retry.
    if (hub.broker.state !== 'ready') {
      throw new HttpError(
        503,
        'broker_unavailable',
        brokerUnavailableMessage(hub.broker.state),
        retryAfter,
      );
    }
    let result: PublishOutcome;
    try {
      result = await hub.broker.publish(key.value, body.value.updatedAt);
    } catch (error) {
      if (error instanceof BrokerUnavailableError) {
        throw new HttpError(
          503,
          'broker_unavailable',
          `The message broker could not take the update (${error.message}); retry later.`,
          retryAfter,
          { cause: error },
        );
      }
      throw error;
    }
    if (result === 'published') hub.counters.publishesPublished++;
    else if (result === 'duplicate') hub.counters.publishesDuplicate++;
    else hub.counters.publishesStale++;
    reply.code(200);
    return { updated_at: body.value.updatedAt, result };
  };
}
