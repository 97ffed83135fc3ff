import type { FanoutResult } from '../../fanout.js';
import { counts, int, pct, table } from '../../report/format.js';
import { link, type RenderInput } from './format.js';

/** Subscribers connected at the end that have the last update, of those counted. */
function lastDelivered(r: FanoutResult): string {
  const last = r.updates[r.updates.length - 1];
  return last
    ? `${int(last.delivered)} / ${int(last.expected)} (${pct(last.delivered / last.expected)})`
    : '–';
}

/** Issue #16 goal 5: publishes overlapping a connect storm; the intermediate updates each subscriber missed. */
export function gapsSection({ results, spec, reportsRel }: RenderInput): string[] {
  const g = results.gaps;
  if (!g) return [];
  const o = g.ours?.result;
  const n = g.nchan?.result;
  const col = (r: FanoutResult | undefined, f: (r: FanoutResult) => string) => (r ? f(r) : '–');
  const row = (name: string, f: (r: FanoutResult) => string) => [name, col(o, f), col(n, f)];
  const byUpdate = (r: FanoutResult) =>
    r.gaps ? r.gaps.missedByUpdate.map((m, i) => `${i + 1}: ${int(m)}`).join(', ') : '–';
  return [
    `### 11. Publishes overlapping a connect storm (issue #16 goal 5): ${int(spec.gapsSubscribers)} subscribers, ${spec.updates} updates ${spec.intervalMs} ms apart from ${int(spec.gapsPublishAfter)} connected on`,
    '',
    `Ours: \`SSE_WORKERS=${g.workers}\` on one nats-server; nchan: ${g.workers} nginx workers (reuseport). A subscriber may skip an update a newer one supersedes (the protocol allows it), ` +
      'but must end with the last; updates published before a subscriber connected are not counted as missed (it gets the latest on connect).',
    '',
    table(
      ['', `ours (\`SSE_WORKERS=${g.workers}\`)`, `nchan (${g.workers} workers)`],
      [
        row(
          'connected at the end',
          (r) =>
            `${int(r.subscribers.connected)} / ${int(r.subscribers.requested)} (failures: ${counts(r.subscribers.failures)})`,
        ),
        row('have the last update', lastDelivered),
        row('missed at least one intermediate update', (r) =>
          r.gaps ? `**${int(r.gaps.withGaps)}** of ${int(r.gaps.subscribers)}` : '–',
        ),
        row('subscribers that missed update 1 … N', byUpdate),
        row('missed updates per subscriber → subscribers', (r) =>
          r.gaps
            ? Object.entries(r.gaps.histogram)
                .map(([k, v]) => `${k}: ${int(v)}`)
                .join(', ')
            : '–',
        ),
        ['report', link(reportsRel, g.ours, 'ours'), link(reportsRel, g.nchan, 'nchan')],
      ],
    ),
    '',
  ];
}
