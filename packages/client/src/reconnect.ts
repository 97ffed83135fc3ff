import { backoffDelay, type ResolvedBackoff } from './backoff.js';
import type { ConnectionEnd } from './connection.js';

/**
 * When to reconnect: exponential backoff with full jitter over the attempts
 * that failed in a row, with the base replaced by the server's `retry:` and at
 * least the `Retry-After` of a refusal. A connection that stayed open for
 * `resetAfterMs` was healthy: the count starts again.
 */
export class Reconnect {
  readonly #backoff: ResolvedBackoff;
  #attempt = 0;
  #serverRetryMs: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;

  constructor(backoff: ResolvedBackoff) {
    this.#backoff = backoff;
  }

  /** Connections that failed or ended in a row, healthy ones aside. */
  get attempt(): number {
    return this.#attempt;
  }

  /** Takes a `retry:` field (ms) from the server as the new backoff base. */
  setServerRetry(ms: number): void {
    this.#serverRetryMs = ms;
  }

  /** Counts a connection that ended and draws the delay before the next one. */
  delayAfter(end: ConnectionEnd): number {
    const { baseMs, capMs, resetAfterMs } = this.#backoff;
    if (end.openMs !== undefined && end.openMs >= resetAfterMs) this.#attempt = 0;
    // A server's `retry: 0` must not turn into a tight reconnect loop.
    const base = this.#serverRetryMs === undefined ? baseMs : Math.max(this.#serverRetryMs, 100);
    return backoffDelay(this.#attempt++, base, Math.max(base, capMs)) + (end.retryAfterMs ?? 0);
  }

  /** Resolves after `ms`, or at once when {@link cancel} is called. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    });
  }

  /** Clears the timer of a {@link wait} and resolves it. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#wake?.();
  }
}
