import {
  decodeUpdateMessage,
  encodeUpdateMessage,
  messageIdFor,
  STREAM_SETTINGS,
  subjectFor,
} from '@flagsmith-rt/protocol';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  BrokerUnavailableError,
  type BrokerWriteCounts,
  type PublishOutcome,
} from '../broker/broker.js';
import type { LatestEntry } from '../broker/latest-store.js';
import type { Clock } from '../clock.js';
import { AckedPublisher, PublishRejectedError } from './acked-publisher.js';
import { messageOf, type ReportError } from './errors.js';
import type { NatsOperation } from './options.js';

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
  /**
   * After a refused write whose winner memory has already seen, and which is
   * older than this update: resolves when it is worth deciding again. Another
   * writer is active on the subject; its next write is likely newer than this
   * update (then no write is needed at all), so waiting briefly for it saves
   * writes that would conflict again. Without it, the next attempt goes at once.
   */
  readonly afterConflict?: (sequence: number) => Promise<void>;
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
    // Memory that moved past the sequence this write expected, while it was in
    // flight, has seen that write (a follower reads every message): decide from
    // it, with no read-back round trip.
    // With two instances on one hot environment this is nearly every conflict.
    const after = options.known?.();
    if (after !== undefined && after.sequence > Math.max(expected, known?.sequence ?? 0)) {
      if (options.afterConflict !== undefined && after.updatedAt < updatedAt) {
        await options.afterConflict(after.sequence);
      }
      read = undefined;
      readBack = false;
      continue;
    }
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

function isConflict(error: unknown): boolean {
  return error instanceof PublishRejectedError && error.isWrongLastSequence;
}

/** Options of {@link UpdateWriter}. */
export interface UpdateWriterOptions {
  /** The broker's connection. */
  readonly nc: NatsConnection;
  /** Reads the last message of a subject (direct get). */
  readonly jsm: JetStreamManager;
  /** How long a write waits for its acknowledgement. */
  readonly publishTimeoutMs: number;
  /** The broker's clock: acknowledgement timeouts, and the send time of a write. */
  readonly clock: Clock;
  /** Failed writes and reads are reported as `publish` and `read`. */
  readonly report: ReportError;
  /** Throws {@link BrokerUnavailableError} unless the broker is ready. */
  readonly assertReady: () => void;
  /** What this instance knows of an environment (the follower's memory). */
  readonly known: (environment: string) => LatestEntry | undefined;
  /**
   * Records a durable update (the follower's `accept`): one read back from the
   * stream (`stamped`: `storedAt` is its message time), or one this instance
   * wrote (`storedAt` is only the send time).
   */
  readonly accept: (
    environment: string,
    updatedAt: number,
    storedAt: number,
    sequence: number,
    stamped: boolean,
  ) => void;
}

/**
 * How long a write refused because another writer came first waits for that writer's next
 * write before trying again (see {@link WriteUpdateOptions.afterConflict}).
 * A write's round trip to JetStream is about a millisecond on one host.
 */
export const CONFLICT_WAIT_MS = 5;

/** What the writes of an {@link UpdateWriter} met so far ({@link BrokerWriteCounts}, counted here). */
export type WriteCounts = { -readonly [K in keyof BrokerWriteCounts]: BrokerWriteCounts[K] };

interface Waiter {
  readonly updatedAt: number;
  resolve(outcome: PublishOutcome): void;
  reject(error: unknown): void;
}

/**
 * The broker's write side: one write at a time per environment through
 * {@link writeUpdate}, over its own acknowledgement matcher
 * ({@link AckedPublisher}). Publishes that meet a write in progress wait and
 * are answered with its result; publishes of one event-loop turn leave in one
 * socket write. Everything waiting on NATS fails at once when the connection
 * is lost ({@link UpdateWriter.failInflight}).
 */
export class UpdateWriter {
  /** The write path's NATS calls, shared with {@link restoreUpdate}. */
  readonly channel: UpdateChannel;
  readonly #options: UpdateWriterOptions;
  readonly #publisher: AckedPublisher;
  readonly #queues = new Map<string, Waiter[]>();
  /** Rejecters of reads waiting on NATS, failed at once when the connection is lost. */
  readonly #inflight = new Set<(error: unknown) => void>();
  #turn: Promise<void> | undefined;
  /** Writes waiting, by environment, for memory to move on after a conflict. */
  readonly #conflictWaits = new Map<string, Set<() => void>>();
  /** What the writes met, for `flagsmith_sse_nats_writes_total`. */
  readonly counts: WriteCounts = { stored: 0, duplicates: 0, conflicts: 0, readBacks: 0 };

  constructor(options: UpdateWriterOptions) {
    this.#options = options;
    this.#publisher = new AckedPublisher(options.nc, options.publishTimeoutMs, options.clock);
    this.channel = {
      publish: (subject, payload, headers) => {
        options.assertReady();
        // The publisher fails this at once if the connection is lost (failInflight).
        return this.#publisher.publish(subject, payload, headers).then(
          (ack) => {
            if (ack.duplicate) this.counts.duplicates++;
            else this.counts.stored++;
            return ack;
          },
          (error: unknown) => {
            if (isConflict(error)) this.counts.conflicts++;
            throw error;
          },
        );
      },
      isConflict,
      readLast: (subject) => {
        this.counts.readBacks++;
        return this.#readLast(subject);
      },
    };
  }

  /**
   * Publishes an update; resolves after the JetStream acknowledgement, or at
   * once when memory already holds the same (`duplicate`) or a newer (`stale`)
   * timestamp. Waiters with an older timestamp than one written with them are
   * answered `stale` once it is durable; they share its failure otherwise.
   */
  publish(environment: string, updatedAt: number): Promise<PublishOutcome> {
    const known = this.#options.known(environment);
    if (known !== undefined && updatedAt <= known.updatedAt) {
      return Promise.resolve(updatedAt === known.updatedAt ? 'duplicate' : 'stale');
    }
    return new Promise<PublishOutcome>((resolve, reject) => {
      const waiting = this.#queues.get(environment);
      if (waiting !== undefined) {
        waiting.push({ updatedAt, resolve, reject });
        return;
      }
      this.#queues.set(environment, [{ updatedAt, resolve, reject }]);
      void this.#drainQueue(environment);
    });
  }

  /** {@link restoreUpdate} through this writer's channel. */
  restore(
    environment: string,
    updatedAt: number,
    overSequence: number,
  ): Promise<WriteAck | undefined> {
    return restoreUpdate(this.channel, environment, updatedAt, overSequence);
  }

  /**
   * Memory learned a newer update of `environment` (from the stream or a
   * write): writes waiting after a conflict decide again now.
   */
  observed(environment: string): void {
    const waits = this.#conflictWaits.get(environment);
    if (waits === undefined) return;
    this.#conflictWaits.delete(environment);
    for (const wake of waits) wake();
  }

  /** Fails every write and read waiting on NATS; returns how many writes were waiting. */
  failInflight(error: BrokerUnavailableError): number {
    // Writes waiting after a conflict go on at once, and meet the unavailable broker.
    for (const environment of [...this.#conflictWaits.keys()]) this.observed(environment);
    const writes = this.#publisher.failAll(error);
    for (const reject of this.#inflight) reject(error);
    this.#inflight.clear();
    return writes;
  }

  /** Stops listening for acknowledgements and fails everything waiting. */
  close(error: BrokerUnavailableError): void {
    this.#publisher.close(error);
    this.failInflight(error);
  }

  async #drainQueue(environment: string): Promise<void> {
    const queue = this.#queues.get(environment)!;
    try {
      // Publishes arriving in the same event-loop turn leave in one socket write.
      await this.#nextTurn();
      while (queue.length > 0) {
        const batch = queue.splice(0);
        let newest = 0;
        for (const waiter of batch) newest = Math.max(newest, waiter.updatedAt);
        let outcome: PublishOutcome;
        try {
          outcome = await this.#write(environment, newest);
        } catch (error) {
          for (const waiter of batch) waiter.reject(error);
          continue;
        }
        let first = true;
        for (const waiter of batch) {
          if (waiter.updatedAt < newest) waiter.resolve('stale');
          else if (first) waiter.resolve(outcome);
          else waiter.resolve(outcome === 'published' ? 'duplicate' : outcome);
          if (waiter.updatedAt === newest) first = false;
        }
      }
    } finally {
      this.#queues.delete(environment);
    }
  }

  #nextTurn(): Promise<void> {
    this.#turn ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.#turn = undefined;
        resolve();
      }),
    );
    return this.#turn;
  }

  /** One write through the shared write path, with this instance's memory. */
  async #write(environment: string, updatedAt: number): Promise<PublishOutcome> {
    const { accept } = this.#options;
    let result: WriteResult;
    try {
      result = await writeUpdate(this.channel, environment, updatedAt, {
        known: () => this.#options.known(environment),
        onRead: (last) => {
          if (last.updatedAt !== undefined) {
            accept(environment, last.updatedAt, last.storedAt, last.sequence, true);
          }
        },
        afterConflict: (sequence) => this.#waitAfterConflict(environment, sequence),
      });
    } catch (error) {
      // A conflict that outlasted the retries (PublishConflictError) is a 503 like any failed
      // write: the publisher retries later.
      throw this.#unavailable('publish', error);
    }
    if (result.outcome === 'published') {
      // Fanned out now; the ack carries no timestamp, so the message time is
      // passed on (onStored) when the consumer reads the message back.
      accept(environment, updatedAt, this.#options.clock(), result.sequence ?? 0, false);
    }
    return result.outcome;
  }

  /**
   * Resolves once memory holds a write of `environment` after `sequence` (the
   * other writer's next one), or after {@link CONFLICT_WAIT_MS}.
   */
  #waitAfterConflict(environment: string, sequence: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if ((this.#options.known(environment)?.sequence ?? 0) > sequence) {
        resolve();
        return;
      }
      let waits = this.#conflictWaits.get(environment);
      if (waits === undefined) {
        waits = new Set();
        this.#conflictWaits.set(environment, waits);
      }
      const wake = (): void => {
        clearTimeout(timer);
        waits.delete(wake);
        if (waits.size === 0 && this.#conflictWaits.get(environment) === waits) {
          this.#conflictWaits.delete(environment);
        }
        resolve();
      };
      const timer = setTimeout(wake, CONFLICT_WAIT_MS);
      waits.add(wake);
    });
  }

  async #readLast(subject: string): Promise<StoredUpdate | undefined> {
    let stored: StreamMessage | null;
    try {
      stored = await this.#guard(
        this.#options.jsm.direct.getMessage(STREAM_SETTINGS.name, { last_by_subj: subject }),
      );
    } catch (error) {
      throw this.#unavailable('read', error);
    }
    return storedUpdateOf(stored);
  }

  /** Settles with `request`, or fails as soon as the connection is lost. */
  #guard<T>(request: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#inflight.add(reject);
      request.then(resolve, reject).finally(() => this.#inflight.delete(reject));
    });
  }

  #unavailable(operation: NatsOperation, error: unknown): BrokerUnavailableError {
    if (error instanceof BrokerUnavailableError) return error;
    this.#options.report(operation, error);
    return new BrokerUnavailableError(`NATS could not take the ${operation}: ${messageOf(error)}`, {
      cause: error,
    });
  }
}
