import type { ProtocolErrorCode } from '@flagsmith-rt/protocol';

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

/** The plugin was registered with options it cannot work with. */
export class PluginOptionsError extends Error {
  override readonly name = 'PluginOptionsError';
  readonly code = 'invalid_plugin_options' as const;
}
