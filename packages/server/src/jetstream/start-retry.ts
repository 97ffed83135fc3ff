import type { Clock } from '../clock.js';
import type { BrokerLogger } from '../logger.js';

/** Options of {@link StartRetry}. */
export interface StartRetryOptions {
  /** Where the (rate-limited) retry lines go. */
  logger: BrokerLogger;
  /** The broker's clock: the deadline and the log interval are measured on it. */
  clock: Clock;
  /** Epoch ms (on `clock`) after which no attempt is made; `undefined` retries forever. */
  deadline: number | undefined;
  /** First delay; it doubles per failure up to `maxDelayMs`. */
  minDelayMs: number;
  /** Longest delay before jitter. */
  maxDelayMs: number;
  /** While failures go on, at most one log line per this interval. */
  logIntervalMs: number;
  /**
   * Source of jitter in [0, 1).
   * @defaultValue `Math.random`
   */
  random?: () => number;
}

/**
 * The wait between start attempts: exponential backoff capped at
 * `maxDelayMs`, each delay drawn from its upper half (jitter, so the workers
 * and instances that lost NATS together do not retry in step), and a log line
 * for the first failure and then once per `logIntervalMs`, not per attempt.
 */
export class StartRetry {
  readonly #options: StartRetryOptions;
  readonly #random: () => number;
  /** Failed attempts since the last success. */
  #failures = 0;
  #failingSince = 0;
  #loggedAt = 0;
  #stopped = false;
  #wake: (() => void) | undefined;

  constructor(options: StartRetryOptions) {
    this.#options = options;
    this.#random = options.random ?? Math.random;
  }

  /** Failed attempts since the last success. */
  get attempts(): number {
    return this.#failures;
  }

  /** Time left before the deadline, `undefined` without one. */
  remainingMs(): number | undefined {
    return this.#options.deadline === undefined
      ? undefined
      : this.#options.deadline - this.#options.clock();
  }

  /**
   * Records a failed attempt, logs it if due, and waits before the next one.
   * Resolves `false` when no attempt should follow: stopped, or the next one
   * would start after the deadline.
   */
  async wait(error: unknown, message: string, fields: object = {}): Promise<boolean> {
    const now = this.#options.clock();
    this.#failures++;
    if (this.#failures === 1) this.#failingSince = now;
    if (this.#stopped) return false;
    const base = Math.min(
      this.#options.maxDelayMs,
      this.#options.minDelayMs * 2 ** Math.min(this.#failures - 1, 30),
    );
    const delayMs = Math.round(base / 2 + (this.#random() * base) / 2);
    const deadline = this.#options.deadline;
    if (deadline !== undefined && now + delayMs > deadline) return false;
    if (this.#failures === 1 || now - this.#loggedAt >= this.#options.logIntervalMs) {
      this.#loggedAt = now;
      this.#options.logger.warn(
        {
          ...fields,
          attempt: this.#failures,
          failingForMs: now - this.#failingSince,
          retryEveryMs: this.#options.maxDelayMs,
          err: error instanceof Error ? error.message : String(error),
        },
        `${message} (logged again every ${Math.round(this.#options.logIntervalMs / 1000)} s while it lasts)`,
      );
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, delayMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = undefined;
    return !this.#stopped;
  }

  /** Records a success: logs how long it took if attempts had failed, and resets the backoff. */
  succeeded(message: string, fields: object = {}): void {
    if (this.#failures > 0) {
      this.#options.logger.info(
        {
          ...fields,
          failedAttempts: this.#failures,
          afterMs: this.#options.clock() - this.#failingSince,
        },
        message,
      );
    }
    this.#failures = 0;
    this.#loggedAt = 0;
  }

  /** Ends the retries: a wait in progress resolves `false` at once. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }
}
