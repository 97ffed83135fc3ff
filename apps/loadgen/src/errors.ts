/** What went wrong, as a stable string a script can match. */
export type LoadgenErrorCode =
  | 'invalid_option'
  | 'worker_failed'
  | 'server_start_failed'
  | 'target_unreachable'
  | 'timeout';

/** A failure of the load generator itself (not of the server under test, which is measured). */
export class LoadgenError extends Error {
  override readonly name = 'LoadgenError';
  /** The kind of failure. */
  readonly code: LoadgenErrorCode;

  constructor(code: LoadgenErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
