import {
  ALL_ENVIRONMENTS_SUBJECT,
  decodeUpdateMessage,
  environmentOfSubject,
  STREAM_SETTINGS,
  validateEnvironmentKey,
} from '@flagsmith-rt/protocol';
import { type ConsumerMessages, DeliverPolicy, type JsMsg, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { BrokerEvents } from '../broker/events.js';
import type { LatestEntry, LatestStore } from '../broker/latest-store.js';
import type { Clock } from '../clock.js';
import { LogThrottle } from '../log-throttle.js';
import type { BrokerLogger } from '../logger.js';
import { messageOf, type ReportError, reported } from './errors.js';
import type { WriteAck } from './writer.js';

/** Wait between attempts to create a replacement consumer. */
const REFOLLOW_DELAY_MS = 250;
/** Timeout of each request that creates the consumer. */
const CONSUMER_CREATE_TIMEOUT_MS = 1_000;
/** Idle heartbeat the server sends on the consumer's pull. */
const CONSUMER_HEARTBEAT_MS = 1_000;
/** A consumer silent for this long while connected is replaced. */
export const CONSUMER_STALL_MS = 3 * CONSUMER_HEARTBEAT_MS;
/** Lifetime of one pull request. */
const CONSUMER_PULL_EXPIRES_MS = 10_000;

/** Options of {@link StreamFollower}. */
export interface StreamFollowerOptions {
  /** The broker's clock: the watchdog, the backlog deadline and the warning throttle read it. */
  readonly clock: Clock;
  readonly logger: BrokerLogger;
  /** Failed consumer operations and unreadable messages are reported here. */
  readonly report: ReportError;
  /** The latest of every environment (what is fanned out is what it takes). */
  readonly store: LatestStore;
  /** Where updates and stored times are emitted. */
  readonly events: BrokerEvents;
  /** Whether the broker is ready (connected and started). */
  readonly isReady: () => boolean;
  /** Writes `updatedAt` back over the message at `overSequence` (the writer's restore). */
  readonly restore: (
    environment: string,
    updatedAt: number,
    overSequence: number,
  ) => Promise<WriteAck | undefined>;
}

/**
 * Follows every environment with one ordered consumer
 * (`deliver_policy: last_per_subject`) and turns its messages into updates:
 * newer timestamps are fanned out once, older or unreadable ones are written
 * over with the latest. A consumer that stops, is deleted, misses heartbeats
 * or stays silent (the watchdog) is replaced by a new one that starts again
 * from the latest of every subject.
 */
export class StreamFollower {
  readonly #options: StreamFollowerOptions;
  readonly #logger: BrokerLogger;
  /** Environment -> timestamp fanned out on its ack, whose message time is not known yet. */
  readonly #unstamped = new Map<string, number>();
  /** One warning per environment per minute about messages from careless direct publishers. */
  readonly #readWarnings: LogThrottle;
  #nc: NatsConnection | undefined;
  #messages: ConsumerMessages | undefined;
  #refollowTimer: ReturnType<typeof setTimeout> | undefined;
  #refollowing = false;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  /** Clock time of the consumer's last sign of life (message, heartbeat, pull timeout). */
  #consumerActiveAt = 0;
  #closed = false;
  /** Highest stream sequence read (0: none yet, or the stream was recreated). */
  #readSequence = 0;
  /** Sequences this instance wrote and has not read back yet: fanned out on their ack. */
  readonly #ownSequences = new Set<number>();
  /** Whether skipped sequences are counted: from the end of the start on (before is history). */
  #counting = false;
  #coalesced = 0;

  constructor(options: StreamFollowerOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#readWarnings = new LogThrottle({ now: options.clock });
  }

  /**
   * Starts the ordered consumer on `nc`; with a deadline (clock time), waits
   * until then for the backlog, so the latest of every environment is known.
   */
  async follow(nc: NatsConnection, deadline?: number): Promise<void> {
    this.#nc = nc;
    const { clock, report } = this.#options;
    // A short timeout: while a cluster elects leaders, a new attempt soon beats a long wait.
    const js = jetstream(nc, { timeout: CONSUMER_CREATE_TIMEOUT_MS });
    const consumer = await reported(report, 'create_consumer', () =>
      js.consumers.get(STREAM_SETTINGS.name, {
        // A single string becomes `filter_subject`, which nats-server 2.9 understands.
        filter_subjects: ALL_ENVIRONMENTS_SUBJECT,
        deliver_policy: DeliverPolicy.LastPerSubject,
      }),
    );
    const info = await reported(report, 'create_consumer', () => consumer.info(true));
    let caughtUp!: () => void;
    const backlogDone = new Promise<void>((resolve) => {
      caughtUp = resolve;
    });
    if (info.num_pending === 0) caughtUp();
    const messages = await reported(report, 'create_consumer', () =>
      consumer.consume({
        // Heartbeats every second let the watchdog notice a consumer lost with
        // its NATS node while our own connection is fine.
        idle_heartbeat: CONSUMER_HEARTBEAT_MS,
        expires: CONSUMER_PULL_EXPIRES_MS,
        callback: (msg) => {
          this.#consumerActiveAt = clock();
          this.#onMessage(msg);
          if (msg.info.pending === 0) caughtUp();
        },
      }),
    );
    this.#messages = messages;
    this.#consumerActiveAt = clock();
    this.#watchConsumer(messages);
    if (deadline === undefined) return;
    const remaining = Math.max(0, deadline - clock());
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      backlogDone.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), remaining);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.#logger.warn(
        { pending: info.num_pending },
        'Still reading the latest timestamps at the start deadline; continuing',
      );
    }
  }

  /**
   * Replaces the consumer with a new one that starts from the latest of
   * every subject, retrying until it is created.
   */
  refollow(reason: string): void {
    if (this.#refollowing || this.#closed) return;
    this.#refollowing = true;
    this.#logger.warn({ reason }, 'Following the stream again');
    const old = this.#messages;
    this.#messages = undefined;
    void old?.close().catch(() => {});
    const attempt = (): void => {
      if (this.#closed) return;
      this.follow(this.#nc!).then(
        () => {
          this.#refollowing = false;
        },
        (error: unknown) => {
          this.#logger.warn({ err: messageOf(error) }, 'Could not create the consumer; retrying');
          this.#refollowTimer = setTimeout(attempt, REFOLLOW_DELAY_MS);
          this.#refollowTimer.unref();
        },
      );
    };
    attempt();
  }

  /**
   * Updates never fanned out because a newer write replaced them in the
   * stream (one message per subject) before the consumer read them: while it
   * lagged, was being replaced, or NATS was out of reach. Counted from the
   * stream sequences the consumer passed without reading, since
   * {@link StreamFollower.start}; this instance's own writes (fanned out on
   * their ack) are not counted. Monotonic.
   */
  get coalesced(): number {
    return this.#coalesced;
  }

  /**
   * The broker is ready: counts coalesced updates from here, and starts the
   * watchdog. It checks that the consumer shows signs of life (a message, a
   * heartbeat or a pull timeout) while connected; a silent one is replaced.
   * This covers a consumer lost with its NATS node while our connection stays
   * up. The timer is real; the silence is measured on the clock.
   */
  start(): void {
    this.#counting = true;
    this.#watchdog = setInterval(() => {
      if (this.#stalledFor() === undefined) return;
      // Timers run before the event loop reads its sockets: after the loop was
      // blocked (a connect storm, a long GC pause) the consumer's messages and
      // heartbeats may sit unread. Look again once they are read (setImmediate
      // runs after the poll phase): replacing the consumer now would drop them,
      // and the new one would resume past every message replaced meanwhile.
      setImmediate(() => {
        const silentFor = this.#stalledFor();
        if (silentFor === undefined) return;
        this.#options.report('pull', new Error(`no consumer activity for ${silentFor} ms`));
        this.refollow(`no consumer activity for ${silentFor} ms`);
      });
    }, CONSUMER_HEARTBEAT_MS / 2);
    this.#watchdog.unref();
  }

  /** How long the consumer has been silent, if that is long enough to replace it. */
  #stalledFor(): number | undefined {
    const silentFor = this.#options.clock() - this.#consumerActiveAt;
    const stalled =
      !this.#closed &&
      this.#options.isReady() &&
      !this.#refollowing &&
      silentFor > CONSUMER_STALL_MS;
    return stalled ? silentFor : undefined;
  }

  /**
   * Records a durable update and fans it out if it is newer. `stamped` says
   * whether `storedAt` is the JetStream message time (read from the stream)
   * or only this clock's send time (an acknowledged publish): the latter is
   * fanned out with `storedAt: undefined` and stamped (`onStored`) when the
   * consumer delivers the message.
   */
  accept(
    environment: string,
    updatedAt: number,
    storedAt: number,
    sequence: number,
    stamped = true,
  ): void {
    const { store, events } = this.#options;
    const before = stamped ? undefined : store.get(environment);
    if (store.offer(environment, updatedAt, storedAt, sequence)) {
      if (stamped) {
        this.#unstamped.delete(environment);
        events.emitUpdate({ environment, updatedAt, storedAt });
      } else {
        this.#noteOwnWrite(sequence);
        this.#unstamped.set(environment, updatedAt);
        events.emitUpdate({ environment, updatedAt, storedAt: undefined });
        if (
          before !== undefined &&
          before.sequence > sequence &&
          this.#readSequence >= before.sequence
        ) {
          // This write is newer than what memory held, yet the stream already has a later
          // message on the subject (read before this ack arrived): an older timestamp stored
          // after ours. Compare-and-set should have refused one of the two; nats-server
          // before 2.9.21 can accept both on a replicated stream (nats-io/nats-server#4320).
          // Write ours back over it, as for any older message that replaced the latest.
          this.#warnOnce(
            environment,
            'An older timestamp was stored after this write; writing it back',
            {
              environment,
              updatedAt,
              seq: sequence,
              after: { updatedAt: before.updatedAt, seq: before.sequence },
            },
          );
          store.noteSequence(environment, before.sequence);
          this.#restore(environment, { updatedAt, storedAt, sequence }, before.sequence);
        }
      }
    } else if (stamped && this.#unstamped.get(environment) === updatedAt) {
      this.#unstamped.delete(environment);
      events.emitStored(environment, updatedAt, storedAt);
    }
  }

  /** The stream was recreated: its sequences start again at 1. */
  streamRecreated(): void {
    this.#readSequence = 0;
    this.#ownSequences.clear();
  }

  /** Stops replacing the consumer and its timers (the broker is closing). */
  halt(): void {
    this.#closed = true;
    if (this.#refollowTimer !== undefined) clearTimeout(this.#refollowTimer);
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
  }

  /** Halts and closes the consumer. */
  async close(): Promise<void> {
    this.halt();
    const messages = this.#messages;
    this.#messages = undefined;
    await messages?.close().catch(() => {});
  }

  #watchConsumer(messages: ConsumerMessages): void {
    const { clock, report, isReady } = this.#options;
    void (async () => {
      for await (const note of messages.status()) {
        if (this.#messages !== messages) break;
        // Heartbeats and pull timeouts come from the server: the consumer is alive.
        if (note.type === 'heartbeat' || note.type === 'debug' || note.type === 'discard') {
          this.#consumerActiveAt = clock();
        }
        if (note.type === 'consumer_deleted') {
          this.refollow('the consumer was deleted on the server');
          break;
        }
        if (note.type === 'ordered_consumer_recreated') {
          this.#logger.info({ consumer: note.name }, 'Ordered consumer recreated');
        } else if (note.type === 'heartbeats_missed') {
          this.#logger.warn({ count: note.count }, 'Consumer heartbeats missed');
          report('pull', new Error(`${note.count} consumer heartbeats missed`));
          // Our connection is fine (or the state would not be ready), so the consumer
          // died with another NATS node, e.g. one stopped gracefully: nothing else
          // tells us. Replace it now rather than at the watchdog's threshold.
          if (isReady() && note.count >= 2) {
            this.refollow(`${note.count} consumer heartbeats missed`);
            break;
          }
        }
      }
    })().catch(() => {});
    void messages.closed().then((error) => {
      if (this.#closed || this.#messages !== messages) return;
      report('pull', error ?? new Error('consumer stopped'));
      this.refollow(`the consumer stopped: ${messageOf(error)}`);
    });
  }

  #onMessage(msg: JsMsg): void {
    const { store, report } = this.#options;
    try {
      this.#countSkipped(msg.seq);
      const environment = environmentOfSubject(msg.subject);
      if (environment === undefined || !validateEnvironmentKey(environment).ok) {
        this.#logger.warn(
          { subject: msg.subject, seq: msg.seq },
          'Skipped a message on a bad subject',
        );
        return;
      }
      const known = store.get(environment);
      // The newest message of the subject so far: it replaced the stream's latest.
      const replacedLatest = known !== undefined && msg.seq > known.sequence;
      const decoded = decodeUpdateMessage(msg.data);
      if (!decoded.ok) {
        // A direct publisher wrote something else: counted as a failed read, logged once a minute.
        report('read', new Error(decoded.error.message));
        this.#warnOnce(environment, 'Skipped a message that is not an update', {
          environment,
          seq: msg.seq,
          error: decoded.error.code,
        });
        store.noteSequence(environment, msg.seq);
        if (replacedLatest) this.#restore(environment, known, msg.seq);
        return;
      }
      if (replacedLatest && decoded.value < known.updatedAt) {
        // An older timestamp never moves this instance back; the stream gets the newest again.
        this.#warnOnce(
          environment,
          'A publisher wrote an older timestamp; writing the latest back',
          {
            environment,
            seq: msg.seq,
            updatedAt: decoded.value,
            latest: known.updatedAt,
          },
        );
        store.noteSequence(environment, msg.seq);
        this.#restore(environment, known, msg.seq);
        return;
      }
      this.accept(environment, decoded.value, msg.time.getTime(), msg.seq);
    } catch (error) {
      // Never let a message stop the consumer.
      report('read', error);
      this.#logger.error({ err: error, subject: msg.subject }, 'Failed to handle a message');
    }
  }

  /**
   * Writes the latest timestamp back over a message that replaced it with an
   * older or unreadable one, so that instances starting later (even all of
   * them at once) never announce an older timestamp. Compare-and-set on the
   * bad message's sequence: a newer write since then wins.
   */
  #restore(environment: string, latest: LatestEntry, overSequence: number): void {
    if (!this.#options.isReady()) return;
    this.#options.restore(environment, latest.updatedAt, overSequence).then(
      (ack) => {
        if (ack !== undefined && !ack.duplicate) {
          this.#noteOwnWrite(ack.seq);
          this.#options.store.noteSequence(environment, ack.seq);
        }
      },
      (error: unknown) => {
        this.#options.report('publish', error);
        this.#warnOnce(`${environment}:restore`, 'Could not write the latest timestamp back', {
          environment,
          err: messageOf(error),
        });
      },
    );
  }

  /**
   * Counts the sequences between the highest read and `sequence` that are not
   * this instance's own writes: messages replaced before they were read. A
   * replacement consumer first reads the latest of every subject again (at or
   * below the highest read): nothing to count there.
   */
  #countSkipped(sequence: number): void {
    const last = this.#readSequence;
    if (sequence <= last) return;
    this.#readSequence = sequence;
    // Every own sequence held is above the highest read: those up to `sequence` go now.
    const own = this.#ownSequences;
    own.delete(sequence);
    let skipped = sequence - last - 1;
    if (skipped > 0 && own.size > 0) {
      // Own writes among the skipped were fanned out on their ack. Walk the shorter side.
      if (skipped <= own.size) {
        for (let passed = last + 1; passed < sequence; passed++) if (own.delete(passed)) skipped--;
      } else {
        for (const passed of own) {
          if (passed < sequence) {
            own.delete(passed);
            skipped--;
          }
        }
      }
    }
    if (this.#counting && skipped > 0) this.#coalesced += skipped;
  }

  /** A write of this instance at `sequence`: already fanned out, never counted as skipped. */
  #noteOwnWrite(sequence: number): void {
    // The consumer may have read it before the ack arrived.
    if (sequence > this.#readSequence) this.#ownSequences.add(sequence);
  }

  #warnOnce(key: string, message: string, fields: Record<string, unknown>): void {
    const held = this.#readWarnings.take(key);
    if (held !== undefined) this.#logger.warn({ ...fields, heldBackLastMinute: held }, message);
  }
}
