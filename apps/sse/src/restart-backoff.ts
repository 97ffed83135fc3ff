/** A worker that lived shorter than this before exiting counts as crash-looping. */
export const CRASH_LOOP_WINDOW_MS = 10_000;
/** First delay of a crash-looping worker's restart. */
export const FIRST_RESTART_DELAY_MS = 250;
/** Longest delay between restarts. */
export const MAX_RESTART_DELAY_MS = 30_000;

/**
 * Restart delays of one worker slot. A worker that ran for at least
 * {@link CRASH_LOOP_WINDOW_MS} is restarted at once (an isolated crash: its
 * clients should get a process back quickly); each exit sooner than that
 * doubles the delay, from 250 ms up to 30 s, so a worker that cannot start
 * does not spin the CPU or flood the logs.
 */
export class RestartBackoff {
  private quickExits = 0;

  /** The delay before restarting a worker that ran for `livedMs`. */
  next(livedMs: number): number {
    if (livedMs >= CRASH_LOOP_WINDOW_MS) {
      this.quickExits = 0;
      return 0;
    }
    this.quickExits++;
    return Math.min(MAX_RESTART_DELAY_MS, FIRST_RESTART_DELAY_MS * 2 ** (this.quickExits - 1));
  }
}
