import { AUTH_SCHEME, type ProtocolErrorCode } from '@flagsmith-rt/protocol';
import {
  type BrokerState,
  BrokerUnavailableError,
  brokerUnavailableMessage,
} from './broker/broker.js';

/** Codes of every error body the HTTP layer sends. */
export type HttpErrorCode =
  | ProtocolErrorCode
  | 'body_too_large'
  | 'headers_too_large'
  | 'request_timeout'
  | 'expectation_failed'
  | 'bad_request'
  | 'unauthorized'
  | 'not_found'
  | 'broker_unavailable'
  | 'too_many_subscribers'
  | 'shutting_down'
  | 'not_ready'
  | 'internal_error';

/** The JSON body of every error response: `{"error": {"code", "message"}}`. */
export interface ErrorBody {
  /** What went wrong. */
  error: {
    /** Stable machine-readable code. */
    code: HttpErrorCode;
    /** What was wrong and how to fix it. */
    message: string;
  };
}

/**
 * A request the service answers with an error status. Thrown (or passed to
 * `reply.send`) by the routes; the plugin's error handler turns it into an
 * {@link ErrorBody} with the status and headers it carries.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  /** Response status. */
  readonly statusCode: number;
  /** Stable machine-readable code, sent in the body. */
  readonly code: HttpErrorCode;
  /** Extra response headers, e.g. `Retry-After` or `WWW-Authenticate`. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    statusCode: number,
    code: HttpErrorCode,
    message: string,
    headers: Record<string, string> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.statusCode = statusCode;
    this.code = code;
    this.headers = headers;
  }

  /** The response body. */
  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The headers of a `503`: `Retry-After`, and `Connection: close` where the connection is not reused. */
export type RefusalHeaders = Readonly<Record<string, string>>;

/** {@link RefusalHeaders} for `retryAfterSeconds`; built once per route, not per refusal. */
export function refusalHeaders(retryAfterSeconds: number, close = false): RefusalHeaders {
  const headers = { 'retry-after': String(retryAfterSeconds) };
  return Object.freeze(close ? { ...headers, connection: 'close' } : headers);
}

/** The `401` of a missing or wrong `queue-change` token. */
export function unauthorized(): HttpError {
  return new HttpError(
    401,
    'unauthorized',
    'Missing or wrong token; send "Authorization: Token <SSE_AUTHENTICATION_TOKEN>".',
    { 'www-authenticate': AUTH_SCHEME },
  );
}

/**
 * The `503 broker_unavailable` refusal of the stream and `queue-change`:
 * `why` is the broker's state when it is not `ready`, or the error of a
 * publish it could not take.
 */
export function unavailable(
  headers: RefusalHeaders,
  why: BrokerState | BrokerUnavailableError,
): HttpError {
  if (why instanceof BrokerUnavailableError) {
    return new HttpError(
      503,
      'broker_unavailable',
      `The message broker could not take the update (${why.message}); retry later.`,
      headers,
      { cause: why },
    );
  }
  return new HttpError(503, 'broker_unavailable', brokerUnavailableMessage(why), headers);
}

/** The plugin was registered with options it cannot work with. */
export class PluginOptionsError extends Error {
  override readonly name = 'PluginOptionsError';
  readonly code = 'invalid_plugin_options' as const;
}
