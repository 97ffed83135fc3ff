import {
  ALL_ENVIRONMENTS_SUBJECT,
  decodeUpdateMessage,
  environmentOfSubject,
  STREAM_SETTINGS,
  validateEnvironmentKey,
} from '@flagsmith-rt/protocol';
import {
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import {
  type Broker,
  type BrokerState,
  BrokerUnavailableError,
  type PublishOutcome,
  type StoredListener,
  type UpdateListener,
} from '../broker/broker.js';
import { BrokerEvents } from '../broker/events.js';
import { type LatestEntry, LatestStore } from '../broker/latest-store.js';
import { LogThrottle } from '../log-throttle.js';
import { type BrokerLogger, silentLogger } from '../logger.js';
import { AckedPublisher, PublishRejectedError } from './acked-publisher.js';
import { NatsStartError, StreamConfigMismatchError } from './errors.js';
import {
  type JetStreamBrokerOptions,
  type NatsOperation,
  redactServerUrl,
  toConnectionOptions,
} from './options.js';
import { StartRetry } from './start-retry.js';
import { diffStreamConfig, streamConfigFor } from './stream-config.js';
import {
  restoreUpdate,
  type StoredUpdate,
  storedUpdateOf,
  type UpdateChannel,
  writeUpdate,
} from './writer.js';

/** Wait between attempts to create a replacement consumer. */
const REFOLLOW_DELAY_MS = 250;
/** Timeout of each request that creates the consumer. */
const CONSUMER_CREATE_TIMEOUT_MS = 1_000;
/** Shortest timeout of one connection attempt at start. */
const CONNECT_ATTEMPT_MIN_MS = 500;
/** Timeout of one connection attempt at start (a black-holed address waits this long). */
const CONNECT_ATTEMPT_MS = 2_000;
/** Timeout of stream and consumer management requests. */
const ADMIN_TIMEOUT_MS = 5_000;
/**
 * Start retries back off from this delay, doubling up to {@link START_RETRY_MAX_MS}.
 * The cap keeps the instance ready within about a second of NATS becoming
 * reachable; one attempt a second per process is nothing to a NATS server.
 */
const START_RETRY_MIN_MS = 100;
/** Longest wait between two start attempts (before jitter takes up to half off). */
const START_RETRY_MAX_MS = 1_000;
/** While NATS stays unreachable at start, one log line per this interval, not one per attempt. */
const START_LOG_INTERVAL_MS = 30_000;
/** How long the first read of the stream may take before the instance serves anyway. */
const BACKLOG_WAIT_MS = 10_000;
/** Idle heartbeat the server sends on the consumer's pull. */
const CONSUMER_HEARTBEAT_MS = 1_000;
/** A consumer silent for this long while connected is replaced. */
const CONSUMER_STALL_MS = 3 * CONSUMER_HEARTBEAT_MS;
/** Lifetime of one pull request. */
const CONSUMER_PULL_EXPIRES_MS = 10_000;
/** How long close() lets the connection drain before closing it hard. */
const DRAIN_TIMEOUT_MS = 2_000;

interface Waiter {
  readonly updatedAt: number;
  resolve(outcome: PublishOutcome): void;
  reject(error: unknown): void;
}

/**
 * The production broker: NATS JetStream shared by every instance.
 *
 * - Writes go to `flagsmith.environment.<env>` with `Nats-Msg-Id` (dedupe)
 *   and the subject's expected last sequence (optimistic concurrency), so an
 *   environment's timestamp never goes backwards even with many instances.
 * - One ordered consumer (`deliver_policy: last_per_subject`) follows every
 *   environment; it learns the latest of each at start and recreates itself
 *   after gaps and reconnects.
 * - The latest of each environment is kept in memory for an hour after it
 *   was stored, so reads never wait for NATS.
 */
export class JetStreamBroker implements Broker {
  /** Adapter name for logs. */
  readonly kind = 'jetstream' as const;
  readonly #options: JetStreamBrokerOptions;
  readonly #logger: BrokerLogger;
  readonly #events: BrokerEvents;
  readonly #store: LatestStore;
  readonly #now: () => number;
  readonly #queues = new Map<string, Waiter[]>();
  /** Environment -> timestamp fanned out on its ack, whose message time is not known yet. */
  readonly #unstamped = new Map<string, number>();
  #nc: NatsConnection | undefined;
  #publisher: AckedPublisher | undefined;
  #jsm: JetStreamManager | undefined;
  #messages: ConsumerMessages | undefined;
  #startPromise: Promise<void> | undefined;
  /** The retry loop of a start in progress; close() stops it. */
  #startRetry: StartRetry | undefined;
  #closePromise: Promise<void> | undefined;
  #started = false;
  #turn: Promise<void> | undefined;
  /** Rejecters of requests waiting on NATS, failed at once when the connection is lost. */
  readonly #inflight = new Set<(error: unknown) => void>();
  #refollowTimer: ReturnType<typeof setTimeout> | undefined;
  #refollowing = false;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  /** Real time of the consumer's last sign of life (message, heartbeat, pull timeout). */
  #consumerActiveAt = 0;
  /** Creation time of the stream being followed: a different one means it was recreated. */
  #streamCreated: string | undefined;
  /** One warning per environment per minute about messages from careless direct publishers. */
  readonly #readWarnings = new LogThrottle();
  /** The write path's NATS calls (shared with `publishUpdate` through `writeUpdate`). */
  readonly #channel: UpdateChannel = {
    publish: (subject, payload, headers) => {
      this.#assertReady();
      // The publisher fails this at once if the connection is lost (#failInflight).
      return this.#publisher!.publish(subject, payload, headers);
    },
    isConflict: isWrongLastSequence,
    readLast: (subject) => this.#readLast(subject),
  };

  constructor(options: JetStreamBrokerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#events = new BrokerEvents(this.#logger);
    this.#store = new LatestStore({ now: this.#now });
  }

  /** Current connectivity. */
  get state(): BrokerState {
    return this.#events.state;
  }

  /** Registers a state listener. */
  onStateChange(listener: (state: BrokerState) => void): () => void {
    return this.#events.onStateChange(listener);
  }

  /** Subscribes to updates of every environment (each newer timestamp once). */
  onUpdate(listener: UpdateListener): () => void {
    return this.#events.onUpdate(listener);
  }

  /** Subscribes to the JetStream message time of updates this instance published. */
  onStored(listener: StoredListener): () => void {
    return this.#events.onStored(listener);
  }

  /** The latest timestamp of an environment stored within the last hour, from memory. */
  latest(environment: string): number | undefined {
    return this.#store.latest(environment);
  }

  /**
   * Connects, creates or verifies the stream, and follows it until the
   * latest of every environment is known; resolves once `ready`. Until then
   * the state is `starting`, and NATS is retried forever with a capped,
   * jittered backoff (an instance that starts before NATS must not crash-loop).
   * Rejects with {@link StreamConfigMismatchError} if the stream has other
   * settings (a configuration error: the app exits instead of serving 503s
   * forever), and with {@link NatsStartError} only when `startTimeoutMs` is
   * set and passes. The same promise is returned on every call.
   */
  start(): Promise<void> {
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  /**
   * Publishes an update; resolves after the JetStream acknowledgement.
   * Rejects at once with {@link BrokerUnavailableError} while disconnected.
   */
  async publish(environment: string, updatedAt: number): Promise<PublishOutcome> {
    this.#assertReady();
    const known = this.#store.get(environment);
    if (known !== undefined && updatedAt <= known.updatedAt) {
      return updatedAt === known.updatedAt ? 'duplicate' : 'stale';
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

  /** Stops following, drains the connection and forgets everything. Idempotent. */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #start(): Promise<void> {
    if (this.#closePromise !== undefined) {
      throw new BrokerUnavailableError('The JetStream broker is closed.');
    }
    const startTimeoutMs = this.#options.startTimeoutMs;
    const deadline = startTimeoutMs === undefined ? undefined : Date.now() + startTimeoutMs;
    const retry = new StartRetry({
      logger: this.#logger,
      deadline,
      minDelayMs: START_RETRY_MIN_MS,
      maxDelayMs: START_RETRY_MAX_MS,
      logIntervalMs: START_LOG_INTERVAL_MS,
    });
    this.#startRetry = retry;
    const nc = await this.#connect(retry, startTimeoutMs);
    this.#nc = nc;
    this.#watchConnection(nc);
    try {
      this.#publisher = new AckedPublisher(nc, this.#options.publishTimeoutMs ?? 1_500);
      await this.#setUp(nc, retry);
    } catch (error) {
      this.#publisher?.close(new BrokerUnavailableError('The JetStream broker did not start.'));
      await nc.close().catch(() => {});
      if (
        error instanceof StreamConfigMismatchError ||
        error instanceof NatsStartError ||
        error instanceof BrokerUnavailableError
      ) {
        throw error;
      }
      throw new NatsStartError(
        `Could not set up JetStream stream "${STREAM_SETTINGS.name}" within ${startTimeoutMs} ms: ${messageOf(error)}. ${JETSTREAM_HINT}`,
        { cause: error },
      );
    }
    if (this.#closePromise !== undefined) return;
    this.#started = true;
    this.#startWatchdog();
    if (!nc.isClosed()) this.#events.setState('ready');
    this.#logger.info(
      { broker: this.kind, stream: STREAM_SETTINGS.name, server: nc.getServer() },
      'JetStream broker ready',
    );
  }

  /**
   * Sets up the stream and the consumer, retrying (a NATS cluster may be
   * electing a leader while this instance starts, or JetStream may not be
   * enabled yet). A stream with other settings fails at once.
   */
  async #setUp(nc: NatsConnection, retry: StartRetry): Promise<void> {
    for (;;) {
      try {
        this.#jsm ??= await this.#attempt('create_jetstream', () =>
          jetstreamManager(nc, { timeout: ADMIN_TIMEOUT_MS }),
        );
        this.#streamCreated ??= (await this.#ensureStream(this.#jsm)).created;
        await this.#follow(Date.now() + BACKLOG_WAIT_MS);
        retry.succeeded('JetStream stream and consumer set up');
        return;
      } catch (error) {
        if (error instanceof StreamConfigMismatchError) throw error;
        if (!(await retry.wait(error, `JetStream setup failed; retrying. ${JETSTREAM_HINT}`))) {
          throw this.#closePromise !== undefined
            ? new BrokerUnavailableError('The JetStream broker is closed.')
            : error;
        }
      }
    }
  }

  async #connect(retry: StartRetry, startTimeoutMs: number | undefined): Promise<NatsConnection> {
    const options = toConnectionOptions(this.#options);
    for (;;) {
      try {
        // One attempt must not outlive the start deadline (a failed TLS handshake waits for the timeout).
        const remaining = retry.remainingMs() ?? Number.POSITIVE_INFINITY;
        const nc = await connect({
          ...options,
          timeout: Math.max(
            CONNECT_ATTEMPT_MIN_MS,
            Math.min(options.timeout ?? CONNECT_ATTEMPT_MS, CONNECT_ATTEMPT_MS, remaining),
          ),
        });
        retry.succeeded('Connected to NATS', { server: nc.getServer() });
        return nc;
      } catch (error) {
        this.#report('connect', error);
        const again = await retry.wait(error, 'NATS not reachable yet; retrying', {
          servers: this.#safeServers(),
        });
        if (again) continue;
        if (this.#closePromise !== undefined) {
          throw new BrokerUnavailableError('The JetStream broker is closed.', { cause: error });
        }
        throw new NatsStartError(
          `Could not connect to NATS at ${this.#safeServers().join(', ')} within ${startTimeoutMs} ms (${retry.attempts} attempts): ${messageOf(error)}`,
          { cause: error },
        );
      }
    }
  }

  #watchConnection(nc: NatsConnection): void {
    void (async () => {
      for await (const status of nc.status()) {
        switch (status.type) {
          case 'disconnect':
          case 'staleConnection':
            this.#logger.warn({ status: status.type }, 'Lost the NATS connection; reconnecting');
            // A lost connection is a failed connect for metrics (flagsmith_sse_nats_errors_total).
            this.#report('connect', new Error(`NATS connection lost (${status.type})`));
            this.#markUnavailable();
            break;
          case 'reconnect':
            this.#logger.info({ server: status.server }, 'Reconnected to NATS');
            if (this.#started && this.#closePromise === undefined) {
              this.#events.setState('ready');
              this.#afterReconnect();
            }
            break;
          case 'error':
            this.#report('connect', status.error);
            break;
          case 'close':
            // Only close() or a reconnect abort (e.g. rejected credentials) end the connection.
            if (this.#closePromise === undefined && this.#started) {
              this.#logger.error({}, 'The NATS connection closed for good; restart this instance');
              this.#report('connect', new Error('NATS connection closed'));
              this.#markUnavailable();
            }
            break;
          default:
            break;
        }
      }
    })().catch((error) => this.#logger.error({ err: error }, 'NATS status watcher failed'));
  }

  #markUnavailable(): void {
    if (!this.#started || this.#closePromise !== undefined) return;
    this.#events.setState('unavailable');
    // Publishes waiting on an ack fail now rather than at their timeout.
    this.#failInflight(new BrokerUnavailableError('Lost the connection to NATS.'));
  }

  /**
   * After a reconnect: checks that the stream still exists (a memory-storage
   * stream is lost when its server restarts; it is created again here or by
   * another instance), then follows it again from the latest of every
   * subject. The old consumer may have died with its node, and nats.js can
   * keep waiting on it while a cluster elects leaders; the new one re-reads
   * what was written meanwhile, and only newer timestamps are fanned out.
   */
  #afterReconnect(): void {
    const jsm = this.#jsm;
    if (jsm === undefined) return;
    this.#ensureStream(jsm)
      .then((info) => {
        if (info.created !== this.#streamCreated) {
          this.#logger.warn({ stream: STREAM_SETTINGS.name }, 'The stream was recreated');
        }
        this.#streamCreated = info.created;
      })
      .catch((error) => {
        this.#report('create_jetstream', error);
        this.#logger.error(
          { err: messageOf(error) },
          'Could not verify the stream after reconnecting',
        );
      })
      .finally(() => this.#refollow('reconnected'));
  }

  /** Creates the stream, or verifies an existing one. Resolves its info. */
  async #ensureStream(jsm: JetStreamManager): Promise<StreamInfo> {
    const expected = streamConfigFor({
      storage: this.#options.storage ?? STREAM_SETTINGS.storage,
      replicas: this.#options.replicas ?? STREAM_SETTINGS.replicas,
    });
    let info: StreamInfo | undefined = await this.#attempt('create_jetstream', () =>
      jsm.streams.info(expected.name).catch((error: unknown) => {
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
          return undefined;
        }
        throw error;
      }),
    );
    if (info === undefined) {
      try {
        const created = await jsm.streams.add(expected);
        this.#logger.info({ stream: expected.name }, 'Created the JetStream stream');
        return created;
      } catch (error) {
        // Another instance may have created it first; verify what is there.
        this.#report('create_jetstream', error);
        info = await this.#attempt('create_jetstream', () => jsm.streams.info(expected.name));
      }
    }
    const differences = diffStreamConfig(expected, info.config);
    if (differences.length > 0) throw new StreamConfigMismatchError(expected.name, differences);
    return info;
  }

  /** Starts the ordered consumer; with a deadline, waits (until then) for the backlog. */
  async #follow(deadline?: number): Promise<void> {
    // A short timeout: while a cluster elects leaders, a new attempt soon beats a long wait.
    const js = jetstream(this.#nc!, { timeout: CONSUMER_CREATE_TIMEOUT_MS });
    const consumer = await this.#attempt('create_consumer', () =>
      js.consumers.get(STREAM_SETTINGS.name, {
        // A single string becomes `filter_subject`, which nats-server 2.9 understands.
        filter_subjects: ALL_ENVIRONMENTS_SUBJECT,
        deliver_policy: DeliverPolicy.LastPerSubject,
      }),
    );
    const info = await this.#attempt('create_consumer', () => consumer.info(true));
    let caughtUp!: () => void;
    const backlogDone = new Promise<void>((resolve) => {
      caughtUp = resolve;
    });
    if (info.num_pending === 0) caughtUp();
    const messages = await this.#attempt('create_consumer', () =>
      consumer.consume({
        // Heartbeats every 2 s let the watchdog notice a consumer lost with its
        // NATS node while our own connection is fine.
        idle_heartbeat: CONSUMER_HEARTBEAT_MS,
        expires: CONSUMER_PULL_EXPIRES_MS,
        callback: (msg) => {
          this.#consumerActiveAt = Date.now();
          this.#onMessage(msg);
          if (msg.info.pending === 0) caughtUp();
        },
      }),
    );
    this.#messages = messages;
    this.#consumerActiveAt = Date.now();
    this.#watchConsumer(messages);
    if (deadline === undefined) return;
    const remaining = Math.max(0, deadline - Date.now());
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

  #watchConsumer(messages: ConsumerMessages): void {
    void (async () => {
      for await (const note of messages.status()) {
        if (this.#messages !== messages) break;
        // Heartbeats and pull timeouts come from the server: the consumer is alive.
        if (note.type === 'heartbeat' || note.type === 'debug' || note.type === 'discard') {
          this.#consumerActiveAt = Date.now();
        }
        if (note.type === 'consumer_deleted') {
          this.#refollow('the consumer was deleted on the server');
          break;
        }
        if (note.type === 'ordered_consumer_recreated') {
          this.#logger.info({ consumer: note.name }, 'Ordered consumer recreated');
        } else if (note.type === 'heartbeats_missed') {
          this.#logger.warn({ count: note.count }, 'Consumer heartbeats missed');
          this.#report('pull', new Error(`${note.count} consumer heartbeats missed`));
          // Our connection is fine (or the state would not be ready), so the consumer
          // died with another NATS node, e.g. one stopped gracefully: nothing else
          // tells us. Replace it now rather than at the watchdog's threshold.
          if (this.state === 'ready' && note.count >= 2) {
            this.#refollow(`${note.count} consumer heartbeats missed`);
            break;
          }
        }
      }
    })().catch(() => {});
    void messages.closed().then((error) => {
      if (this.#closePromise !== undefined || this.#messages !== messages) return;
      this.#report('pull', error ?? new Error('consumer stopped'));
      this.#refollow(`the consumer stopped: ${messageOf(error)}`);
    });
  }

  /**
   * Replaces the consumer with a new one that starts from the latest of
   * every subject, retrying until it is created.
   */
  #refollow(reason: string): void {
    if (this.#refollowing || this.#closePromise !== undefined) return;
    this.#refollowing = true;
    this.#logger.warn({ reason }, 'Following the stream again');
    const old = this.#messages;
    this.#messages = undefined;
    void old?.close().catch(() => {});
    const attempt = (): void => {
      if (this.#closePromise !== undefined) return;
      this.#follow().then(
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
   * Checks that the consumer shows signs of life (a message, a heartbeat or a
   * pull timeout) while connected; a silent one is replaced. This covers a
   * consumer lost with its NATS node while our connection stays up.
   */
  #startWatchdog(): void {
    this.#watchdog = setInterval(() => {
      const silentFor = Date.now() - this.#consumerActiveAt;
      if (this.state === 'ready' && !this.#refollowing && silentFor > CONSUMER_STALL_MS) {
        this.#report('pull', new Error(`no consumer activity for ${silentFor} ms`));
        this.#refollow(`no consumer activity for ${silentFor} ms`);
      }
    }, CONSUMER_HEARTBEAT_MS / 2);
    this.#watchdog.unref();
  }

  #onMessage(msg: JsMsg): void {
    try {
      const environment = environmentOfSubject(msg.subject);
      if (environment === undefined || !validateEnvironmentKey(environment).ok) {
        this.#logger.warn(
          { subject: msg.subject, seq: msg.seq },
          'Skipped a message on a bad subject',
        );
        return;
      }
      const known = this.#store.get(environment);
      // The newest message of the subject so far: it replaced the stream's latest.
      const replacedLatest = known !== undefined && msg.seq > known.sequence;
      const decoded = decodeUpdateMessage(msg.data);
      if (!decoded.ok) {
        // A direct publisher wrote something else: counted as a failed read, logged once a minute.
        this.#report('read', new Error(decoded.error.message));
        this.#warnOnce(environment, 'Skipped a message that is not an update', {
          environment,
          seq: msg.seq,
          error: decoded.error.code,
        });
        this.#store.noteSequence(environment, msg.seq);
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
        this.#store.noteSequence(environment, msg.seq);
        this.#restore(environment, known, msg.seq);
        return;
      }
      this.#accept(environment, decoded.value, msg.time.getTime(), msg.seq);
    } catch (error) {
      // Never let a message stop the consumer.
      this.#report('read', error);
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
    if (this.state !== 'ready') return;
    restoreUpdate(this.#channel, environment, latest.updatedAt, overSequence).then(
      (ack) => {
        if (ack !== undefined && !ack.duplicate) this.#store.noteSequence(environment, ack.seq);
      },
      (error: unknown) => {
        this.#report('publish', error);
        this.#warnOnce(`${environment}:restore`, 'Could not write the latest timestamp back', {
          environment,
          err: messageOf(error),
        });
      },
    );
  }

  #warnOnce(key: string, message: string, fields: Record<string, unknown>): void {
    const held = this.#readWarnings.take(key);
    if (held !== undefined) this.#logger.warn({ ...fields, heldBackLastMinute: held }, message);
  }

  /**
   * Records a durable update and fans it out if it is newer. `stamped` says
   * whether `storedAt` is the JetStream message time (read from the stream)
   * or only this clock's send time (an acknowledged publish): the latter is
   * fanned out with `storedAt: undefined` and stamped when the consumer
   * delivers the message.
   */
  #accept(
    environment: string,
    updatedAt: number,
    storedAt: number,
    sequence: number,
    stamped = true,
  ): void {
    if (this.#store.offer(environment, updatedAt, storedAt, sequence)) {
      if (stamped) {
        this.#unstamped.delete(environment);
        this.#events.emitUpdate({ environment, updatedAt, storedAt });
      } else {
        this.#unstamped.set(environment, updatedAt);
        this.#events.emitUpdate({ environment, updatedAt, storedAt: undefined });
      }
    } else if (stamped && this.#unstamped.get(environment) === updatedAt) {
      this.#unstamped.delete(environment);
      this.#events.emitStored(environment, updatedAt, storedAt);
    }
  }

  /**
   * Writes the newest waiting timestamp of an environment, one write at a
   * time per environment. Waiters with an older timestamp are answered
   * `stale` once the newer one is durable; they share its failure otherwise.
   */
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

  /** One write through the shared write path ({@link writeUpdate}), with this instance's memory. */
  async #write(environment: string, updatedAt: number): Promise<PublishOutcome> {
    let result: Awaited<ReturnType<typeof writeUpdate>>;
    try {
      result = await writeUpdate(this.#channel, environment, updatedAt, {
        known: () => this.#store.get(environment),
        onRead: (last) => {
          if (last.updatedAt !== undefined) {
            this.#accept(environment, last.updatedAt, last.storedAt, last.sequence);
          }
        },
      });
    } catch (error) {
      // A conflict that outlasted the retries (PublishConflictError) is a 503 like any failed
      // write: the publisher retries later.
      throw this.#unavailable('publish', error);
    }
    if (result.outcome === 'published') {
      // Fanned out now; the ack carries no timestamp, so the message time is
      // passed on (onStored) when the consumer reads the message back.
      this.#accept(environment, updatedAt, this.#now(), result.sequence ?? 0, false);
    }
    return result.outcome;
  }

  async #readLast(subject: string): Promise<StoredUpdate | undefined> {
    let stored: Awaited<ReturnType<JetStreamManager['direct']['getMessage']>>;
    try {
      stored = await this.#guard(
        this.#jsm!.direct.getMessage(STREAM_SETTINGS.name, { last_by_subj: subject }),
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

  #failInflight(error: BrokerUnavailableError): void {
    this.#publisher?.failAll(error);
    for (const reject of this.#inflight) reject(error);
    this.#inflight.clear();
  }

  #safeServers(): string[] {
    return this.#options.servers.map(redactServerUrl);
  }

  #assertReady(): void {
    if (this.state !== 'ready') {
      throw new BrokerUnavailableError(
        `The JetStream broker is ${this.state}; retry when NATS is reachable.`,
      );
    }
  }

  #unavailable(operation: NatsOperation, error: unknown): BrokerUnavailableError {
    if (error instanceof BrokerUnavailableError) return error;
    this.#report(operation, error);
    return new BrokerUnavailableError(`NATS could not take the ${operation}: ${messageOf(error)}`, {
      cause: error,
    });
  }

  async #attempt<T>(operation: NatsOperation, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      this.#report(operation, error);
      throw error;
    }
  }

  #report(operation: NatsOperation, error: unknown): void {
    try {
      this.#options.onError?.(operation, error);
    } catch (hookError) {
      this.#logger.error({ err: hookError }, 'onError hook threw');
    }
  }

  async #close(): Promise<void> {
    this.#events.setState('closed');
    this.#publisher?.close(new BrokerUnavailableError('The JetStream broker is closed.'));
    this.#failInflight(new BrokerUnavailableError('The JetStream broker is closed.'));
    if (this.#refollowTimer !== undefined) clearTimeout(this.#refollowTimer);
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    // Let a start in progress settle first (close() wakes its retry wait), so its connection is closed too.
    this.#startRetry?.stop();
    await this.#startPromise?.catch(() => {});
    const messages = this.#messages;
    this.#messages = undefined;
    await messages?.close().catch(() => {});
    const nc = this.#nc;
    if (nc !== undefined && !nc.isClosed()) {
      const drained = await Promise.race([
        nc.drain().then(
          () => true,
          () => false,
        ),
        sleep(DRAIN_TIMEOUT_MS, false).then(() => false),
      ]);
      if (!drained) await nc.close().catch(() => {});
    }
    this.#store.close();
    this.#events.clear();
  }
}

/** Said whenever setting up the stream fails: the usual cause. */
const JETSTREAM_HINT = 'Check that the NATS server runs with JetStream enabled.';

function isWrongLastSequence(error: unknown): boolean {
  return error instanceof PublishRejectedError && error.isWrongLastSequence;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, keepAlive = true): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (!keepAlive) timer.unref();
  });
}
