import { describe, expect, test } from 'vitest';
import { Random } from '../src/fuzz/random.js';
import { mannWhitneyZ, percentile } from '../src/stats.js';

describe('stats', () => {
  test('percentile uses the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([], 50)).toBe(0);
  });

  test('Mann-Whitney: same distribution stays small, a 1 % shift is found', () => {
    const rng = new Random(42);
    const sample = (shift: number) =>
      Array.from({ length: 4000 }, () => 100 + shift + rng.next() * 10);
    expect(Math.abs(mannWhitneyZ(sample(0), sample(0)))).toBeLessThan(4);
    expect(Math.abs(mannWhitneyZ(sample(0), sample(1)))).toBeGreaterThan(4);
  });
});
