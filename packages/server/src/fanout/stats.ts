import type { PublishOutcome } from '../broker/broker.js';
import type { HttpErrorCode } from '../errors.js';
import { LatencySamples } from './latency.js';

/**
 * Plain-number counters of one plugin instance, read by metrics through
 * collect callbacks at scrape time. Each fact is counted in one place: the
 * hub adds its own (writes, drops, closes) to the fields, once per fan-out
 * rather than once per write; the routes and the broker call the methods.
 * Nothing here allocates on a hot path.
 */
export class Stats {
  /** Streams opened since start. */
  subscribersTotal = 0;
  /** Update frames written (one per subscriber per update, initial events included). */
  writesData = 0;
  /** Keep-alive comments written. */
  writesKeepalive = 0;
  /** `/livez` and `/readyz` responses sent in full. */
  writesHealthcheck = 0;
  /** Sockets that failed while the last write to them was an update frame. */
  writeErrorsData = 0;
  /** Sockets that failed while the last write to them was a keep-alive. */
  writeErrorsKeepalive = 0;
  /** `/livez` and `/readyz` responses whose connection closed before they were sent in full. */
  writeErrorsHealthcheck = 0;
  /** Subscribers destroyed because they read nothing for `slowSubscriberTimeoutMs`. */
  slowSubscribersDropped = 0;
  /** Streams ended because they reached their maximum age. */
  streamAgeCloses = 0;
  /** Subscriptions refused with 503 because the instance serves `maxSubscribers` streams. */
  shedMaxSubscribers = 0;
  /** Subscriptions refused with 503 because the broker is not ready or the instance is shutting down. */
  shedUnavailable = 0;
  /** Publishes acknowledged with a new latest timestamp. */
  publishesPublished = 0;
  /** Publishes of a timestamp that was already the latest. */
  publishesDuplicate = 0;
  /** Publishes older than the latest: accepted, not fanned out. */
  publishesStale = 0;
  /** Publishes refused with 400 (key or body). */
  publishesInvalid = 0;
  /** Publishes refused with 401 (missing or wrong token). */
  publishesUnauthorized = 0;
  /** Publishes answered 503 because the broker could not take them. */
  publishesUnavailable = 0;
  /** Fan-outs performed (updates that had at least one local subscriber). */
  fanouts = 0;
  /** Failed broker operations by name, reported through `Broker.onError`. */
  readonly brokerErrors = new Map<string, number>();
  /** Delivery latency samples: the update's acceptance (`storedAt`) to the last write of its fan-out. */
  readonly latency = new LatencySamples();

  /** A publish the broker took, by what it did with it. */
  published(outcome: PublishOutcome): void {
    if (outcome === 'published') this.publishesPublished++;
    else if (outcome === 'duplicate') this.publishesDuplicate++;
    else this.publishesStale++;
  }

  /** A publish answered with `statusCode`; only refusals (4xx, 503) count. */
  publishAnswered(statusCode: number): void {
    if (statusCode === 401) this.publishesUnauthorized++;
    else if (statusCode === 503) this.publishesUnavailable++;
    else if (statusCode >= 400 && statusCode < 500) this.publishesInvalid++;
  }

  /** A subscription refused with a `503` of this code. */
  shed(code: HttpErrorCode): void {
    if (code === 'too_many_subscribers') this.shedMaxSubscribers++;
    else this.shedUnavailable++;
  }

  /** A probe response closed: sent in full (`finished`) or cut by its connection. */
  healthcheckClosed(finished: boolean): void {
    if (finished) this.writesHealthcheck++;
    else this.writeErrorsHealthcheck++;
  }

  /** A failed broker operation (the plugin wires it to `Broker.onError`). */
  readonly brokerError = (operation: string): void => {
    this.brokerErrors.set(operation, (this.brokerErrors.get(operation) ?? 0) + 1);
  };
}
