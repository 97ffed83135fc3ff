import {
  type ProtocolErrorCode,
  parseUpdatedAt,
  STREAM_SETTINGS,
  validateEnvironmentKey,
} from '@flagsmith-rt/protocol';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { PublishOutcome } from '../broker/broker.js';
import { type StoredUpdate, storedUpdateOf, type UpdateChannel, writeUpdate } from './writer.js';

/** Options of {@link publishUpdate}. */
export interface PublishUpdateOptions {
  /**
   * Timeout of each NATS request (the write and the read-back), in ms.
   * @defaultValue the `JetStreamClient`'s own timeout (5000 unless set)
   */
  readonly timeoutMs?: number;
  /**
   * Writes tried before {@link PublishConflictError} when other publishers keep
   * moving the subject.
   * @defaultValue 5
   */
  readonly maxAttempts?: number;
}

/** The environment key or the timestamp given to {@link publishUpdate} is not valid. */
export class InvalidUpdateError extends Error {
  override readonly name = 'InvalidUpdateError';
  /** The protocol's validation code, e.g. `invalid_environment_key`. */
  readonly code: ProtocolErrorCode;
  /** Retrying the same call cannot succeed. */
  readonly retryable = false;

  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

const managers = new WeakMap<JetStreamClient, Promise<JetStreamManager>>();

/**
 * Publishes an environment's update straight to NATS JetStream, exactly as
 * the service's `queue-change` route does: the same subject, payload and
 * headers, deduplicated with `Nats-Msg-Id`, compare-and-set on the subject's
 * last sequence, and no write when the stream already holds the same or a
 * newer timestamp. Every running instance then fans it out.
 *
 * `updatedAt` takes what a `queue-change` body takes: epoch seconds (numbers
 * above `2e10` are milliseconds), an ISO-8601 string (naive means UTC), or a
 * `Date`. Resolves once JetStream acknowledged the write (or once it is known
 * to be unnecessary):
 * - `published`: written; the new latest timestamp of the environment;
 * - `duplicate`: the same timestamp is already stored (or was, within two minutes);
 * - `stale`: the stream holds a newer timestamp; nothing written, nothing fanned out.
 *
 * Needs NATS permission to publish on `flagsmith.environment.>` and to request
 * `$JS.API.DIRECT.GET.environments-stream.flagsmith.environment.>` (the read
 * of the last message), plus replies on `_INBOX.>`. Rejects with
 * {@link InvalidUpdateError} for a bad key or timestamp,
 * {@link PublishConflictError} after `maxAttempts` conflicting writes, and
 * with the NATS client's error when NATS cannot take the write (retry then).
 *
 * @example
 * ```ts
 * import { jetstream } from '@nats-io/jetstream';
 * import { connect } from '@nats-io/transport-node';
 * import { publishUpdate } from '@flagsmith-rt/server/jetstream';
 *
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
 * await publishUpdate(jetstream(nc), 'n9fbf9h3v4fFgH3U3ngWhb', '2024-12-26T16:18:08.76Z');
 * ```
 */
export async function publishUpdate(
  js: JetStreamClient,
  environmentKey: string,
  updatedAt: number | string | Date,
  options: PublishUpdateOptions = {},
): Promise<PublishOutcome> {
  const key = validateEnvironmentKey(environmentKey);
  if (!key.ok) throw new InvalidUpdateError(key.error.code, key.error.message);
  const seconds = parseUpdatedAt(
    updatedAt instanceof Date ? updatedAt.getTime() / 1000 : updatedAt,
  );
  if (!seconds.ok) throw new InvalidUpdateError(seconds.error.code, seconds.error.message);
  const result = await writeUpdate(
    jetStreamChannel(js, options.timeoutMs),
    key.value,
    seconds.value,
    {
      maxAttempts: options.maxAttempts,
      readFirst: true,
    },
  );
  return result.outcome;
}

/** An {@link UpdateChannel} over a plain `JetStreamClient`. */
export function jetStreamChannel(
  js: JetStreamClient,
  timeoutMs: number | undefined,
): UpdateChannel {
  return {
    async publish(subject, payload, { msgID, lastSubjectSequence }) {
      const ack = await js.publish(subject, payload, {
        msgID,
        expect: { lastSubjectSequence },
        ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
      });
      return { seq: ack.seq, duplicate: ack.duplicate };
    },
    isConflict(error) {
      return (
        error instanceof JetStreamApiError &&
        (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
          error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
      );
    },
    async readLast(subject): Promise<StoredUpdate | undefined> {
      let manager = managers.get(js);
      if (manager === undefined) {
        // `false`: no `$JS.API.INFO` round trip, so publishers need no permission for it.
        manager = js.jetstreamManager(false);
        managers.set(js, manager);
      }
      return storedUpdateOf(
        await (await manager).direct.getMessage(STREAM_SETTINGS.name, { last_by_subj: subject }),
      );
    },
  };
}
