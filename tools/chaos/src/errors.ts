/** What a failed scenario check was about. */
export type ChaosErrorCode =
  | 'updates_lost'
  | 'process_crashed'
  | 'unexpected_status'
  | 'invalid_input_published'
  | 'memory_unbounded'
  | 'latency_degraded'
  | 'timing_leak'
  | 'not_converged'
  | 'service_start_failed';

/** A scenario's invariant did not hold; the run fails with it. */
export class ChaosCheckError extends Error {
  /** Which invariant failed. */
  readonly code: ChaosErrorCode;

  constructor(code: ChaosErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ChaosCheckError';
    this.code = code;
  }
}
