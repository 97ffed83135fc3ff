/** Percentiles of a set of samples, in the samples' unit. */
export interface Summary {
  /** Number of samples. */
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Sorts a copy of `samples` ascending (typed-array sort is numeric). */
export function sorted(samples: ArrayLike<number>): Float64Array {
  const copy = Float64Array.from(samples as ArrayLike<number>);
  copy.sort();
  return copy;
}

/** The `q`-quantile (0..1) of ascending samples, nearest-rank. */
export function quantile(ascending: Float64Array, q: number): number {
  if (ascending.length === 0) return Number.NaN;
  const rank = Math.ceil(q * ascending.length) - 1;
  return ascending[Math.min(ascending.length - 1, Math.max(0, rank))]!;
}

/** Count, min, p50, p90, p99, max and mean of ascending samples. */
export function summarize(ascending: Float64Array): Summary {
  let total = 0;
  for (let i = 0; i < ascending.length; i++) total += ascending[i]!;
  return {
    count: ascending.length,
    min: ascending.length === 0 ? Number.NaN : ascending[0]!,
    p50: quantile(ascending, 0.5),
    p90: quantile(ascending, 0.9),
    p99: quantile(ascending, 0.99),
    max: ascending.length === 0 ? Number.NaN : ascending[ascending.length - 1]!,
    mean: ascending.length === 0 ? Number.NaN : total / ascending.length,
  };
}

/** `points` evenly spaced quantiles (0 … 1) of ascending samples: a compact CDF for plots. */
export function cdf(ascending: Float64Array, points = 51): number[] {
  const out: number[] = [];
  for (let i = 0; i < points; i++) out.push(quantile(ascending, i / (points - 1)));
  return out;
}

/** Least-squares line `y = intercept + slope·x`. */
export function linearFit(
  xs: readonly number[],
  ys: readonly number[],
): { slope: number; intercept: number; r2: number } {
  const n = xs.length;
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN, r2: Number.NaN };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}
