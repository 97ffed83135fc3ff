import type { PublishResult } from '../../publish.js';
import { int, ms, table } from '../../report/format.js';
import type { MixRound, MixRun, NatsWrites, PublishMix } from '../matrix.js';
import { link, type RenderInput, ratio, verdict } from './format.js';
import { median } from './pairs.js';

/** The rounds of a mix; a run from before the rounds is one round. */
export function mixRounds(mix: PublishMix): MixRound[] {
  if (mix.rounds !== undefined) return mix.rounds;
  if (mix.one === undefined && mix.workers === undefined) return [];
  return [{ order: ['one', 'workers'], one: mix.one, workers: mix.workers }];
}

/** N workers ÷ 1 process, `queue-change`/s, for each round that has both. */
export function mixRatios(mix: PublishMix): number[] {
  return mixRounds(mix).flatMap((r) => {
    const one = r.one?.result.requestsPerSecond;
    const n = r.workers?.result.requestsPerSecond;
    return one === undefined || n === undefined || one === 0 ? [] : [n / one];
  });
}

/** Whether N workers published at least as much as 1 on a mix (issue #16 goal 4): the median round. */
export function mixMet(mix: PublishMix): boolean | undefined {
  const ratios = mixRatios(mix);
  return ratios.length === 0 ? undefined : median(ratios) >= 1;
}

/** `median× (range a–b, k rounds)`, or `–`. */
export function mixRatioText(mix: PublishMix): string {
  const ratios = mixRatios(mix);
  if (ratios.length === 0) return '–';
  const m = median(ratios).toFixed(2);
  if (ratios.length === 1) return `${m}×`;
  const lo = Math.min(...ratios).toFixed(2);
  const hi = Math.max(...ratios).toFixed(2);
  return `${m}× (${lo}–${hi}, ${ratios.length} rounds)`;
}

const figure = (r: PublishResult | undefined) =>
  r ? `${int(r.requestsPerSecond)}/s (p99 ${ms(r.latency.p99)} ms, ${int(r.failed)} failed)` : '–';

/** Writes per 1,000 publishes, and the share of write attempts refused by compare-and-set. */
function writesText(run: MixRun | undefined): string {
  const w: NatsWrites | undefined = run?.writes;
  const requests = run?.result.requests;
  if (w === undefined || requests === undefined || requests === 0) return '–';
  const attempts = w.stored + w.duplicate + w.conflict;
  const perK = ((w.stored + w.duplicate) * 1000) / requests;
  const refused = attempts === 0 ? 0 : (100 * w.conflict) / attempts;
  return `${perK.toFixed(1)} / ${refused.toFixed(0)} %`;
}

/** Issue #16 goal 4: `queue-change`/s with one hot environment and with many, 1 vs N workers on one NATS. */
export function mixSection({ results, spec, reportsRel }: RenderInput): string[] {
  const mix = results.publishMix;
  if (!mix) return [];
  const n = mix.workers;
  const mixes = [
    ['one hot environment', mix.hot],
    [`${int(mix.spreadEnvs)} environments`, mix.spread],
  ] as const;
  const summary = mixes.map(([name, m]) => [
    name,
    mixRatioText(m),
    figure(m.nchan?.result),
    verdict(mixMet(m)),
  ]);
  const rounds = mixes.flatMap(([name, m]) =>
    mixRounds(m).map((r, i) => [
      name,
      String(i + 1),
      r.order.map((slot) => (slot === 'one' ? '1' : String(n))).join(' then '),
      figure(r.one?.result),
      writesText(r.one),
      figure(r.workers?.result),
      writesText(r.workers),
      ratio(r.workers?.result.requestsPerSecond, r.one?.result.requestsPerSecond),
      [link(reportsRel, r.one, '1'), link(reportsRel, r.workers, String(n))].join(' · '),
    ]),
  );
  return [
    `### 10. Publish mixes (issue #16 goal 4: more workers never reduce throughput): concurrency ${spec.publishConcurrency}, ${spec.publishDurationMs / 1000} s`,
    '',
    table(
      [
        'mix',
        `ours, \`SSE_WORKERS=${n}\` ÷ 1 process (median round)`,
        'nchan, 1 worker',
        'verdict (N ≥ 1)',
      ],
      summary,
    ),
    '',
    `Every round, 1 process and \`SSE_WORKERS=${n}\` back to back on the same NATS, the order alternating. Writes: JetStream writes per 1,000 publishes / the share of write attempts refused by compare-and-set (another worker wrote the environment first), from \`/metricsz\`.`,
    '',
    table(
      [
        'mix',
        'round',
        'order',
        'ours, 1 process',
        'writes',
        `ours, \`SSE_WORKERS=${n}\``,
        'writes',
        `${n} ÷ 1`,
        'reports',
      ],
      rounds,
    ),
    '',
  ];
}
