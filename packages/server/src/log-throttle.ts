import { type Clock, systemClock } from './clock.js';

/** Options of {@link LogThrottle}. */
export interface LogThrottleOptions {
  /**
   * At most one line per key in this window, in ms.
   * @defaultValue 60000
   */
  intervalMs?: number;
  /**
   * Keys remembered at most; beyond, the oldest windows are forgotten first.
   * @defaultValue 10000
   */
  maxKeys?: number;
  /**
   * Clock in epoch milliseconds (tests inject one).
   * @defaultValue `systemClock`
   */
  now?: Clock;
}

/**
 * Lets one log line per key (e.g. per environment) through per interval and
 * counts the ones held back, so a publisher that keeps writing bad messages
 * cannot flood the log. Memory is bounded by `maxKeys`.
 */
export class LogThrottle {
  readonly #windows = new Map<string, { openedAt: number; held: number }>();
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #now: Clock;

  constructor(options: LogThrottleOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#now = options.now ?? systemClock;
  }

  /**
   * Whether a line for `key` may be logged now: `undefined` when it is held
   * back, otherwise how many were held back since the last one logged.
   */
  take(key: string): number | undefined {
    const now = this.#now();
    const window = this.#windows.get(key);
    if (window !== undefined && now - window.openedAt < this.#intervalMs) {
      window.held++;
      return undefined;
    }
    const held = window?.held ?? 0;
    // Re-inserting keeps the map in the order windows opened: the oldest come first.
    this.#windows.delete(key);
    this.#windows.set(key, { openedAt: now, held: 0 });
    if (this.#windows.size > this.#maxKeys) {
      const oldest = this.#windows.keys().next().value;
      if (oldest !== undefined) this.#windows.delete(oldest);
    }
    return held;
  }
}
