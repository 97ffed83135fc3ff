/** A clock for tests: starts at the real time and only moves when told to. */
export class ManualClock {
  #now: number;

  constructor(start = Date.now()) {
    this.#now = start;
  }

  /** The current time, epoch milliseconds; pass as a broker's `now`. */
  readonly now = (): number => this.#now;

  /** Moves the clock forward. */
  advance(ms: number): void {
    this.#now += ms;
  }
}
