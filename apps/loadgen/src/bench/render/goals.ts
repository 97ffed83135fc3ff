import { int, ms, pct, table } from '../../report/format.js';
import {
  ACCEPT_GOAL,
  acceptRatio,
  acceptRatio19k,
  hasAcceptCost,
  perThousand19k,
} from './accept.js';
import { type RenderInput, ratio, verdict } from './format.js';
import { mixMet, mixRatioText } from './mix.js';
import { median, PAIRS_GOAL, pairRatios } from './pairs.js';
import { stormMet } from './storm.js';

const times = (r: number | undefined) => (r === undefined ? '–' : `${r.toFixed(2)}×`);

/** Whether the run has any scenario of issue #16 (older runs have none, and render as they did). */
export function hasIssue16(input: RenderInput): boolean {
  const r = input.results;
  return (
    hasAcceptCost(input) ||
    r.storm !== undefined ||
    r.fanoutPairs !== undefined ||
    r.publishMix !== undefined ||
    r.gaps !== undefined
  );
}

/** One line per goal of issue #16: our figure, nchan's, the ratio, met or missed. */
export function goalsTable(input: RenderInput): string[] {
  if (!hasIssue16(input)) return [];
  const { results } = input;
  const k = results.connectHundredK;
  const a19 = acceptRatio19k(results);
  const a100 = acceptRatio(k?.ours?.result, k?.nchan?.result);
  const perK = (r: { serverCpuMsPer1000?: number | undefined } | undefined) =>
    ms(r?.serverCpuMsPer1000);
  const accepted = [a19, a100].filter((x): x is number => x !== undefined);
  const so = results.storm?.ours?.result;
  const sn = results.storm?.nchan?.result;
  const stormFigure = (r: typeof so) =>
    r ? `${ms(r.allBackAndDeliveredMs)} ms, ${pct(r.update.ratio)} delivered` : '–';
  const ratios = pairRatios(input);
  const m = median(ratios);
  const mix = results.publishMix;
  const mixVerdicts = mix ? [mixMet(mix.hot), mixMet(mix.spread)] : [];
  const go = results.gaps?.ours?.result.gaps;
  const gn = results.gaps?.nchan?.result.gaps;
  const skipped = (g: typeof go) =>
    g
      ? `${int(g.withGaps)} of ${int(g.subscribers)} skipped an intermediate update; ${int(g.subscribers - g.endedWithLast)} without the last`
      : '–';
  return [
    '**Issue #16 goals** (same run):',
    '',
    table(
      ['#', 'goal', 'ours', 'nchan (same run)', 'ratio', 'verdict'],
      [
        [
          '1',
          `server CPU per accepted stream ≤ ${ACCEPT_GOAL}× nchan's (ms per 1,000 at ${int(input.spec.storm)} / ${int(input.spec.connectHundredK ?? 100_000)})`,
          `${ms(perThousand19k(results, 'ours'))} / ${perK(k?.ours?.result)}`,
          `${ms(perThousand19k(results, 'nchan'))} / ${perK(k?.nchan?.result)}`,
          `${times(a19)} / ${times(a100)}`,
          verdict(accepted.length === 0 ? undefined : accepted.every((x) => x <= ACCEPT_GOAL)),
        ],
        [
          '2',
          'reconnect storm: all back and the next update at 100 % within the backoff window + 2 s',
          stormFigure(so),
          stormFigure(sn),
          ratio(so?.allBackAndDeliveredMs, sn?.allBackAndDeliveredMs),
          verdict(stormMet(so)),
        ],
        [
          '3',
          `fan-out at the largest size, median of ≥ 5 alternating pairs ≤ ${PAIRS_GOAL}× nchan`,
          `${ratios.length} pairs`,
          '',
          Number.isFinite(m) ? `${m.toFixed(2)}×` : '–',
          verdict(ratios.length >= 5 ? m <= PAIRS_GOAL : undefined),
        ],
        [
          '4',
          'N workers publish ≥ 1 worker (one hot environment / many)',
          mix ? `${mixRatioText(mix.hot)} / ${mixRatioText(mix.spread)}` : '–',
          '',
          '',
          verdict(
            mixVerdicts.some((v) => v === undefined) || !mix
              ? undefined
              : mixVerdicts.every(Boolean),
          ),
        ],
        [
          '5',
          'publishes overlapping a connect storm: missed intermediate updates counted',
          skipped(go),
          skipped(gn),
          '',
          go
            ? go.withGaps === 0 && go.endedWithLast === go.subscribers
              ? '**none missed**'
              : '**missed some** (see 11)'
            : 'not measured',
        ],
      ],
    ),
    '',
  ];
}
