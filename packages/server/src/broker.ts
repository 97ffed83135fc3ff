/** An update as the broker delivers it to the fan-out. */
export interface BrokerUpdate {
  /** Validated environment key. */
  readonly environment: string;
  /** The publisher's timestamp, epoch seconds. */
  readonly updatedAt: number;
  /** When the broker stored it (JetStream message time), epoch milliseconds. */
  readonly storedAt: number;
}

/**
 * What happened to a publish. Every outcome is a success for the publisher
 * (the service answers 2xx): the update is durably known to the broker.
 * - `published`: a new latest timestamp, written and acknowledged.
 * - `duplicate`: the same environment and timestamp was already the latest.
 * - `stale`: older than the environment's latest; accepted, not fanned out.
 */
export type PublishOutcome = 'published' | 'duplicate' | 'stale';

/** Broker connectivity, as reported to readiness and metrics. */
export type BrokerState = 'starting' | 'ready' | 'unavailable' | 'closed';

/** Listener for updates from every environment, called synchronously in order. */
export type UpdateListener = (update: BrokerUpdate) => void;

/**
 * The one interface between the HTTP layer and where updates travel: NATS
 * JetStream in production, an in-process store for a single instance.
 * Adapters keep the latest timestamp of every environment in memory, so
 * {@link Broker.latest} never makes a network round trip.
 */
export interface Broker {
  /** Adapter name for logs: `jetstream` or `embedded`. */
  readonly kind: 'jetstream' | 'embedded';
  /** Connects, creates or verifies the stream, starts following updates. Rejects if it cannot. */
  start(): Promise<void>;
  /** Current connectivity; `ready` means publishes and subscriptions can be served. */
  readonly state: BrokerState;
  /** Called on every state change. Returns an unsubscribe function. */
  onStateChange(listener: (state: BrokerState) => void): () => void;
  /**
   * Publishes an update and resolves once it is durable (JetStream ack).
   * Never lets an environment's timestamp go backwards.
   * Rejects with {@link BrokerUnavailableError} when the broker cannot take it.
   */
  publish(environment: string, updatedAt: number): Promise<PublishOutcome>;
  /** The latest timestamp of an environment received within the last hour, from memory. */
  latest(environment: string): number | undefined;
  /** Subscribes to updates of every environment (each newer timestamp once). */
  onUpdate(listener: UpdateListener): () => void;
  /** Stops following, drains and closes connections. Idempotent. */
  close(): Promise<void>;
}

/** The broker cannot take a publish or serve a subscription right now; retry later. */
export class BrokerUnavailableError extends Error {
  override readonly name = 'BrokerUnavailableError';
  readonly code = 'broker_unavailable' as const;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
