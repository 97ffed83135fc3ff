import type { PublishResult } from '../../publish.js';
import { int, ms, table } from '../../report/format.js';
import type { PublishMix } from '../matrix.js';
import { link, type RenderInput, ratio, verdict } from './format.js';

/** Whether N workers published at least as much as 1 on a mix (issue #16 goal 4). */
export function mixMet(mix: PublishMix): boolean | undefined {
  const one = mix.one?.result.requestsPerSecond;
  const n = mix.workers?.result.requestsPerSecond;
  return one === undefined || n === undefined ? undefined : n >= one;
}

/** Issue #16 goal 4: `queue-change`/s with one hot environment and with many, 1 vs N workers on one NATS. */
export function mixSection({ results, spec, reportsRel }: RenderInput): string[] {
  const mix = results.publishMix;
  if (!mix) return [];
  const figure = (r: PublishResult | undefined) =>
    r
      ? `${int(r.requestsPerSecond)}/s (p99 ${ms(r.latency.p99)} ms, ${int(r.failed)} failed)`
      : '–';
  const row = (name: string, m: PublishMix) => [
    name,
    figure(m.one?.result),
    figure(m.workers?.result),
    ratio(m.workers?.result.requestsPerSecond, m.one?.result.requestsPerSecond),
    figure(m.nchan?.result),
    verdict(mixMet(m)),
    [
      link(reportsRel, m.one, '1'),
      link(reportsRel, m.workers, `${mix.workers}`),
      link(reportsRel, m.nchan, 'nchan'),
    ].join(' · '),
  ];
  return [
    `### 10. Publish mixes (issue #16 goal 4: more workers never reduce throughput): concurrency ${spec.publishConcurrency}, ${spec.publishDurationMs / 1000} s`,
    '',
    table(
      [
        'mix',
        'ours, 1 process',
        `ours, \`SSE_WORKERS=${mix.workers}\` (same NATS)`,
        `${mix.workers} ÷ 1`,
        'nchan, 1 worker',
        'verdict (N ≥ 1)',
        'reports',
      ],
      [row('one hot environment', mix.hot), row(`${int(mix.spreadEnvs)} environments`, mix.spread)],
    ),
    '',
  ];
}
