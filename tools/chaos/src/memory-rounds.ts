import type { ProbeTotals } from './memory-probe.js';

/** An instance's memory after a fuzz round (all its processes, after a forced full GC). */
export interface RoundMemory extends ProbeTotals {
  /** 0 for the baseline before the first round. */
  round: number;
  /** Requests sent so far, this round included. */
  requests: number;
}

/** The margins of {@link judgeRounds}, in MiB. */
export interface RoundBounds {
  /**
   * Heap used after GC, last round over the baseline.
   * @defaultValue 16
   */
  heapOverBaselineMb: number;
  /**
   * Heap used after GC, last round over the first.
   * @defaultValue 8
   */
  heapGrowthMb: number;
  /**
   * RSS outside the V8 heap ({@link ProbeTotals.nativeRssMb}), last round over the baseline.
   * @defaultValue 100
   */
  nativeOverBaselineMb: number;
  /**
   * RSS outside the V8 heap, last round over the first.
   * @defaultValue 32
   */
  nativeGrowthMb: number;
}

/** The bounds the `hostile-input` scenario uses. */
export const DEFAULT_ROUND_BOUNDS: RoundBounds = {
  heapOverBaselineMb: 16,
  heapGrowthMb: 8,
  nativeOverBaselineMb: 100,
  nativeGrowthMb: 32,
};

/**
 * Tells a leak from memory kept for reuse, from readings taken after each of several equal
 * rounds of the same load against the same processes. A leak grows with the requests: every
 * round adds to it, so the last round is above the first. Memory a runtime keeps for reuse (a
 * young generation grown to its maximum, free heap pages, malloc arenas) is a step in the
 * first round that later rounds do not add to. RSS is split in two: the JS heap that
 * survives a full GC (a leak of JS objects), and RSS outside the committed V8 heap after a
 * last-resort GC (a native leak: malloc, buffers); the free pages V8 keeps committed are in
 * neither. Each must be back near the baseline and must not grow from round 1 to the last.
 * Returns the failed checks' messages (none: no leak).
 */
export function judgeRounds(
  baseline: RoundMemory,
  rounds: readonly RoundMemory[],
  bounds: RoundBounds = DEFAULT_ROUND_BOUNDS,
): string[] {
  const failures: string[] = [];
  const first = rounds[0];
  const last = rounds.at(-1);
  if (first === undefined || last === undefined) return ['no fuzz round was measured'];
  const mb = (value: number): string => `${Math.round(value)} MiB`;
  if (last.heapUsedMb > baseline.heapUsedMb + bounds.heapOverBaselineMb) {
    failures.push(
      `heap used after GC did not return near baseline: ${mb(baseline.heapUsedMb)} -> ${mb(last.heapUsedMb)} (bound +${bounds.heapOverBaselineMb} MiB)`,
    );
  }
  if (last.nativeRssMb > baseline.nativeRssMb + bounds.nativeOverBaselineMb) {
    failures.push(
      `RSS outside the V8 heap did not return near baseline: ${mb(baseline.nativeRssMb)} -> ${mb(last.nativeRssMb)} (bound +${bounds.nativeOverBaselineMb} MiB)`,
    );
  }
  if (rounds.length < 2) return failures;
  const roundsText = (pick: (r: RoundMemory) => number): string =>
    [baseline, ...rounds].map((r) => Math.round(pick(r))).join(' -> ');
  if (last.heapUsedMb > first.heapUsedMb + bounds.heapGrowthMb) {
    failures.push(
      `heap used after GC kept growing round after round: ${roundsText((r) => r.heapUsedMb)} MiB (bound +${bounds.heapGrowthMb} MiB from round 1 to ${last.round})`,
    );
  }
  if (last.nativeRssMb > first.nativeRssMb + bounds.nativeGrowthMb) {
    failures.push(
      `RSS outside the V8 heap kept growing round after round: ${roundsText((r) => r.nativeRssMb)} MiB (bound +${bounds.nativeGrowthMb} MiB from round 1 to ${last.round})`,
    );
  }
  return failures;
}
