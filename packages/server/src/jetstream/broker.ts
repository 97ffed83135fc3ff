import { STREAM_SETTINGS } from '@flagsmith-rt/protocol';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  type Broker,
  type BrokerErrorListener,
  type BrokerState,
  BrokerUnavailableError,
  type PublishOutcome,
  type StoredListener,
  type UpdateListener,
} from '../broker/broker.js';
import { BrokerEvents } from '../broker/events.js';
import { LatestStore } from '../broker/latest-store.js';
import { type Clock, systemClock } from '../clock.js';
import { type BrokerLogger, silentLogger } from '../logger.js';
import { Connection } from './connection.js';
import { reported } from './errors.js';
import { StreamFollower } from './follower.js';
import type { JetStreamBrokerOptions, NatsOperation } from './options.js';
import { StreamSetup } from './stream-config.js';
import { UpdateWriter, type WriteCounts } from './writer.js';

/** How long the first read of the stream may take before the instance serves anyway. */
const BACKLOG_WAIT_MS = 10_000;
/** Timeout of stream and consumer management requests. */
const ADMIN_TIMEOUT_MS = 5_000;
const NO_WRITES: Readonly<WriteCounts> = { stored: 0, duplicates: 0, conflicts: 0, readBacks: 0 };

/**
 * The production broker: NATS JetStream shared by every instance. It composes
 * the {@link Connection} (connect, retry, reconnect), the
 * {@link StreamSetup} (create or verify the stream), the {@link StreamFollower} (one ordered consumer
 * that learns the latest of every environment and fans out newer ones) and
 * the {@link UpdateWriter} (compare-and-set writes, one at a time per
 * environment). The latest of each environment is kept in memory for an hour
 * after it was stored, so reads never wait for NATS. Every clock read goes
 * through the `now` option.
 */
export class JetStreamBroker implements Broker {
  /** Adapter name for logs. */
  readonly kind = 'jetstream' as const;
  readonly #options: JetStreamBrokerOptions;
  readonly #logger: BrokerLogger;
  readonly #clock: Clock;
  readonly #events: BrokerEvents;
  readonly #store: LatestStore;
  readonly #stream: StreamSetup;
  readonly #follower: StreamFollower;
  #connection: Connection | undefined;
  #jsm: JetStreamManager | undefined;
  #writer: UpdateWriter | undefined;
  #startPromise: Promise<void> | undefined;
  #closePromise: Promise<void> | undefined;

  constructor(options: JetStreamBrokerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.now ?? systemClock;
    this.#events = new BrokerEvents(this.#logger);
    this.#store = new LatestStore({ now: this.#clock });
    this.#stream = new StreamSetup({
      deployment: {
        storage: options.storage ?? STREAM_SETTINGS.storage,
        replicas: options.replicas ?? STREAM_SETTINGS.replicas,
      },
      logger: this.#logger,
      report: this.#report,
    });
    this.#follower = new StreamFollower({
      clock: this.#clock,
      logger: this.#logger,
      report: this.#report,
      store: this.#store,
      events: this.#events,
      isReady: () => this.state === 'ready',
      restore: (environment, updatedAt, over) =>
        this.#writer!.restore(environment, updatedAt, over),
    });
    // A write refused by another writer waits (briefly) for memory to move on: tell it when.
    this.#events.onUpdate((update) => this.#writer?.observed(update.environment));
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

  /** Subscribes to failed NATS operations (as well as the `onError` option). */
  onError(listener: BrokerErrorListener): () => void {
    return this.#events.onError(listener);
  }

  /**
   * Updates this instance never fanned out because a newer one of the same
   * environment replaced them in the stream before its consumer read them
   * (while it lagged, was replaced, or NATS was out of reach). Skipping is by
   * design (clients need only the newest timestamp); this makes it visible.
   * Monotonic, for `flagsmith_sse_updates_coalesced_total`.
   */
  get coalescedUpdates(): number {
    return this.#follower.coalesced;
  }

  /**
   * What this instance's writes met in JetStream: stored, duplicate, refused
   * by compare-and-set (another writer moved the subject first), and the
   * read-backs that followed. Monotonic, for `flagsmith_sse_nats_writes_total`.
   */
  get writeCounts(): Readonly<WriteCounts> {
    return this.#writer?.counts ?? NO_WRITES;
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
    return this.#writer!.publish(environment, updatedAt);
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
    const connection = new Connection(this.#options, {
      clock: this.#clock,
      logger: this.#logger,
      report: this.#report,
      onLost: () => this.#markUnavailable(),
      onReconnect: () => {
        this.#events.setState('ready');
        this.#afterReconnect();
      },
    });
    this.#connection = connection;
    const nc = await connection.open();
    try {
      await connection.setUp(() => this.#setUp(nc));
    } catch (error) {
      this.#writer?.close(new BrokerUnavailableError('The JetStream broker did not start.'));
      throw error;
    }
    if (this.#closePromise !== undefined) return;
    connection.markStarted();
    this.#follower.start();
    if (!nc.isClosed()) this.#events.setState('ready');
    this.#logger.info(
      { broker: this.kind, stream: STREAM_SETTINGS.name, server: nc.getServer() },
      'JetStream broker ready',
    );
  }

  /** One attempt to set up the stream, the writer and the consumer ({@link Connection.setUp} retries). */
  async #setUp(nc: NatsConnection): Promise<void> {
    this.#jsm ??= await reported(this.#report, 'create_jetstream', () =>
      jetstreamManager(nc, { timeout: ADMIN_TIMEOUT_MS }),
    );
    const jsm = this.#jsm;
    await this.#stream.ensure(jsm, nc.info?.version);
    this.#writer ??= new UpdateWriter({
      nc,
      jsm,
      publishTimeoutMs: this.#options.publishTimeoutMs ?? 1_500,
      clock: this.#clock,
      report: this.#report,
      assertReady: () => this.#assertReady(),
      known: (environment) => this.#store.get(environment),
      accept: (...update) => this.#follower.accept(...update),
    });
    await this.#follower.follow(nc, this.#clock() + BACKLOG_WAIT_MS);
  }

  #markUnavailable(): void {
    this.#events.setState('unavailable');
    // Writes waiting on an ack fail now rather than at their timeout.
    const failed = this.#writer?.failInflight(
      new BrokerUnavailableError('Lost the connection to NATS.'),
    );
    if (failed !== undefined && failed > 0) {
      this.#logger.warn(
        { writes: failed },
        'Failed the writes waiting for an acknowledgement (503)',
      );
    }
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
    void this.#stream
      .verify(jsm)
      .then((recreated) => {
        if (recreated) this.#follower.streamRecreated();
      })
      .finally(() => this.#follower.refollow('reconnected'));
  }

  #assertReady(): void {
    if (this.state !== 'ready') {
      throw new BrokerUnavailableError(
        `The JetStream broker is ${this.state}; retry when NATS is reachable.`,
      );
    }
  }

  /** Tells `onError` listeners, then the `onError` option, which must not throw; if it does, that is logged. */
  readonly #report = (operation: NatsOperation, error: unknown): void => {
    this.#events.emitError(operation, error);
    try {
      this.#options.onError?.(operation, error);
    } catch (hookError) {
      this.#logger.error({ err: hookError }, 'onError hook threw');
    }
  };

  async #close(): Promise<void> {
    this.#events.setState('closed');
    this.#writer?.close(new BrokerUnavailableError('The JetStream broker is closed.'));
    this.#follower.halt();
    // Let a start in progress settle first (stop() wakes its retry wait), so its connection is closed too.
    this.#connection?.stop();
    await this.#startPromise?.catch(() => {});
    await this.#follower.close();
    await this.#connection?.close();
    this.#store.close();
    this.#events.clear();
  }
}
