import {
  decodeUpdateMessage,
  encodeUpdateMessage,
  messageIdFor,
  subjectFor,
} from '@flagsmith-rt/protocol';
import type { PublishOutcome } from '../broker/broker.js';

/**
 * Conflicting writes to one environment are retried this many times before
 * giving up with {@link PublishConflictError}.
 */
export const DEFAULT_MAX_WRITE_ATTEMPTS = 5;

/** The last message on an environment's subject, as read from the stream. */
export interface StoredUpdate {
  /** Its stream sequence. */
  readonly sequence: number;
  /** When JetStream stored it, epoch milliseconds. */
  readonly storedAt: number;
  /** Its timestamp (epoch seconds), or `undefined` when the payload is not an update. */
  readonly updatedAt: number | undefined;
}

/** A stream message as `direct.getMessage` returns it: the fields {@link storedUpdateOf} reads. */
export interface StreamMessage {
  readonly seq: number;
  readonly time: Date;
  readonly data: Uint8Array;
}

/** The last message of a subject as a {@link StoredUpdate}; `undefined` when there is none. */
export function storedUpdateOf(stored: StreamMessage | null): StoredUpdate | undefined {
  if (stored === null) return undefined;
  const decoded = decodeUpdateMessage(stored.data);
  return {
    sequence: stored.seq,
    storedAt: stored.time.getTime(),
    updatedAt: decoded.ok ? decoded.value : undefined,
  };
}

/** What JetStream answered to a write. */
export interface WriteAck {
  /** Stream sequence of the message. */
  readonly seq: number;
  /** The same `Nats-Msg-Id` was stored within the duplicate window; nothing was written. */
  readonly duplicate: boolean;
}

/** The headers of one write: dedupe id and compare-and-set. */
export interface WriteHeaders {
  /** `Nats-Msg-Id`. */
  readonly msgID: string;
  /** `Nats-Expected-Last-Subject-Sequence` (`0`: the subject must be empty). */
  readonly lastSubjectSequence: number;
}

/**
 * The two NATS calls a write needs. The broker implements them with its own
 * acknowledgement matcher; {@link publishUpdate} with a `JetStreamClient`.
 */
export interface UpdateChannel {
  /** Publishes with the headers and resolves with JetStream's acknowledgement. */
  publish(subject: string, payload: Uint8Array, headers: WriteHeaders): Promise<WriteAck>;
  /** Whether a rejected publish failed only because the subject moved on. */
  isConflict(error: unknown): boolean;
  /** Reads the last message of a subject (`undefined` when it holds none). */
  readLast(subject: string): Promise<StoredUpdate | undefined>;
}

/** What a writer already knows about an environment, e.g. from following the stream. */
export interface KnownUpdate {
  /** The newest timestamp known, epoch seconds. */
  readonly updatedAt: number;
  /** The highest stream sequence known on the subject (0 when unknown). */
  readonly sequence: number;
}

/** Options of {@link writeUpdate}. */
export interface WriteUpdateOptions {
  /**
   * Attempts before {@link PublishConflictError}.
   * @defaultValue {@link DEFAULT_MAX_WRITE_ATTEMPTS}
   */
  readonly maxAttempts?: number;
  /** What the caller knows, asked before every attempt (a follower's memory). */
  readonly known?: () => KnownUpdate | undefined;
  /**
   * Read the subject's last message before the first write when nothing is
   * known. Without it, the first write expects an empty subject.
   * @defaultValue false
   */
  readonly readFirst?: boolean;
  /** Called with each message read back from the stream. */
  readonly onRead?: (stored: StoredUpdate) => void;
}

/** The result of {@link writeUpdate}. */
export interface WriteResult {
  /** What happened to the update. */
  readonly outcome: PublishOutcome;
  /** Stream sequence of the message written, when `outcome` is `published`. */
  readonly sequence?: number;
}

/** Every attempt of a write met a newer write to the same subject. */
export class PublishConflictError extends Error {
  override readonly name = 'PublishConflictError';
  readonly code = 'publish_conflict' as const;
  /** Retrying later is safe: the update was not written. */
  readonly retryable = true;
  /** Attempts made. */
  readonly attempts: number;

  constructor(subject: string, attempts: number) {
    super(
      `${attempts} conflicting writes in a row on ${subject}: other publishers keep moving it; retry later.`,
    );
    this.attempts = attempts;
  }
}

/**
 * The one write path of an update, shared by `queue-change` (through the
 * broker) and by direct publishers ({@link publishUpdate}):
 *
 * - `Nats-Msg-Id` = `<environment>:<updated_at>`, so a repeat within the
 *   stream's duplicate window is stored once (`duplicate`);
 * - no write when the stream (or the caller's memory) already holds the same
 *   or a newer timestamp (`duplicate` / `stale`);
 * - compare-and-set with `Nats-Expected-Last-Subject-Sequence`, so a newer
 *   concurrent write is never replaced: on a conflict, read the last message
 *   back, decide again, and retry up to `maxAttempts` times.
 *
 * The environment key must be valid and `updatedAt` already in seconds.
 * Other errors of the channel (timeouts, no stream) are passed through.
 */
export async function writeUpdate(
  channel: UpdateChannel,
  environment: string,
  updatedAt: number,
  options: WriteUpdateOptions = {},
): Promise<WriteResult> {
  const subject = subjectFor(environment);
  const payload = encodeUpdateMessage(updatedAt);
  const msgID = messageIdFor(environment, updatedAt);
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_WRITE_ATTEMPTS;
  let read: StoredUpdate | undefined;
  let readBack = false;
  const readLast = async (): Promise<void> => {
    read = await channel.readLast(subject);
    readBack = true;
    if (read !== undefined) options.onRead?.(read);
  };
  if (options.readFirst === true && options.known?.() === undefined) await readLast();
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const known = options.known?.();
    // The newest of what memory and the stream say: an older timestamp needs no write at all.
    const newest = Math.max(known?.updatedAt ?? 0, read?.updatedAt ?? 0);
    if (newest > 0) {
      if (updatedAt === newest) return { outcome: 'duplicate' };
      if (updatedAt < newest) return { outcome: 'stale' };
    }
    // Once read back, the stream's sequence wins over memory (which may be of a
    // stream since recreated).
    const expected = readBack ? (read?.sequence ?? 0) : (known?.sequence ?? 0);
    try {
      const ack = await channel.publish(subject, payload, { msgID, lastSubjectSequence: expected });
      return ack.duplicate ? { outcome: 'duplicate' } : { outcome: 'published', sequence: ack.seq };
    } catch (error) {
      if (!channel.isConflict(error)) throw error;
    }
    // Another writer moved the subject: learn what it wrote, then decide again.
    await readLast();
  }
  throw new PublishConflictError(subject, maxAttempts);
}

/**
 * Writes `updatedAt` back over an older or unreadable message that a careless
 * direct publisher wrote (`overSequence` is that message's sequence), so the
 * stream holds the newest timestamp again for instances that start later.
 * Compare-and-set on `overSequence`: if anything was written since, that
 * write wins and is judged on its own. Instances that restore at the same
 * time send the same `Nats-Msg-Id`, so JetStream stores one of them.
 * Resolves with the acknowledgement, or `undefined` when the subject moved on.
 */
export async function restoreUpdate(
  channel: UpdateChannel,
  environment: string,
  updatedAt: number,
  overSequence: number,
): Promise<WriteAck | undefined> {
  try {
    return await channel.publish(subjectFor(environment), encodeUpdateMessage(updatedAt), {
      // Not the update's own id: that one may still be in the duplicate window.
      msgID: `${messageIdFor(environment, updatedAt)}:over:${overSequence}`,
      lastSubjectSequence: overSequence,
    });
  } catch (error) {
    if (channel.isConflict(error)) return undefined;
    throw error;
  }
}
