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

/** Each complete pair's completion ratio of ours ÷ the baseline checkout, in run order. */
export function baselineRatios({ results }: RenderInput): number[] {
  return (results.fanoutPairs ?? [])
    .map((p) =>
      p.ours && p.baseline
        ? p.ours.result.totals.completionMedianMs / p.baseline.result.totals.completionMedianMs
        : Number.NaN,
    )
    .filter((r) => Number.isFinite(r));
}

/** `median (range a–b)` of ratios, or `–`. */
function spread(ratios: readonly number[]): string {
  if (ratios.length === 0) return '–';
  const m = median(ratios);
  return `**${m.toFixed(2)}×** (range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
}

/**
 * Issue #16 goal 3: alternating fan-out pairs at the largest size, every pair shown; with
 * `pnpm bench --baseline DIR`, triples with the baseline checkout, rotated so each goes first.
 */
export function pairsSection(input: RenderInput): string[] {
  const pairs = input.results.fanoutPairs;
  if (!pairs) return [];
  const n = input.spec.sizes[input.spec.sizes.length - 1]!;
  const baseline = input.results.baseline;
  const withBaseline = baseline !== undefined && pairs.some((p) => p.baseline !== undefined);
  const ratios = pairRatios(input);
  const m = median(ratios);
  const completion = (run: (typeof pairs)[number]['ours']) =>
    run
      ? [
          pct(run.result.totals.ratio),
          `${ms(run.result.totals.completionMedianMs)} / ${ms(run.result.totals.completionMaxMs)}`,
        ]
      : ['–', '–'];
  const quotient = (a: (typeof pairs)[number]['ours'], b: (typeof pairs)[number]['ours']) =>
    a && b
      ? `${(a.result.totals.completionMedianMs / b.result.totals.completionMedianMs).toFixed(2)}×`
      : '–';
  const headers = [
    'pair',
    'order',
    'ours delivered',
    'ours completion median / worst ms',
    ...(withBaseline ? ['baseline delivered', 'baseline completion median / worst ms'] : []),
    'nchan delivered',
    'nchan completion median / worst ms',
    'ours ÷ nchan',
    ...(withBaseline ? ['ours ÷ baseline'] : []),
    'reports',
  ];
  const lines = [
    `### 9. Fan-out pairs (issue #16 goal 3): ${int(n)} subscribers, one process each, ${pairs.length} alternating ${withBaseline ? 'triples (baseline / ours / nchan)' : 'pairs'}`,
    '',
  ];
  if (withBaseline) {
    lines.push(
      `Baseline: \`${baseline.label}\` (\`${baseline.dir}/apps/sse/dist/main.js\`), started exactly like ours; the order rotates each round.`,
      '',
    );
  }
  lines.push(
    table(
      headers,
      pairs.map((p, i) => [
        String(i + 1),
        (p.order ?? (i % 2 === 0 ? ['ours', 'nchan'] : ['nchan', 'ours'])).join(' → '),
        ...completion(p.ours),
        ...(withBaseline ? completion(p.baseline) : []),
        ...completion(p.nchan),
        quotient(p.ours, p.nchan),
        ...(withBaseline ? [quotient(p.ours, p.baseline)] : []),
        [
          link(input.reportsRel, p.ours, 'ours'),
          ...(withBaseline ? [link(input.reportsRel, p.baseline, 'baseline')] : []),
          link(input.reportsRel, p.nchan, 'nchan'),
        ].join(' · '),
      ]),
    ),
    '',
    `Median of the ${ratios.length} pair ratios: **${Number.isFinite(m) ? `${m.toFixed(2)}×` : '–'}** ` +
      `(range ${ratios.length > 0 ? `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}` : '–'}; goal ≤ ${PAIRS_GOAL}×, at least 5 pairs): ` +
      `${verdict(ratios.length >= 5 ? m <= PAIRS_GOAL : undefined)}.`,
    '',
  );
  if (withBaseline) {
    const b = baselineRatios(input);
    lines.push(
      `Ours ÷ baseline, median of the ${b.length} rounds: ${spread(b)}; below 1 means this checkout completes a fan-out sooner than the baseline.`,
      '',
    );
  }
  return lines;
}
