/**
 * The outcome of a validation: either the parsed value or an error that says
 * what was wrong. Validators in this package return a `Result` and never throw.
 */
export type Result<T, E = ProtocolError> = { ok: true; value: T } | { ok: false; error: E };

/** Codes of every validation failure the protocol defines. */
export type ProtocolErrorCode =
  | 'invalid_environment_key'
  | 'invalid_json'
  | 'invalid_body'
  | 'missing_updated_at'
  | 'invalid_updated_at'
  | 'invalid_event_id';

/** A validation failure: a stable `code` and a message that names the problem. */
export interface ProtocolError {
  /** Stable machine-readable code. */
  code: ProtocolErrorCode;
  /** Human-readable explanation of what was wrong and what is accepted. */
  message: string;
}

/** Builds a successful {@link Result}. */
export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

/** Builds a failed {@link Result}. */
export function fail(
  code: ProtocolErrorCode,
  message: string,
): { ok: false; error: ProtocolError } {
  return { ok: false, error: { code, message } };
}
