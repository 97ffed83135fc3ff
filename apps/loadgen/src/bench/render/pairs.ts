import { int, ms, pct, table } from '../../report/format.js';
import { link, type RenderInput, verdict } from './format.js';

/** Issue #16 goal 3: the median over pairs of ours ÷ nchan fan-out completion must be at most this. */
export const PAIRS_GOAL = 0.9;

/** Each complete pair's completion ratio (ours ÷ nchan), in run order. */
export function pairRatios({ results }: RenderInput): number[] {
  return (results.fanoutPairs ?? [])
    .map((p) =>
      p.ours && p.nchan
        ? p.ours.result.totals.completionMedianMs / p.nchan.result.totals.completionMedianMs
        : Number.NaN,
    )
    .filter((r) => Number.isFinite(r));
}

/** The median of `values` (the mean of the middle two for an even count), NaN if empty. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Issue #16 goal 3: alternating fan-out pairs at the largest size, every pair shown. */
export function pairsSection(input: RenderInput): string[] {
  const pairs = input.results.fanoutPairs;
  if (!pairs) return [];
  const n = input.spec.sizes[input.spec.sizes.length - 1]!;
  const ratios = pairRatios(input);
  const m = median(ratios);
  return [
    `### 9. Fan-out pairs (issue #16 goal 3): ${int(n)} subscribers, one process each, ${pairs.length} alternating pairs`,
    '',
    table(
      [
        'pair',
        'first',
        'ours delivered',
        'ours completion median / worst ms',
        'nchan delivered',
        'nchan completion median / worst ms',
        'completion ratio',
        'reports',
      ],
      pairs.map((p, i) => {
        const o = p.ours?.result;
        const c = p.nchan?.result;
        return [
          String(i + 1),
          i % 2 === 0 ? 'ours' : 'nchan',
          o ? pct(o.totals.ratio) : '–',
          o ? `${ms(o.totals.completionMedianMs)} / ${ms(o.totals.completionMaxMs)}` : '–',
          c ? pct(c.totals.ratio) : '–',
          c ? `${ms(c.totals.completionMedianMs)} / ${ms(c.totals.completionMaxMs)}` : '–',
          o && c
            ? `${(o.totals.completionMedianMs / c.totals.completionMedianMs).toFixed(2)}×`
            : '–',
          `${link(input.reportsRel, p.ours, 'ours')} · ${link(input.reportsRel, p.nchan, 'nchan')}`,
        ];
      }),
    ),
    '',
    `Median of the ${ratios.length} pair ratios: **${Number.isFinite(m) ? `${m.toFixed(2)}×` : '–'}** ` +
      `(range ${ratios.length > 0 ? `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}` : '–'}; goal ≤ ${PAIRS_GOAL}×, at least 5 pairs): ` +
      `${verdict(ratios.length >= 5 ? m <= PAIRS_GOAL : undefined)}.`,
    '',
  ];
}
