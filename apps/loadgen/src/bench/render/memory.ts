import { int, table } from '../../report/format.js';
import { type RenderInput, ratio } from './format.js';

/** Target 4: RSS per idle subscriber at each fan-out size. */
export function memorySection({ results, spec }: RenderInput): string[] {
  const mo = [...results.fanout.ours].reverse().find((r) => r.result.cost);
  const mn = [...results.fanout.nchan].reverse().find((r) => r.result.cost);
  return [
    '### 4. Memory per idle subscriber (RSS with all subscribers connected − RSS before, ÷ subscribers)',
    '',
    table(
      ['subscribers', 'ours KB/subscriber', 'nchan KB/subscriber', 'ratio'],
      spec.sizes.map((n) => {
        const o = results.fanout.ours.find((r) => r.result.subscribers.requested === n)?.result.cost
          ?.kbPerSubscriber;
        const c = results.fanout.nchan.find((r) => r.result.subscribers.requested === n)?.result
          .cost?.kbPerSubscriber;
        return [
          int(n),
          o === undefined ? '–' : o.toFixed(1),
          c === undefined ? '–' : c.toFixed(1),
          ratio(o, c),
        ];
      }),
    ),
    '',
    mo && mn
      ? `At ${int(mo.result.subscribers.connected)} subscribers: ours ${mo.result.cost!.kbPerSubscriber.toFixed(1)} KB, nchan ${mn.result.cost!.kbPerSubscriber.toFixed(1)} KB (target: ≤ 2×).`
      : '',
    '',
  ];
}
