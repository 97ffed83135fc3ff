/** Reconnection and retry delays. */
export interface BackoffOptions {
  /**
   * Delay ceiling of the first attempt, in milliseconds; each further attempt
   * doubles it. A `retry:` field from the server replaces this value (at
   * least 100 ms).
   * @defaultValue 1000
   */
  baseMs?: number;
  /**
   * Largest delay ceiling, in milliseconds.
   * @defaultValue 30000
   */
  capMs?: number;
  /**
   * A connection that stayed open this long, in milliseconds, counts as
   * healthy: the next reconnect starts again from the first attempt.
   * @defaultValue 30000
   */
  resetAfterMs?: number;
}

/** {@link BackoffOptions} with every default applied. */
export type ResolvedBackoff = Required<BackoffOptions>;

/** Applies the defaults of {@link BackoffOptions}. */
export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  return {
    baseMs: options.baseMs ?? 1000,
    capMs: options.capMs ?? 30_000,
    resetAfterMs: options.resetAfterMs ?? 30_000,
  };
}

/**
 * Exponential backoff with full jitter: a uniformly random delay between 0 and
 * `min(cap, base * 2^attempt)`. The randomness spreads many clients that lost
 * the same server over the whole window instead of returning in one burst.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(Math.max(capMs, baseMs), baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * Reads a `Retry-After` header (seconds, or an HTTP date) into milliseconds
 * from `now`; `undefined` if absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
