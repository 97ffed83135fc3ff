import { type Clock, systemClock } from '../clock.js';
import { type BrokerLogger, silentLogger } from '../logger.js';
import {
  type Broker,
  type BrokerState,
  BrokerUnavailableError,
  type PublishOutcome,
  type UpdateListener,
} from './broker.js';
import { BrokerEvents } from './events.js';
import { LatestStore } from './latest-store.js';

/** Options of {@link EmbeddedBroker}. */
export interface EmbeddedBrokerOptions {
  /**
   * Where lifecycle messages go.
   * @defaultValue a logger that drops everything
   */
  logger?: BrokerLogger;
  /**
   * Clock in epoch milliseconds, used as the stored time of updates (tests inject one).
   * @defaultValue `systemClock`
   */
  now?: Clock;
}

/**
 * An in-process broker for a single instance (development, tests, tiny
 * deployments). It keeps the same rules as JetStream: the same environment
 * and timestamp is delivered once, timestamps never go backwards, the latest
 * is remembered for an hour. It shares nothing with other processes.
 */
export class EmbeddedBroker implements Broker {
  /** Adapter name for logs. */
  readonly kind = 'embedded' as const;
  readonly #events: BrokerEvents;
  readonly #store: LatestStore;
  readonly #logger: BrokerLogger;
  readonly #now: Clock;

  constructor(options: EmbeddedBrokerOptions = {}) {
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? systemClock;
    this.#events = new BrokerEvents(this.#logger);
    this.#store = new LatestStore({ now: this.#now });
  }

  /** Current state: `ready` after {@link EmbeddedBroker.start}, `closed` after close. */
  get state(): BrokerState {
    return this.#events.state;
  }

  /** Becomes ready at once. */
  async start(): Promise<void> {
    if (this.state === 'closed') throw new BrokerUnavailableError('The embedded broker is closed.');
    this.#logger.warn(
      { broker: this.kind },
      'Using the embedded broker: updates stay inside this process and are not shared with other instances. Run a single instance, or configure NATS JetStream.',
    );
    this.#events.setState('ready');
  }

  /** Registers a state listener. */
  onStateChange(listener: (state: BrokerState) => void): () => void {
    return this.#events.onStateChange(listener);
  }

  /**
   * Records an update and delivers it to the listeners synchronously, before
   * resolving, if it is newer than the environment's latest.
   */
  async publish(environment: string, updatedAt: number): Promise<PublishOutcome> {
    if (this.state !== 'ready') {
      throw new BrokerUnavailableError(`The embedded broker is ${this.state}, not ready.`);
    }
    const current = this.#store.latest(environment);
    if (current !== undefined && updatedAt === current) return 'duplicate';
    if (current !== undefined && updatedAt < current) return 'stale';
    const storedAt = this.#now();
    this.#store.offer(environment, updatedAt, storedAt);
    this.#events.emitUpdate({ environment, updatedAt, storedAt });
    return 'published';
  }

  /** The latest timestamp of an environment stored within the last hour. */
  latest(environment: string): number | undefined {
    return this.#store.latest(environment);
  }

  /** Subscribes to updates of every environment. */
  onUpdate(listener: UpdateListener): () => void {
    return this.#events.onUpdate(listener);
  }

  /** Forgets everything and stops. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.#events.setState('closed');
    this.#events.clear();
    this.#store.close();
  }
}
