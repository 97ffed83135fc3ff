/** An update as the broker delivers it to the fan-out. */
export interface BrokerUpdate {
  /** Validated environment key. */
  readonly environment: string;
  /** The publisher's timestamp, epoch seconds. */
  readonly updatedAt: number;
  /**
   * When the broker accepted it, epoch milliseconds: the JetStream message
   * time, or the embedded broker's accept time.
   * `flagsmith_sse_delivery_latency_seconds` is measured from here.
   * `undefined` for an update this instance published to JetStream, fanned
   * out on the acknowledgement, which carries no timestamp: the message time
   * follows through {@link Broker.onStored} when the stream delivers it.
   */
  readonly storedAt: number | undefined;
}

/**
 * What happened to a publish. Every outcome is a success for the publisher
 * (the service answers 2xx): the update is durably known to the broker.
 * - `published`: a new latest timestamp, written and acknowledged.
 * - `duplicate`: the same environment and timestamp was already the latest.
 * - `stale`: older than the environment's latest; accepted, not fanned out.
 */
export type PublishOutcome = 'published' | 'duplicate' | 'stale';

/**
 * Broker connectivity, as reported to readiness and metrics.
 * - `starting`: not ready yet; for JetStream, NATS was never reached (or its
 *   stream is being set up) and the broker keeps retrying.
 * - `ready`: publishes and subscriptions can be served.
 * - `unavailable`: was ready, lost NATS, reconnecting.
 * - `closed`: final.
 */
export type BrokerState = 'starting' | 'ready' | 'unavailable' | 'closed';

/**
 * What a `503 broker_unavailable` says in each state that is not `ready`:
 * the SSE stream and `queue-change` use the same words.
 */
export function brokerUnavailableMessage(state: BrokerState): string {
  switch (state) {
    case 'starting':
      return 'NATS is not reachable yet; this instance keeps retrying. Retry later.';
    case 'unavailable':
      return 'Lost the connection to NATS; reconnecting. Retry later.';
    case 'closed':
      return 'The message broker is closed; this instance is stopping.';
    default:
      return 'The message broker is unavailable; retry later.';
  }
}

/** Listener for updates from every environment, called synchronously in order. */
export type UpdateListener = (update: BrokerUpdate) => void;

/** Listener for the stored time of an update first delivered without one. */
export type StoredListener = (environment: string, updatedAt: number, storedAt: number) => void;

/**
 * Listener for a failed operation of the broker, e.g. a NATS `connect` or
 * `publish`; `operation` names it (metrics count by it).
 */
export type BrokerErrorListener = (operation: string, error: unknown) => void;

/**
 * The one interface between the HTTP layer and where updates travel: NATS
 * JetStream in production, an in-process store for a single instance.
 * Adapters keep the latest timestamp of every environment in memory, so
 * {@link Broker.latest} never makes a network round trip.
 */
export interface Broker {
  /** Adapter name for logs: `jetstream` or `embedded`. */
  readonly kind: 'jetstream' | 'embedded';
  /**
   * Connects, creates or verifies the stream, starts following updates, and
   * resolves once ready. Calling it again returns the same promise. Rejects
   * only on what retrying cannot fix (for JetStream: a stream with other
   * settings; or the optional start timeout).
   */
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
  /**
   * Subscribes to the stored time of updates that were delivered with
   * `storedAt: undefined`, once the broker learns it. Returns an unsubscribe
   * function. Optional: a broker that always knows `storedAt` needs none.
   */
  onStored?(listener: StoredListener): () => void;
  /**
   * Subscribes to the broker's failed operations. Returns an unsubscribe
   * function. Optional: a broker with nothing that can fail needs none.
   */
  onError?(listener: BrokerErrorListener): () => void;
  /**
   * Updates never fanned out here because a newer one of the same environment
   * replaced them first (a monotonic count, for metrics). Only a broker that
   * can skip has it (JetStream: see `JetStreamBroker.coalescedUpdates`).
   */
  readonly coalescedUpdates?: number;
  /**
   * What the broker's writes met (monotonic counts, for metrics). Only a
   * broker whose writes can conflict has it (JetStream: see
   * `JetStreamBroker.writeCounts`).
   */
  readonly writeCounts?: Readonly<BrokerWriteCounts>;
  /** Stops following, drains and closes connections. Idempotent. */
  close(): Promise<void>;
}

/** What a broker's writes met: see {@link Broker.writeCounts}. */
export interface BrokerWriteCounts {
  /** Writes stored. */
  readonly stored: number;
  /** Writes found already stored (same message id). */
  readonly duplicates: number;
  /** Writes refused because another write to the same environment came first. */
  readonly conflicts: number;
  /** Reads of an environment's stored update that followed a refused write. */
  readonly readBacks: number;
}

/** The broker cannot take a publish or serve a subscription right now; retry later. */
export class BrokerUnavailableError extends Error {
  override readonly name = 'BrokerUnavailableError';
  readonly code = 'broker_unavailable' as const;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
