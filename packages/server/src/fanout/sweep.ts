import { KEEPALIVE_FRAME } from '@flagsmith-rt/protocol';
import { frameOf, pick } from './frame.js';
import type { Stats } from './stats.js';
import { endStream, type Subscriber } from './subscriber.js';

/** Shortest and longest pause between two sweeps, in milliseconds. */
const MIN_SWEEP_MS = 10;
const MAX_SWEEP_MS = 1000;

/**
 * How often one sweep over all subscribers runs: a quarter of the shortest
 * deadline it enforces (keep-alive interval, slow-subscriber timeout, shortest
 * stream age if any), between 10 ms and 1 s. A keep-alive therefore goes out
 * between 1x and 1.25x the interval after the last write.
 */
export function sweepIntervalFor(
  keepAliveIntervalMs: number,
  slowSubscriberTimeoutMs: number,
  shortestStreamAgeMs = 0,
): number {
  let shortest = Math.min(keepAliveIntervalMs, slowSubscriberTimeoutMs);
  if (shortestStreamAgeMs > 0) shortest = Math.min(shortest, shortestStreamAgeMs);
  return Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, Math.floor(shortest / 4)));
}

/**
 * Runs `sweep` every `intervalMs` on one unref'd timer (never one timer per
 * subscriber). Returns a function that stops it.
 */
export function startSweeper(intervalMs: number, sweep: () => void): () => void {
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** What a sweep enforces. */
export interface SweepRules {
  /** A stream with no write for this long gets a keep-alive comment. */
  readonly keepAliveIntervalMs: number;
  /** A stream whose socket takes no bytes for this long is closed. */
  readonly slowSubscriberTimeoutMs: number;
}

/** How long an aged-out stream may stay open after its end was sent. */
const AGED_STREAM_GRACE_MS = 1_000;

// [spec] A line starting with `:` is an SSE comment: clients ignore it, proxies see traffic.
const KEEPALIVE = frameOf(KEEPALIVE_FRAME);

/**
 * One pass over every subscriber: sends due keep-alives, closes subscribers
 * blocked past the timeout, ends streams past their maximum age (`ageAt`),
 * destroys aged streams still open after their grace (`graceAt`), and
 * `remove`s subscribers whose sink was destroyed without a `close`.
 */
export function sweepSubscribers(
  environments: Iterable<Set<Subscriber>>,
  now: number,
  rules: SweepRules,
  stats: Stats,
  remove: (subscriber: Subscriber) => void,
): void {
  const keepAliveBefore = now - rules.keepAliveIntervalMs;
  const blockedBefore = now - rules.slowSubscriberTimeoutMs;
  let keepalives = 0;
  for (const set of environments) {
    for (const subscriber of set) {
      // A transport destroyed without a 'close' reaching us: the subscriber must not
      // stay (a ghost holds a MAX_SUBSCRIBERS slot and is counted as served).
      if (subscriber.sink.destroyed) {
        remove(subscriber);
        continue;
      }
      // Ended by the drain, by age, or dropped: nothing more may be written.
      if (subscriber.ending !== undefined) {
        // An aged-out stream whose client keeps its side open is cut after a grace period.
        if (subscriber.graceAt !== 0 && subscriber.graceAt <= now) subscriber.sink.destroy();
        continue;
      }
      if (subscriber.ageAt !== 0 && subscriber.ageAt <= now) {
        endAged(subscriber, now, stats);
        continue;
      }
      if (subscriber.blockedSince !== 0) {
        if (subscriber.blockedSince <= blockedBefore) {
          subscriber.ending = 'slow';
          stats.slowSubscribersDropped++;
          subscriber.sink.destroy();
        }
        continue;
      }
      if (subscriber.lastWriteAt > keepAliveBefore) continue;
      subscriber.lastWriteAt = now;
      subscriber.lastWriteKind = 'keepalive';
      if (!subscriber.sink.write(pick(KEEPALIVE, subscriber.chunked))) {
        subscriber.blockedSince = now;
      }
      keepalives++;
    }
  }
  stats.writesKeepalive += keepalives;
}

/**
 * Ends a stream that reached its age: the client reconnects (through the
 * load balancer, possibly to another instance) and gets the latest again.
 * A socket that cannot flush is destroyed at once; one that flushed but is
 * not closed by the client within {@link AGED_STREAM_GRACE_MS}, by a later sweep.
 */
function endAged(subscriber: Subscriber, now: number, stats: Stats): void {
  subscriber.ending = 'aged';
  stats.streamAgeCloses++;
  if (subscriber.blockedSince !== 0) {
    subscriber.sink.destroy();
    return;
  }
  subscriber.graceAt = now + AGED_STREAM_GRACE_MS;
  endStream(subscriber);
}
