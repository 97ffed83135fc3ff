import { backoffDelay } from '@flagsmith-rt/client';

/** How a load generator subscriber reconnects after its stream ended or an attempt failed. */
export interface ReconnectPolicy {
  /** Delay ceiling of the first attempt, ms; doubled per further attempt. */
  baseMs: number;
  /** Largest delay ceiling, ms. */
  capMs: number;
  /** A connection open this long counts as healthy: the next reconnect starts from the first attempt. */
  resetAfterMs: number;
  /**
   * Instances per environment in the subscriber's URL list: a reconnect goes
   * to the next instance of the same environment, as a load balancer sends a
   * client of a dead instance to a live one.
   */
  instances: number;
}

/**
 * `@flagsmith-rt/client`'s reconnect defaults (its `resolveBackoff`), mirrored
 * so load generator subscribers come back the way real clients do; checked
 * against the client itself in test/reconnect.test.ts.
 */
export const CLIENT_BACKOFF = { baseMs: 1000, capMs: 30_000, resetAfterMs: 30_000 } as const;

/**
 * The wait before reconnect attempt `attempt` (0 for the first after a
 * healthy connection): the client's own exponential backoff with full jitter.
 */
export function reconnectDelay(
  attempt: number,
  policy: Pick<ReconnectPolicy, 'baseMs' | 'capMs'>,
  random: () => number = Math.random,
): number {
  return backoffDelay(attempt, policy.baseMs, Math.max(policy.baseMs, policy.capMs), random);
}

/**
 * The URL index a reconnect uses: the next instance of the same environment
 * (URLs are ordered environment by environment, instances within; see `streamUrls`).
 */
export function nextInstance(index: number, instances: number): number {
  if (instances <= 1) return index;
  const env = Math.floor(index / instances);
  return env * instances + (((index % instances) + 1) % instances);
}
