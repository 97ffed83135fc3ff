import { QUEUE_CHANGE_ROUTE, STREAM_ROUTE, validateEnvironmentKey } from '@flagsmith-rt/protocol';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BrokerUnavailableError } from '../broker/broker.js';
import { HttpError, type RefusalHeaders, refusalHeaders, unavailable } from '../errors.js';
import { CORS_RESPONSE_HEADERS } from './cors.js';

/** The environment routes, as the protocol names them: method and path segments. */
const ENVIRONMENT_ROUTES = [
  { method: 'GET', segments: segmentsOf(STREAM_ROUTE) },
  { method: 'POST', segments: segmentsOf(QUEUE_CHANGE_ROUTE) },
] as const;

function segmentsOf(route: string): string[] {
  return route.replace(/^\/+|\/$/g, '').split('/');
}

/**
 * The raw key of a path shaped like an environment route of `method`, whatever
 * the key (empty, too long, undecodable: those the router could not match);
 * `undefined` if the path is no environment route. Leading slashes repeat
 * (`//sse/...`) and one trailing slash is allowed, as the router does.
 */
export function environmentRouteKey(method: string, url: string): string | undefined {
  const path = url.split('?', 1)[0] ?? '';
  const given = segmentsOf(path);
  for (const route of ENVIRONMENT_ROUTES) {
    if (method !== route.method && !(route.method === 'GET' && method === 'HEAD')) continue;
    if (given.length !== route.segments.length) continue;
    let key: string | undefined;
    const matches = route.segments.every((segment, i) => {
      if (!segment.startsWith(':')) return segment === given[i];
      key = given[i];
      return true;
    });
    if (matches) return key ?? '';
  }
  return undefined;
}

/** Sends an {@link HttpError} as `{"error": {"code", "message"}}`, with CORS and its headers. */
export function sendError(reply: FastifyReply, error: HttpError): FastifyReply {
  return reply
    .code(error.statusCode)
    .headers(CORS_RESPONSE_HEADERS)
    .headers(error.headers)
    .type('application/json; charset=utf-8')
    .send(error.toBody());
}

/**
 * Maps anything thrown while serving a request to an {@link HttpError}.
 * Fastify's own client errors keep the same body shape; a body over the limit
 * or with an unusable content type is a `400` (the protocol's rule for bad
 * publishes). Only a genuine fault becomes a `500`.
 */
export function toHttpError(error: unknown, refusal: RefusalHeaders): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof BrokerUnavailableError) return unavailable(refusal, error);
  const fastifyError = error as Partial<FastifyError>;
  const status = fastifyError.statusCode ?? 500;
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
    return new HttpError(400, 'body_too_large', 'The body is too large.');
  }
  if (status === 404) return new HttpError(404, 'not_found', 'No such route.');
  if (status >= 400 && status < 500) {
    const message = fastifyError.message || 'The request is malformed.';
    return new HttpError(status === 415 ? 400 : status, 'bad_request', message);
  }
  return new HttpError(
    500,
    'internal_error',
    'Internal error; see the service logs.',
    {},
    { cause: error },
  );
}

/** The plugin's error handler: every error, Fastify's included, in one JSON shape. */
export function errorHandlerFor(retryAfterSeconds: number) {
  const refusal = refusalHeaders(retryAfterSeconds);
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const httpError = toHttpError(error, refusal);
    if (httpError.statusCode >= 500 && httpError.code === 'internal_error') {
      request.log.error({ err: error }, 'request failed');
    }
    return sendError(reply, httpError);
  };
}

/**
 * The {@link HttpError} for a request no route matched. A path shaped like an
 * environment route with a key the router rejected (empty, too long for
 * `maxParamLength`, undecodable) gets the key's `400`, as the protocol asks.
 */
export function notFoundError(method: string, url: string): HttpError {
  const raw = environmentRouteKey(method, url);
  if (raw !== undefined) {
    const key = validateEnvironmentKey(safeDecode(raw));
    if (!key.ok) return new HttpError(400, key.error.code, key.error.message);
  }
  const path = url.split('?', 1)[0] ?? '';
  return new HttpError(404, 'not_found', `No route ${method} ${path}.`);
}

/**
 * For Fastify's `frameworkErrors` server option: errors raised before
 * routing (undecodable URL, parameter longer than `maxParamLength`) get the
 * same JSON shape and CORS header as every other error.
 */
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    const fromShape = notFoundError(request.method, request.url);
    if (fromShape.statusCode === 400) return sendError(reply, fromShape);
    return sendError(reply, new HttpError(400, 'bad_request', 'The URL is malformed.'));
  }
  return sendError(reply, toHttpError(error, NO_RETRY_AFTER));
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // Undecodable percent-encoding: validate the raw text, which `%` already fails.
    return text;
  }
}

/** Before routing nothing is refused for a broker, so no `Retry-After` is due. */
const NO_RETRY_AFTER = refusalHeaders(0);
