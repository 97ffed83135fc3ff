import { int, ms, pct, table } from '../../report/format.js';
import { link, type RenderInput, ratio } from './format.js';

/** Target 1: one process against nchan's one worker, at each fan-out size. */
export function fanoutSection({ results, spec, reportsRel }: RenderInput): string[] {
  const rows = spec.sizes.map((n) => {
    const o = results.fanout.ours.find((r) => r.result.subscribers.requested === n);
    const c = results.fanout.nchan.find((r) => r.result.subscribers.requested === n);
    return [
      int(n),
      o ? pct(o.result.totals.ratio) : '–',
      o ? `${ms(o.result.totals.latency.p50)} / ${ms(o.result.totals.latency.p99)}` : '–',
      o
        ? `${ms(o.result.totals.completionMedianMs)} / ${ms(o.result.totals.completionMaxMs)}`
        : '–',
      c ? pct(c.result.totals.ratio) : '–',
      c ? `${ms(c.result.totals.latency.p50)} / ${ms(c.result.totals.latency.p99)}` : '–',
      c
        ? `${ms(c.result.totals.completionMedianMs)} / ${ms(c.result.totals.completionMaxMs)}`
        : '–',
      ratio(o?.result.totals.completionMedianMs, c?.result.totals.completionMedianMs),
      `${link(reportsRel, o, 'ours')} · ${link(reportsRel, c, 'nchan')}`,
    ];
  });
  return [
    `### 1. One \`apps/sse\` process with NATS vs nchan (1 worker): ${spec.updates} updates ${spec.intervalMs} ms apart`,
    '',
    table(
      [
        'subscribers',
        'ours delivered',
        'ours p50 / p99 ms',
        'ours completion median / worst ms',
        'nchan delivered',
        'nchan p50 / p99 ms',
        'nchan completion median / worst ms',
        'completion ratio',
        'reports',
      ],
      rows,
    ),
    '',
  ];
}
