import type { FanoutResult } from '../../fanout.js';
import type { PublishResult } from '../../publish.js';
import { int, ms, pct, table } from '../../report/format.js';
import { ceilingOf, cpuFloorMs } from './cost.js';
import { type RenderInput, ratio, verdict } from './format.js';
import { growth } from './growth.js';

/** One line per target of the issue: our figure, nchan's, the ratio, met or missed. */
export function summaryTable({ results, spec, machine }: RenderInput): string {
  const cores = machine.cores;
  const largest = spec.sizes[spec.sizes.length - 1]!;
  const o = results.fanout.ours.find((r) => r.result.subscribers.requested === largest)?.result;
  const c = results.fanout.nchan.find((r) => r.result.subscribers.requested === largest)?.result;
  const h = results.hundredK.ours?.result;
  // Every subscriber connected and got every update (the p99 is judged apart).
  const hundredKDelivered =
    h !== undefined && h.subscribers.connected === h.subscribers.requested && h.totals.ratio === 1;
  const po = results.publish.ours?.result;
  const pw = results.publish.oursWorkers?.result;
  const pn = results.publish.nchan?.result;
  const pb = results.publish.bare?.result;
  const pj = results.publish.bareJetStream?.result;
  const best = [po, pw]
    .filter((r): r is PublishResult => r !== undefined)
    .sort((a, b) => b.requestsPerSecond - a.requestsPerSecond)[0];
  const co = results.connect.ours?.result;
  const cn = results.connect.nchan?.result;
  const go = growth(results.fanout.ours);
  const gn = growth(results.fanout.nchan);
  const kb = (r: FanoutResult | undefined) => r?.cost?.kbPerSubscriber;
  const publishFigure = (r: PublishResult | undefined) =>
    r ? `${int(r.requestsPerSecond)}/s, p99 ${ms(r.latency.p99)} ms, ${int(r.failed)} failed` : '–';
  return table(
    ['#', 'target', 'ours', 'nchan (same run)', 'ratio', 'verdict'],
    [
      [
        '1',
        `${int(largest)} subscribers, one process: 100 % delivered, completion ≤ nchan's`,
        o ? `${pct(o.totals.ratio)}, completion median ${ms(o.totals.completionMedianMs)} ms` : '–',
        c ? `${pct(c.totals.ratio)}, completion median ${ms(c.totals.completionMedianMs)} ms` : '–',
        ratio(o?.totals.completionMedianMs, c?.totals.completionMedianMs),
        verdict(
          o && c
            ? o.totals.ratio === 1 && o.totals.completionMedianMs <= c.totals.completionMedianMs
            : undefined,
        ),
      ],
      [
        '2',
        `${int(spec.hundredK)} subscribers: 100 % delivered, p99 ≤ 1 s`,
        h
          ? `${int(h.subscribers.connected)} connected, ${pct(h.totals.ratio)}, p99 ${ms(h.totals.latency.p99)} ms (CPU floor ${ms(cpuFloorMs(h, cores))} ms)`
          : '–',
        results.hundredK.nchan
          ? `${int(results.hundredK.nchan.result.subscribers.connected)} connected, ${pct(results.hundredK.nchan.result.totals.ratio)}, p99 ${ms(results.hundredK.nchan.result.totals.latency.p99)} ms`
          : '–',
        ratio(h?.totals.latency.p99, results.hundredK.nchan?.result.totals.latency.p99),
        verdict(
          h ? hundredKDelivered && h.totals.latency.p99 <= 1000 : undefined,
          // Everything delivered, but one fan-out needs more than 1 s of both cores.
          h && hundredKDelivered && cpuFloorMs(h, cores) > 1000
            ? `the CPU floor of one fan-out is ${ms(cpuFloorMs(h, cores))} ms`
            : undefined,
        ),
      ],
      [
        '3',
        'queue-change ≥ 20,000/s, p99 ≤ 50 ms, no errors (acked by JetStream, file storage)',
        best
          ? `${publishFigure(best)} (${best === pw ? 'SSE_WORKERS default' : '1 process'})${pb ? ` (bare node:http in the same run: ${int(pb.requestsPerSecond)}/s)` : ''}${pj ? ` (minimal acked handler in the same run: ${int(pj.requestsPerSecond)}/s)` : ''}`
          : '–',
        publishFigure(pn),
        ratio(best?.requestsPerSecond, pn?.requestsPerSecond),
        verdict(
          best
            ? best.requestsPerSecond >= 20_000 && best.latency.p99 <= 50 && best.failed === 0
            : undefined,
          // Latency and errors met, and a minimal acked handler cannot reach 20,000/s here.
          best && pj && best.latency.p99 <= 50 && best.failed === 0 && ceilingOf(pj, cores) < 20_000
            ? `a minimal acked handler's ceiling is ${int(ceilingOf(pj, cores))}/s`
            : undefined,
        ),
      ],
      [
        '4',
        'RSS per idle subscriber ≤ 2× nchan',
        kb(o) === undefined ? '–' : `${kb(o)!.toFixed(1)} KB`,
        kb(c) === undefined ? '–' : `${kb(c)!.toFixed(1)} KB`,
        ratio(kb(o), kb(c)),
        verdict(kb(o) !== undefined && kb(c) !== undefined ? kb(o)! <= 2 * kb(c)! : undefined),
      ],
      [
        '5',
        `${int(spec.storm)} clients at once, all connected`,
        co ? `${int(co.connected)} connected, last after ${ms(co.timeToAllMs)} ms` : '–',
        cn ? `${int(cn.connected)} connected, last after ${ms(cn.timeToAllMs)} ms` : '–',
        ratio(co?.timeToAllMs, cn?.timeToAllMs),
        verdict(co ? co.connected === co.clients : undefined),
      ],
      [
        '6',
        'linear growth; cost per subscriber',
        `${(go.completion.slope * 1000).toFixed(1)} µs and ${go.rss.slope.toFixed(1)} KB per subscriber (r² ${go.completion.r2.toFixed(2)} / ${go.rss.r2.toFixed(2)})`,
        `${(gn.completion.slope * 1000).toFixed(1)} µs and ${gn.rss.slope.toFixed(1)} KB per subscriber (r² ${gn.completion.r2.toFixed(2)} / ${gn.rss.r2.toFixed(2)})`,
        ratio(go.completion.slope, gn.completion.slope),
        verdict(
          Number.isFinite(go.completion.r2)
            ? go.completion.r2 >= 0.9 && go.rss.r2 >= 0.9
            : undefined,
        ),
      ],
    ],
  );
}
