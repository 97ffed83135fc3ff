import type { FanoutResult } from '../../fanout.js';
import { counts, int, ms, pct, table } from '../../report/format.js';
import { perDelivery } from '../../report/markdown.js';
import type { Run } from '../matrix.js';
import { cpuFloorMs } from './cost.js';
import { link, type RenderInput, ratio } from './format.js';

/** Target 2: the 100k run over several processes, ours and nchan's workers side by side. */
export function hundredKSection({ results, spec, machine, reportsRel }: RenderInput): string[] {
  const cores = machine.cores;
  const h = results.hundredK.ours;
  const hn = results.hundredK.nchan;
  const out = [
    `### 2. ${int(spec.hundredK)} concurrent subscribers (${results.hundredK.sseProcesses} \`apps/sse\` processes on one nats-server)`,
    '',
  ];
  if (!h && !hn) return [...out, 'Not measured (see failures above).', ''];
  const col = (run: Run<FanoutResult> | undefined, f: (r: FanoutResult) => string) =>
    run ? f(run.result) : '–';
  const row = (name: string, f: (r: FanoutResult) => string, last = '') => [
    name,
    col(h, f),
    col(hn, f),
    last,
  ];
  return [
    ...out,
    table(
      [
        '',
        `ours (${results.hundredK.sseProcesses} processes)`,
        `nchan (${results.hundredK.sseProcesses} nginx workers, reuseport)`,
        'ratio',
      ],
      [
        row(
          'connected',
          (r) =>
            `${int(r.subscribers.connected)} / ${int(r.subscribers.requested)} in ${ms(r.subscribers.connectMs)} ms (failures: ${counts(r.subscribers.failures)})`,
        ),
        row(
          'delivered',
          (r) => `${int(r.totals.delivered)} / ${int(r.totals.expected)} (${pct(r.totals.ratio)})`,
        ),
        row(
          'latency p50 / p90 / p99 / max ms',
          (r) =>
            `${ms(r.totals.latency.p50)} / ${ms(r.totals.latency.p90)} / ${ms(r.totals.latency.p99)} / ${ms(r.totals.latency.max)}`,
          ratio(h?.result.totals.latency.p99, hn?.result.totals.latency.p99),
        ),
        row(
          'completion median / worst ms',
          (r) => `${ms(r.totals.completionMedianMs)} / ${ms(r.totals.completionMaxMs)}`,
          ratio(h?.result.totals.completionMedianMs, hn?.result.totals.completionMedianMs),
        ),
        row('server RSS (all processes) idle', (r) =>
          r.cost
            ? `${int(r.cost.idle.rssKb / 1024)} MB (${r.cost.kbPerSubscriber.toFixed(1)} KB per subscriber)`
            : '–',
        ),
        row(
          'CPU per delivered event: server / load generator (µs)',
          (r) =>
            `${perDelivery(r.cost?.cpuMsDuringUpdates ?? Number.NaN, r.totals.delivered)} / ${perDelivery(r.loadgen.workerCpuMsDuringUpdates, r.totals.delivered)}`,
        ),
        row(`CPU-bound floor of one fan-out on these ${cores} cores (ms)`, (r) =>
          ms(cpuFloorMs(r, cores)),
        ),
        ['report', link(reportsRel, h, 'ours'), link(reportsRel, hn, 'nchan'), ''],
      ],
    ),
    '',
    `The floor is (server + load generator CPU per update) ÷ ${cores} cores: the time one update would take to reach every subscriber ` +
      'if both sides had every core and nothing else ran. Where it is near the p99, CPU is the limit, not a queue in the server.',
    '',
  ];
}
