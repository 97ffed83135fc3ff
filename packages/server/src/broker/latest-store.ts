import { LATEST_TTL_MS } from '@flagsmith-rt/protocol';
import { type Clock, systemClock } from '../clock.js';

/** What the store remembers about an environment. */
export interface LatestEntry {
  /** The publisher's timestamp, epoch seconds. */
  readonly updatedAt: number;
  /** When the broker stored it, epoch milliseconds (the clock the TTL is measured on). */
  readonly storedAt: number;
  /**
   * The highest stream sequence seen on the environment's subject (JetStream
   * only; 0 when unknown). Publishes expect it as the subject's last sequence.
   */
  readonly sequence: number;
}

/** Options of {@link LatestStore}. */
export interface LatestStoreOptions {
  /**
   * How long an entry is remembered after it was stored.
   * @defaultValue `LATEST_TTL_MS` (1 hour)
   */
  ttlMs?: number;
  /**
   * How often forgotten entries are removed from memory. Reads check expiry
   * themselves, so this only bounds memory.
   * @defaultValue 60000
   */
  sweepIntervalMs?: number;
  /**
   * Clock in epoch milliseconds (tests inject one).
   * @defaultValue `systemClock`
   */
  now?: Clock;
}

/**
 * The latest timestamp of each environment, forgotten once it was stored
 * longer ago than the TTL. The timestamp's own value is never compared with
 * the clock: publishers' clocks differ, so only the receive/stored time counts.
 */
export class LatestStore {
  readonly #entries = new Map<string, LatestEntry>();
  readonly #ttlMs: number;
  readonly #sweepIntervalMs: number;
  readonly #now: Clock;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(options: LatestStoreOptions = {}) {
    this.#ttlMs = options.ttlMs ?? LATEST_TTL_MS;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.#now = options.now ?? systemClock;
  }

  /** The live entry of an environment, or `undefined` if none or expired. */
  get(environment: string): LatestEntry | undefined {
    const entry = this.#entries.get(environment);
    if (entry === undefined) return undefined;
    if (this.#expired(entry, this.#now())) {
      this.#entries.delete(environment);
      return undefined;
    }
    return entry;
  }

  /** The latest live timestamp of an environment (epoch seconds). */
  latest(environment: string): number | undefined {
    return this.get(environment)?.updatedAt;
  }

  /**
   * Records an update if it is strictly newer than the live entry (or there is
   * none). Returns whether it was recorded: only those are fanned out.
   */
  offer(environment: string, updatedAt: number, storedAt: number, sequence = 0): boolean {
    const current = this.get(environment);
    if (current !== undefined && current.updatedAt >= updatedAt) {
      this.noteSequence(environment, sequence);
      return false;
    }
    // The sequence of a newer update is the subject's last one, even if lower
    // than what was known (a recreated stream starts again at 1).
    this.#entries.set(environment, {
      updatedAt,
      storedAt,
      sequence: sequence > 0 ? sequence : (current?.sequence ?? 0),
    });
    this.#ensureSweeper();
    return true;
  }

  /**
   * Raises the known stream sequence of a live entry (a message that was not
   * newer, or not readable, still moved the subject's last sequence).
   */
  noteSequence(environment: string, sequence: number): void {
    const current = this.get(environment);
    if (current !== undefined && sequence > current.sequence) {
      this.#entries.set(environment, { ...current, sequence });
    }
  }

  /** Number of entries held in memory (expired ones may linger until the next sweep). */
  get size(): number {
    return this.#entries.size;
  }

  /** Removes every expired entry now. Called by the sweep timer. */
  sweep(): void {
    const now = this.#now();
    for (const [environment, entry] of this.#entries) {
      if (this.#expired(entry, now)) this.#entries.delete(environment);
    }
  }

  /** Stops the sweep timer and forgets everything. */
  close(): void {
    this.#closed = true;
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#entries.clear();
  }

  #expired(entry: LatestEntry, now: number): boolean {
    return now - entry.storedAt >= this.#ttlMs;
  }

  #ensureSweeper(): void {
    if (this.#sweeper !== undefined || this.#closed) return;
    // One timer for the whole store, not one per entry; it never keeps the process alive.
    this.#sweeper = setInterval(() => this.sweep(), this.#sweepIntervalMs);
    this.#sweeper.unref();
  }
}
