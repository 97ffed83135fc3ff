import { counts, int, ms, pct, table } from '../../report/format.js';
import type { StormResult } from '../../storm.js';
import { link, type RenderInput, ratio, verdict } from './format.js';

/** Whether a storm met issue #16 goal 2: all back and the update at 100 % within the backoff window + 2 s. */
export function stormMet(r: StormResult | undefined): boolean | undefined {
  if (!r) return undefined;
  return (
    r.allBackAndDeliveredMs !== undefined &&
    r.update.ratio === 1 &&
    r.allBackAndDeliveredMs <= r.goalMs
  );
}

/** Issue #16 goal 2: two instances, one SIGKILLed; how fast every subscriber is back with the next update. */
export function stormSection({ results, reportsRel }: RenderInput): string[] {
  const storm = results.storm;
  if (!storm) return [];
  const o = storm.ours?.result;
  const n = storm.nchan?.result;
  const any = o ?? n;
  const col = (r: StormResult | undefined, f: (r: StormResult) => string) => (r ? f(r) : '–');
  const row = (name: string, f: (r: StormResult) => string, last = '') => [
    name,
    col(o, f),
    col(n, f),
    last,
  ];
  return [
    `### 8. Reconnect storm (issue #16 goal 2): ${any ? int(any.subscribers.requested) : '–'} subscribers over two instances, one SIGKILLed`,
    '',
    'Ours: two `apps/sse` processes (`SSE_WORKERS=1`) on one nats-server; nchan: two nginx instances, each publish sent to both. ' +
      "Subscribers reconnect with `@flagsmith-rt/client`'s backoff (full jitter, first ceiling " +
      `${any ? ms(any.options.backoff.baseMs) : '–'} ms, doubling), each to the other instance, as a load balancer would send them. ` +
      `One update is published ${any ? ms(any.options.publishDelayMs) : '–'} ms after the kill to the survivor; every subscriber must end with it.`,
    '',
    table(
      ['', 'ours', 'nchan', 'ratio'],
      [
        row(
          'connected before the kill',
          (r) => `${int(r.subscribers.beforeKill)} / ${int(r.subscribers.requested)}`,
        ),
        row('streams the kill ended', (r) => counts(r.subscribers.drops)),
        row(
          'reconnected (failed attempts)',
          (r) => `${int(r.subscribers.reconnects)} (${counts(r.subscribers.reconnectFailures)})`,
        ),
        row(
          'kill → every subscriber connected again (ms)',
          (r) => ms(r.allBackMs),
          ratio(o?.allBackMs, n?.allBackMs),
        ),
        row(
          'update delivered',
          (r) => `${int(r.update.delivered)} / ${int(r.update.expected)} (${pct(r.update.ratio)})`,
        ),
        row(
          'kill → last subscriber has the update (ms)',
          (r) => ms(r.update.completionAfterKillMs),
          ratio(o?.update.completionAfterKillMs, n?.update.completionAfterKillMs),
        ),
        row(
          'kill → all back and delivered (ms)',
          (r) => ms(r.allBackAndDeliveredMs),
          ratio(o?.allBackAndDeliveredMs, n?.allBackAndDeliveredMs),
        ),
        row('goal: ≤ backoff window + 2 s (ms)', (r) => ms(r.goalMs)),
        row(
          'survivor CPU from the kill on (ms)',
          (r) => int(r.serverCpuMs),
          ratio(o?.serverCpuMs, n?.serverCpuMs),
        ),
        row('verdict', (r) => verdict(stormMet(r))),
        [
          'report',
          link(reportsRel, storm.ours, 'ours'),
          link(reportsRel, storm.nchan, 'nchan'),
          '',
        ],
      ],
    ),
    '',
  ];
}
