import type { NatsOperation } from '../jetstream/options.js';

/** Every {@link NatsOperation}, in the order metrics list them. */
export const NATS_OPERATIONS: readonly NatsOperation[] = [
  'connect',
  'publish',
  'create_jetstream',
  'create_consumer',
  'pull',
  'read',
  'ack',
];

/**
 * Plain-number counters of the fan-out, read by metrics through collect
 * callbacks at scrape time. The hot path only adds to fields (once per
 * fan-out, not once per write); nothing here allocates.
 */
export interface HubCounters {
  /** Streams opened since start. */
  subscribersTotal: number;
  /** Update frames written (one per subscriber per update, initial events included). */
  writesData: number;
  /** Keep-alive comments written. */
  writesKeepalive: number;
  /** `/livez` and `/readyz` responses sent in full. */
  writesHealthcheck: number;
  /** Sockets that failed while the last write to them was an update frame. */
  writeErrorsData: number;
  /** Sockets that failed while the last write to them was a keep-alive. */
  writeErrorsKeepalive: number;
  /** `/livez` and `/readyz` responses whose connection closed before they were sent in full. */
  writeErrorsHealthcheck: number;
  /** Subscribers destroyed because they read nothing for `slowSubscriberTimeoutMs`. */
  slowSubscribersDropped: number;
  /** Streams ended because they reached their maximum age. */
  streamAgeCloses: number;
  /** Subscriptions refused with 503 because the instance serves `maxSubscribers` streams. */
  shedMaxSubscribers: number;
  /** Subscriptions refused with 503 because the broker is not ready or the instance is shutting down. */
  shedUnavailable: number;
  /** Publishes acknowledged with a new latest timestamp. */
  publishesPublished: number;
  /** Publishes of a timestamp that was already the latest. */
  publishesDuplicate: number;
  /** Publishes older than the latest: accepted, not fanned out. */
  publishesStale: number;
  /** Publishes refused with 400 (key or body). */
  publishesInvalid: number;
  /** Publishes refused with 401 (missing or wrong token). */
  publishesUnauthorized: number;
  /** Publishes answered 503 because the broker could not take them. */
  publishesUnavailable: number;
  /** Fan-outs performed (updates that had at least one local subscriber). */
  fanouts: number;
  /** Failed NATS operations, reported by the broker's `onError`. */
  natsErrors: Record<NatsOperation, number>;
}

/** A zeroed {@link HubCounters}. */
export function createCounters(): HubCounters {
  const natsErrors = {} as Record<NatsOperation, number>;
  for (const operation of NATS_OPERATIONS) natsErrors[operation] = 0;
  return {
    subscribersTotal: 0,
    writesData: 0,
    writesKeepalive: 0,
    writesHealthcheck: 0,
    writeErrorsData: 0,
    writeErrorsKeepalive: 0,
    writeErrorsHealthcheck: 0,
    slowSubscribersDropped: 0,
    streamAgeCloses: 0,
    shedMaxSubscribers: 0,
    shedUnavailable: 0,
    publishesPublished: 0,
    publishesDuplicate: 0,
    publishesStale: 0,
    publishesInvalid: 0,
    publishesUnauthorized: 0,
    publishesUnavailable: 0,
    fanouts: 0,
    natsErrors,
  };
}
