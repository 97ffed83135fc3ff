import type { StreamSettingDifference } from './stream-config.js';
import { describeDifferences } from './stream-config.js';

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
