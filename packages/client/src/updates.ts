import { backoffDelay, type ResolvedBackoff } from './backoff.js';
import { CallbackError, FetchFlagsError, type RealtimeError } from './errors.js';

/** Fetches the environment's flags after a newer timestamp arrived. */
export type FetchFlags = (updatedAt: number, signal: AbortSignal) => Promise<unknown>;

/** What {@link UpdateTracker} needs from the subscription. */
export interface UpdateTrackerOptions {
  /** Timestamp the application already has, if any. */
  baseline: number | undefined;
  /** Told each timestamp the baseline moves to. */
  onUpdate: ((updatedAt: number) => void) | undefined;
  /** Run for each newer timestamp before the baseline moves, if given. */
  fetchFlags: FetchFlags | undefined;
  /** Paces the retries of a failed `fetchFlags`. */
  backoff: ResolvedBackoff;
  /** Receives every failure (never throws). */
  report: (error: RealtimeError) => void;
}

/**
 * Keeps the baseline timestamp and decides what a received timestamp triggers.
 *
 * Only a strictly newer timestamp counts. Without `fetchFlags` it moves the
 * baseline at once and calls `onUpdate`. With `fetchFlags` it starts a fetch;
 * timestamps that arrive while a fetch is in flight are folded into exactly one
 * follow-up fetch for the newest of them (the official SDK drops them). Only a
 * successful fetch moves the baseline; a failed one is retried with backoff.
 */
export class UpdateTracker {
  /** The latest timestamp the application is known to have. */
  baseline: number | undefined;
  readonly #options: UpdateTrackerOptions;
  #pending: number | undefined;
  #running = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  #closed = false;
  readonly #abort = new AbortController();

  constructor(options: UpdateTrackerOptions) {
    this.#options = options;
    this.baseline = options.baseline;
  }

  /** Handles a timestamp received from the stream. */
  receive(updatedAt: number): void {
    if (this.#closed || !this.#isNewer(updatedAt)) return;
    if (this.#pending !== undefined && updatedAt <= this.#pending) return;
    if (!this.#options.fetchFlags) {
      this.#advance(updatedAt);
      return;
    }
    this.#pending = updatedAt;
    if (!this.#running && this.#retryTimer === undefined) void this.#run();
  }

  /** Stops fetching: aborts a fetch in flight and clears the retry timer. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#abort.abort();
  }

  #isNewer(updatedAt: number): boolean {
    return this.baseline === undefined || updatedAt > this.baseline;
  }

  async #run(): Promise<void> {
    const fetchFlags = this.#options.fetchFlags!;
    this.#running = true;
    while (this.#pending !== undefined && !this.#closed) {
      const target = this.#pending;
      try {
        await fetchFlags(target, this.#abort.signal);
      } catch (cause) {
        this.#running = false;
        if (this.#closed) return;
        this.#options.report(
          new FetchFlagsError(
            'fetch_flags_failed',
            `fetchFlags failed for updated_at ${target}; retrying with backoff.`,
            true,
            { cause },
          ),
        );
        const { baseMs, capMs } = this.#options.backoff;
        this.#retryTimer = setTimeout(
          () => {
            this.#retryTimer = undefined;
            void this.#run();
          },
          backoffDelay(this.#attempt++, baseMs, capMs),
        );
        return;
      }
      if (this.#closed) break;
      this.#attempt = 0;
      // Anything newer that arrived meanwhile stays pending: one more loop, one more fetch.
      if (this.#pending === target) this.#pending = undefined;
      if (this.#isNewer(target)) this.#advance(target);
    }
    this.#running = false;
  }

  #advance(updatedAt: number): void {
    this.baseline = updatedAt;
    try {
      this.#options.onUpdate?.(updatedAt);
    } catch (cause) {
      this.#options.report(
        new CallbackError('callback_failed', 'onUpdate threw.', true, { cause }),
      );
    }
  }
}
