/**
 * Plain-number counters of the fan-out, read by metrics through collect
 * callbacks. The hot path only increments fields; nothing here allocates.
 */
export interface HubCounters {
  /** Streams opened since start. */
  subscribersTotal: number;
  /** Update frames written (one per subscriber per update, initial events included). */
  writesData: number;
  /** Keep-alive comments written. */
  writesKeepalive: number;
  /** Sockets that failed while the last write to them was an update frame. */
  writeErrorsData: number;
  /** Sockets that failed while the last write to them was a keep-alive. */
  writeErrorsKeepalive: number;
  /** Subscribers destroyed because they read nothing for `slowSubscriberTimeoutMs`. */
  slowSubscribersDropped: number;
  /** Subscriptions refused: broker not ready, subscriber limit, or shutting down. */
  subscriptionsRejected: number;
  /** Publishes acknowledged with a new latest timestamp. */
  publishesPublished: number;
  /** Publishes of a timestamp that was already the latest. */
  publishesDuplicate: number;
  /** Publishes older than the latest: accepted, not fanned out. */
  publishesStale: number;
  /** Publishes refused with 4xx (token, key or body). */
  publishesRejected: number;
  /** Publishes answered 503 because the broker could not take them. */
  publishesUnavailable: number;
  /** Fan-outs performed (updates that had at least one local subscriber). */
  fanouts: number;
}

/** A zeroed {@link HubCounters}. */
export function createCounters(): HubCounters {
  return {
    subscribersTotal: 0,
    writesData: 0,
    writesKeepalive: 0,
    writeErrorsData: 0,
    writeErrorsKeepalive: 0,
    slowSubscribersDropped: 0,
    subscriptionsRejected: 0,
    publishesPublished: 0,
    publishesDuplicate: 0,
    publishesStale: 0,
    publishesRejected: 0,
    publishesUnavailable: 0,
    fanouts: 0,
  };
}
