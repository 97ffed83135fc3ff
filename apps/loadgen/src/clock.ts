/**
 * Wall-clock milliseconds with sub-millisecond precision. Comparable across
 * processes on one machine (each process adds its own monotonic offset to the
 * wall-clock time it started at), which is what latency from the
 * coordinator's publish start to a worker's receipt needs.
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
