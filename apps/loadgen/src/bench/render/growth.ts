import type { FanoutResult } from '../../fanout.js';
import { int, table } from '../../report/format.js';
import { perDelivery } from '../../report/markdown.js';
import { lineChart } from '../../report/svg.js';
import { linearFit } from '../../stats.js';
import type { BenchResults, Run } from '../matrix.js';
import { type RenderInput, ratio } from './format.js';

/** Least-squares fits of completion and idle RSS against connected subscribers. */
export function growth(runs: ReadonlyArray<Run<FanoutResult>>) {
  const ns = runs.map((r) => r.result.subscribers.connected);
  const completion = linearFit(
    ns,
    runs.map((r) => r.result.totals.completionMedianMs),
  );
  const withCost = runs.filter((r) => r.result.cost);
  const rss = linearFit(
    withCost.map((r) => r.result.subscribers.connected),
    withCost.map((r) => r.result.cost!.idle.rssKb - r.result.cost!.before.rssKb),
  );
  return { completion, rss };
}

/** Server CPU per delivered event of the last (largest) run, µs. */
function lastCpu(runs: ReadonlyArray<Run<FanoutResult>>): string {
  const r = runs[runs.length - 1]?.result;
  return r?.cost ? perDelivery(r.cost.cpuMsDuringUpdates, r.totals.delivered) : '–';
}

/** Plots across runs: completion vs subscribers, RSS vs subscribers. */
export function growthCharts(results: BenchResults): string[] {
  const series = (runs: ReadonlyArray<Run<FanoutResult>>, pick: (r: FanoutResult) => number) =>
    runs.map((r) => [r.result.subscribers.connected, pick(r.result)] as [number, number]);
  const ours = [...results.fanout.ours, ...(results.hundredK.ours ? [results.hundredK.ours] : [])];
  const nchan = [
    ...results.fanout.nchan,
    ...(results.hundredK.nchan ? [results.hundredK.nchan] : []),
  ];
  return [
    lineChart({
      title: 'Fan-out completion (median over updates) vs subscribers',
      xLabel: 'subscribers',
      yLabel: 'ms',
      series: [
        {
          name: 'ours (apps/sse; 100k on several processes)',
          points: series(ours, (r) => r.totals.completionMedianMs),
        },
        {
          name: 'nginx + nchan (1 worker; 100k on several)',
          points: series(nchan, (r) => r.totals.completionMedianMs),
        },
      ],
    }),
    lineChart({
      title: 'p99 latency vs subscribers',
      xLabel: 'subscribers',
      yLabel: 'ms',
      series: [
        { name: 'ours', points: series(ours, (r) => r.totals.latency.p99) },
        { name: 'nchan', points: series(nchan, (r) => r.totals.latency.p99) },
      ],
    }),
    lineChart({
      title: 'Server RSS growth with idle subscribers',
      xLabel: 'subscribers',
      yLabel: 'RSS − RSS before (MB)',
      series: [
        {
          name: 'ours',
          points: series(
            ours.filter((r) => r.result.cost),
            (r) => (r.cost!.idle.rssKb - r.cost!.before.rssKb) / 1024,
          ),
        },
        {
          name: 'nchan',
          points: series(
            nchan.filter((r) => r.result.cost),
            (r) => (r.cost!.idle.rssKb - r.cost!.before.rssKb) / 1024,
          ),
        },
      ],
    }),
  ];
}

/** Target 6: how completion and RSS grow with subscribers, fitted over the sizes of target 1. */
export function growthSection({ results, spec, reportsRel }: RenderInput): string[] {
  const go = growth(results.fanout.ours);
  const gn = growth(results.fanout.nchan);
  return [
    '### 6. How cost grows with subscribers (one process, least-squares fit over the sizes of target 1)',
    '',
    table(
      ['', 'ours', 'nchan', 'ratio'],
      [
        [
          'completion per subscriber (µs)',
          (go.completion.slope * 1000).toFixed(2),
          (gn.completion.slope * 1000).toFixed(2),
          ratio(go.completion.slope, gn.completion.slope),
        ],
        ['completion fit r²', go.completion.r2.toFixed(3), gn.completion.r2.toFixed(3), ''],
        [
          'RSS per subscriber (KB, slope)',
          go.rss.slope.toFixed(2),
          gn.rss.slope.toFixed(2),
          ratio(go.rss.slope, gn.rss.slope),
        ],
        ['RSS fit r²', go.rss.r2.toFixed(3), gn.rss.r2.toFixed(3), ''],
        [
          'server CPU per delivered event at the largest size (µs)',
          lastCpu(results.fanout.ours),
          lastCpu(results.fanout.nchan),
          '',
        ],
      ],
    ),
    '',
    `Plots (completion, p99 and RSS vs subscribers, including the ${int(spec.hundredK)} run): [${reportsRel}/index.html](${reportsRel}/index.html).`,
    '',
  ];
}
