/** Shortest and longest pause between two sweeps, in milliseconds. */
const MIN_SWEEP_MS = 10;
const MAX_SWEEP_MS = 1000;

/**
 * How often one sweep over all subscribers runs: a quarter of the shortest
 * deadline it enforces (keep-alive interval, slow-subscriber timeout, shortest
 * stream age if any), between 10 ms and 1 s. A keep-alive therefore goes out
 * between 1x and 1.25x the interval after the last write.
 */
export function sweepIntervalFor(
  keepAliveIntervalMs: number,
  slowSubscriberTimeoutMs: number,
  shortestStreamAgeMs = 0,
): number {
  let shortest = Math.min(keepAliveIntervalMs, slowSubscriberTimeoutMs);
  if (shortestStreamAgeMs > 0) shortest = Math.min(shortest, shortestStreamAgeMs);
  return Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, Math.floor(shortest / 4)));
}

/**
 * Runs `sweep` every `intervalMs` on one unref'd timer (never one timer per
 * subscriber). Returns a function that stops it.
 */
export function startSweeper(intervalMs: number, sweep: () => void): () => void {
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
