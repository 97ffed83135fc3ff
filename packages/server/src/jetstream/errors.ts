import type { NatsOperation } from './options.js';

/** One setting of an existing stream that is not what the service needs. */
export interface StreamSettingDifference {
  /** The JetStream configuration field, e.g. `max_msgs_per_subject`. */
  readonly setting: string;
  /** What the service needs. */
  readonly expected: unknown;
  /** What the stream has. */
  readonly actual: unknown;
}

/** Formats differences for an error message: `setting: expected X, found Y`. */
export function describeDifferences(differences: readonly StreamSettingDifference[]): string {
  return differences
    .map((d) => `${d.setting}: expected ${show(d.expected)}, found ${show(d.actual)}`)
    .join('; ');
}

function show(value: unknown): string {
  return value === undefined ? 'unset' : JSON.stringify(value);
}

/**
 * The `environments-stream` exists with settings the service cannot work
 * with. The service never changes an existing stream: fix or delete it.
 */
export class StreamConfigMismatchError extends Error {
  override readonly name = 'StreamConfigMismatchError';
  readonly code = 'stream_config_mismatch' as const;
  /** Every setting that differs, expected against actual. */
  readonly differences: readonly StreamSettingDifference[];

  constructor(stream: string, differences: readonly StreamSettingDifference[]) {
    super(
      `JetStream stream "${stream}" exists with different settings: ${describeDifferences(differences)}. ` +
        'Update the stream (nats stream edit) or delete it so the service can create it, or change the storage/replicas configuration to match.',
    );
    this.differences = differences;
  }
}

/** NATS could not be reached, or JetStream could not be set up, before the start timeout. */
export class NatsStartError extends Error {
  override readonly name = 'NatsStartError';
  readonly code = 'nats_start_failed' as const;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Where the broker's parts report a failed NATS operation (the `onError` option, guarded). */
export type ReportError = (operation: NatsOperation, error: unknown) => void;

/** Runs `run`, reporting its failure as `operation` before passing it on. */
export async function reported<T>(
  report: ReportError,
  operation: NatsOperation,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    report(operation, error);
    throw error;
  }
}

/** The message of an error, or the value as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
