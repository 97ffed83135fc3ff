import { isAck, type PublishRecord } from './publisher.js';
import type { RawSubscriber } from './subscribers.js';
import { waitFor } from './wait.js';

/** What reached whom. */
export interface DeliveryReport {
  /** Publishes answered with 2xx. */
  acknowledged: number;
  /**
   * (acknowledged update, subscriber of its environment) pairs where the subscriber never got
   * that timestamp or a newer one. The guarantee says 0.
   */
  lost: number;
  /** Subscribers that miss at least one acknowledged update. */
  lostSubscribers: number;
  /**
   * Acknowledged updates that a subscriber connected the whole time (one stream, opened before
   * the publish) did not see individually, because a newer one superseded it. Allowed by the
   * protocol (only the latest matters); reported for information.
   */
  coalesced: number;
}

/** The newest acknowledged timestamp of each environment. */
export function finalTimestamps(records: readonly PublishRecord[]): Map<string, number> {
  const final = new Map<string, number>();
  for (const r of records) {
    if (!isAck(r.status)) continue;
    if (r.updatedAt > (final.get(r.environment) ?? 0)) final.set(r.environment, r.updatedAt);
  }
  return final;
}

/**
 * Counts acknowledged updates that did not reach subscribers. Stalled and test-closed
 * subscribers are left out (a client that stops reading is dropped by design).
 */
export function deliveryReport(
  records: readonly PublishRecord[],
  subscribers: readonly RawSubscriber[],
): DeliveryReport {
  const byEnvironment = new Map<string, PublishRecord[]>();
  let acknowledged = 0;
  for (const r of records) {
    if (!isAck(r.status)) continue;
    acknowledged++;
    let list = byEnvironment.get(r.environment);
    if (!list) {
      list = [];
      byEnvironment.set(r.environment, list);
    }
    list.push(r);
  }
  let lost = 0;
  let lostSubscribers = 0;
  let coalesced = 0;
  for (const s of subscribers) {
    if (s.stalled || s.closed) continue;
    const updates = byEnvironment.get(s.environment);
    if (!updates) continue;
    let missing = 0;
    for (const u of updates) {
      if (u.updatedAt > s.latest) missing++;
      else if (
        s.drops === 0 &&
        s.opens === 1 &&
        s.openedAt < u.sentAt &&
        !s.received.has(u.updatedAt)
      )
        coalesced++;
    }
    lost += missing;
    if (missing > 0) lostSubscribers++;
  }
  return { acknowledged, lost, lostSubscribers, coalesced };
}

/**
 * Waits until every live subscriber holds the final acknowledged timestamp of its environment.
 * Resolves with the time it took, or `undefined` if `timeoutMs` passed first.
 */
export async function waitConverged(
  records: readonly PublishRecord[],
  subscribers: readonly RawSubscriber[],
  timeoutMs: number,
): Promise<number | undefined> {
  const final = finalTimestamps(records);
  const behind = (): number => {
    let n = 0;
    for (const s of subscribers) {
      if (s.stalled || s.closed) continue;
      const target = final.get(s.environment);
      if (target !== undefined && s.latest < target) n++;
    }
    return n;
  };
  try {
    return await waitFor('every subscriber to hold the final timestamp', () => behind() === 0, {
      timeoutMs,
      intervalMs: 50,
      describe: () => `${behind()} subscribers behind`,
    });
  } catch {
    return undefined;
  }
}

/**
 * The window of failed publishes: from the first failure at or after `from` to the end of the
 * last failure (ms), or 0 when none failed.
 */
export function failedPublishWindow(
  records: readonly PublishRecord[],
  from: number,
): { windowMs: number; failed: number; statuses: Record<string, number> } {
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  let failed = 0;
  const statuses: Record<string, number> = {};
  for (const r of records) {
    if (r.sentAt < from || isAck(r.status)) continue;
    failed++;
    statuses[String(r.status)] = (statuses[String(r.status)] ?? 0) + 1;
    first = Math.min(first, r.sentAt);
    last = Math.max(last, r.doneAt);
  }
  return { windowMs: failed === 0 ? 0 : last - first, failed, statuses };
}

/** How long acknowledged updates took to reach every subscriber of their environment. */
export interface DeliveryLag {
  /** Median over updates of (last subscriber's receipt - acknowledgement), ms. */
  p50Ms: number;
  /** 99th percentile of the same, ms. */
  p99Ms: number;
  /** The slowest update, ms. */
  maxMs: number;
  /** When the slowest update was acknowledged (epoch ms). */
  maxAckedAt: number;
}

/**
 * For each acknowledged update, the time from its acknowledgement until the last subscriber
 * of its environment held it (or something newer). Subscribers that never did are left to
 * {@link deliveryReport}.
 */
export function deliveryLag(
  records: readonly PublishRecord[],
  subscribers: readonly RawSubscriber[],
): DeliveryLag {
  const byEnvironment = new Map<string, RawSubscriber[]>();
  for (const s of subscribers) {
    if (s.stalled || s.closed) continue;
    const list = byEnvironment.get(s.environment) ?? [];
    byEnvironment.set(s.environment, list);
    list.push(s);
  }
  const lags: number[] = [];
  let maxMs = 0;
  let maxAckedAt = 0;
  for (const r of records) {
    if (!isAck(r.status)) continue;
    let last = 0;
    for (const s of byEnvironment.get(r.environment) ?? []) {
      const h = s.history;
      for (let i = 0; i < h.length; i += 2) {
        if (h[i]! >= r.updatedAt) {
          last = Math.max(last, h[i + 1]!);
          break;
        }
      }
    }
    if (last === 0) continue;
    const lag = Math.max(0, last - r.doneAt);
    lags.push(lag);
    if (lag > maxMs) {
      maxMs = lag;
      maxAckedAt = r.doneAt;
    }
  }
  lags.sort((a, b) => a - b);
  const at = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] ?? 0;
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs, maxAckedAt };
}
