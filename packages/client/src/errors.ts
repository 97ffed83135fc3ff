/** Every failure the client reports, by stable code. */
export type RealtimeErrorCode =
  | 'invalid_environment_key'
  | 'invalid_option'
  | 'http_status'
  | 'no_content'
  | 'invalid_content_type'
  | 'network_error'
  | 'stream_ended'
  | 'liveness_timeout'
  | 'buffer_overflow'
  | 'malformed_event'
  | 'unknown_event'
  | 'fetch_flags_failed'
  | 'callback_failed';

/**
 * Base class of every error the client reports. `retryable` says whether the
 * subscription carries on by itself after it (reconnecting or retrying);
 * when `false` the subscription is closed.
 */
export class RealtimeError extends Error {
  override name = 'RealtimeError';
  /** Stable machine-readable code. */
  readonly code: RealtimeErrorCode;
  /** `true` if the subscription recovers on its own; `false` if it stopped. */
  readonly retryable: boolean;

  constructor(
    code: RealtimeErrorCode,
    message: string,
    retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
    this.retryable = retryable;
  }
}

/** The options given to `subscribe` cannot work (bad key or base URL). Never retryable. */
export class ConfigurationError extends RealtimeError {
  override name = 'ConfigurationError';
}

/**
 * The stream endpoint answered with something other than `200 text/event-stream`:
 * it refused to serve the stream. `status` is the HTTP status; 5xx, 408 and 429
 * are retryable, anything else is fatal (a `204` means the server asked the
 * client to stop). Called `HttpError` before 0.2.0; renamed so that it is not
 * mistaken for the server package's `HttpError`, which is a different class.
 */
export class StreamRefusedError extends RealtimeError {
  override name = 'StreamRefusedError';
  /** HTTP status of the response. */
  readonly status: number;

  constructor(
    code: 'http_status' | 'no_content' | 'invalid_content_type',
    status: number,
    message: string,
    retryable: boolean,
  ) {
    super(code, message, retryable);
    this.status = status;
  }
}

/** The connection failed or was abandoned; the client reconnects (always retryable). */
export class ConnectionError extends RealtimeError {
  override name = 'ConnectionError';
}

/** An event on the stream was ignored (bad data, unknown name). The connection stays up. */
export class EventError extends RealtimeError {
  override name = 'EventError';
}

/** `fetchFlags` rejected; it is retried with backoff and the baseline did not move. */
export class FetchFlagsError extends RealtimeError {
  override name = 'FetchFlagsError';
}

/** An application callback (`onUpdate`, `onStateChange`) threw; the client carries on. */
export class CallbackError extends RealtimeError {
  override name = 'CallbackError';
}
