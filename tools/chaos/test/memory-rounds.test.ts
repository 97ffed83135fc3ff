import { describe, expect, test } from 'vitest';
import type { RoundMemory } from '../src/memory-rounds.js';
import { judgeRounds } from '../src/memory-rounds.js';

/** A reading with the fields judgeRounds looks at (the rest zero). */
function reading(
  round: number,
  values: { rssMb: number; heapUsedMb: number; nativeRssMb: number },
): RoundMemory {
  return {
    round,
    requests: round * 33_333,
    processes: 3,
    rssAnonMb: 0,
    heapTotalMb: 0,
    externalMb: 0,
    arrayBuffersMb: 0,
    lastResortRssMb: 0,
    lastResortHeapTotalMb: 0,
    spacesMb: {},
    ...values,
  };
}

// Node 24.22.3, `hostile-input` (100,000 requests in 3 rounds), 2026-12-02T14:31Z: the
// workers' young generation grew 16 -> 64 MiB each in round 1 and stayed there.
const NODE24_BASELINE = reading(0, { rssMb: 277, heapUsedMb: 46, nativeRssMb: 196.1 });
const NODE24_ROUNDS = [
  reading(1, { rssMb: 396.3, heapUsedMb: 42.8, nativeRssMb: 207.4 }),
  reading(2, { rssMb: 404.4, heapUsedMb: 41, nativeRssMb: 208.5 }),
  reading(3, { rssMb: 403.5, heapUsedMb: 41.2, nativeRssMb: 209.1 }),
];

describe('judgeRounds', () => {
  test('memory kept for reuse (a step in round 1, then flat) is not a leak', () => {
    expect(judgeRounds(NODE24_BASELINE, NODE24_ROUNDS)).toEqual([]);
    // The check this replaces (RSS after within baseline + 100 MiB) failed on the same run.
    expect(NODE24_ROUNDS.at(-1)!.rssMb).toBeGreaterThan(NODE24_BASELINE.rssMb + 100);
  });

  test('a JS heap that grows every round fails, even within the baseline bound', () => {
    const rounds = [1, 2, 3].map((round) =>
      reading(round, { rssMb: 300, heapUsedMb: 46 + 5 * round, nativeRssMb: 200 }),
    );
    const failures = judgeRounds(NODE24_BASELINE, rounds);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain('heap used after GC kept growing');
    expect(failures[0]).toContain('46 -> 51 -> 56 -> 61 MiB');
  });

  test('native memory that grows every round fails even with a flat heap', () => {
    const rounds = [1, 2, 3].map((round) =>
      reading(round, { rssMb: 300, heapUsedMb: 46, nativeRssMb: 196 + 30 * round }),
    );
    const failures = judgeRounds(NODE24_BASELINE, rounds);
    expect(failures).toEqual([expect.stringContaining('RSS outside the V8 heap kept growing')]);
  });

  test('far above the baseline fails with one round', () => {
    const failures = judgeRounds(NODE24_BASELINE, [
      reading(1, { rssMb: 500, heapUsedMb: 80, nativeRssMb: 400 }),
    ]);
    expect(failures).toHaveLength(2);
    expect(failures[0]).toContain(
      'heap used after GC did not return near baseline: 46 MiB -> 80 MiB',
    );
    expect(failures[1]).toContain('RSS outside the V8 heap did not return near baseline');
  });

  test('no round measured is a failure', () => {
    expect(judgeRounds(NODE24_BASELINE, [])).toEqual(['no fuzz round was measured']);
  });
});
