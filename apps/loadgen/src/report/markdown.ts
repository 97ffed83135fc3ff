import type { ConnectResult } from '../connect.js';
import type { FanoutResult } from '../fanout.js';
import type { GapSummary } from '../gaps.js';
import type { PublishResult } from '../publish.js';
import type { StormResult } from '../storm.js';
import { counts, int, ms, pct, table } from './format.js';

/** Any result the CLI produces. */
export type AnyResult = FanoutResult | PublishResult | ConnectResult | StormResult;

/** CPU ms spread over deliveries, in µs each. */
export function perDelivery(cpuMs: number, delivered: number): string {
  return delivered > 0 ? ((cpuMs * 1000) / delivered).toFixed(1) : '–';
}

/** A Markdown summary of one result. */
export function markdownSummary(result: AnyResult): string {
  switch (result.kind) {
    case 'fanout':
      return fanoutMarkdown(result);
    case 'publish':
      return publishMarkdown(result);
    case 'connect':
      return connectMarkdown(result);
    case 'storm':
      return stormMarkdown(result);
  }
}

/** One line on the updates subscribers skipped, or '' without a gap summary. */
export function gapsLine(g: GapSummary | undefined): string {
  if (!g) return '';
  const missed = g.missedByUpdate
    .map((n, i) => (n > 0 ? `update ${i + 1}: ${int(n)}` : ''))
    .filter((t) => t !== '');
  return (
    `Missed intermediate updates: ${int(g.withGaps)} of ${int(g.subscribers)} subscribers missed at least one` +
    `${missed.length > 0 ? ` (${missed.join(', ')})` : ''}; ${int(g.endedWithLast)} ended with the last update, ` +
    `${int(g.subscribers - g.endedWithLast)} did not; per subscriber: ${
      Object.entries(g.histogram)
        .map(([k, v]) => `${k} missed × ${int(v)}`)
        .join(', ') || 'none'
    }` +
    `${g.untracked > 0 ? `; ${int(g.untracked)} not tracked per update` : ''}.`
  );
}

function fanoutMarkdown(r: FanoutResult): string {
  const s = r.subscribers;
  const lines = [
    `## fanout: ${r.label}`,
    '',
    `${int(s.connected)} of ${int(s.requested)} subscribers connected in ${ms(s.connectMs)} ms ` +
      `(failures: ${counts(s.failures)}; drops: ${counts(s.drops)}); ` +
      `events: ${int(s.initial)} initial, ${int(s.duplicate)} duplicate, ${int(s.unexpected)} unexpected, ${int(s.unparsable)} unparsable.`,
    '',
    `**Delivered ${int(r.totals.delivered)} / ${int(r.totals.expected)} (${pct(r.totals.ratio)})**; ` +
      `latency p50 ${ms(r.totals.latency.p50)} ms, p90 ${ms(r.totals.latency.p90)} ms, p99 ${ms(r.totals.latency.p99)} ms, ` +
      `max ${ms(r.totals.latency.max)} ms; completion median ${ms(r.totals.completionMedianMs)} ms, worst ${ms(r.totals.completionMaxMs)} ms.`,
    '',
    table(
      [
        'update',
        'publish',
        'publish ms',
        'delivered',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'completion ms',
      ],
      r.updates.map((u) => [
        String(u.index + 1),
        u.publishStatus.join(','),
        ms(u.publishMs),
        `${int(u.delivered)}/${int(u.expected)}`,
        ms(u.latency.p50),
        ms(u.latency.p90),
        ms(u.latency.p99),
        ms(u.latency.max),
        ms(u.completionMs),
      ]),
    ),
  ];
  if (r.cost) {
    const c = r.cost;
    lines.push(
      '',
      `Server (PIDs ${c.pids.join(', ')}): RSS ${int(c.before.rssKb / 1024)} MB before, ${int(c.idle.rssKb / 1024)} MB with ` +
        `${int(s.connected)} idle subscribers (**${c.kbPerSubscriber.toFixed(1)} KB per subscriber**), ${int(c.after.rssKb / 1024)} MB after the updates; ` +
        `CPU ${int(c.cpuMsConnecting)} ms connecting, ${int(c.cpuMsDuringUpdates)} ms during the updates ` +
        `(**${perDelivery(c.cpuMsDuringUpdates, r.totals.delivered)} µs per delivered event**).`,
    );
  }
  lines.push(
    '',
    `Load generator: ${r.loadgen.workers} worker(s), max worker RSS ${r.loadgen.maxWorkerRssMb.toFixed(0)} MB, CPU ${int(r.loadgen.workerCpuMs)} ms (${int(r.loadgen.workerCpuMsDuringUpdates)} ms during the updates, ` +
      `${perDelivery(r.loadgen.workerCpuMsDuringUpdates, r.totals.delivered)} µs per delivered event).`,
  );
  if (r.gaps) lines.push('', gapsLine(r.gaps));
  return lines.join('\n');
}

function publishMarkdown(r: PublishResult): string {
  return [
    `## publish: ${r.label}`,
    '',
    `**${int(r.requestsPerSecond)} requests/s** (${int(r.requests)} in ${(r.options.durationMs / 1000).toFixed(0)} s, concurrency ${r.options.concurrency}${r.options.ratePerSecond > 0 ? `, paced to ${int(r.options.ratePerSecond)}/s` : ''}); ` +
      `latency p50 ${ms(r.latency.p50)} ms, p90 ${ms(r.latency.p90)} ms, p99 ${ms(r.latency.p99)} ms, max ${ms(r.latency.max)} ms.`,
    '',
    `Statuses: ${counts(r.statuses)}; errors: ${counts(r.errors)}; failed: ${int(r.failed)}.` +
      (r.serverCpuMs === undefined
        ? ''
        : ` Server CPU ${int(r.serverCpuMs)} ms (${(r.serverCores ?? 0).toFixed(2)} cores)` +
          (r.options.pids.length > 1
            ? `: ${r.options.pids.map((pid, i) => `PID ${pid} ${int(r.serverCpuMsByPid[i])} ms`).join(', ')}.`
            : '.')),
  ].join('\n');
}

function stormMarkdown(r: StormResult): string {
  const s = r.subscribers;
  const u = r.update;
  return [
    `## storm: ${r.label}`,
    '',
    `${int(s.beforeKill)} of ${int(s.requested)} subscribers connected when PID ${r.options.killPid} was killed; ` +
      `drops ${counts(s.drops)}; ${int(s.reconnects)} reconnected (failed attempts: ${counts(s.reconnectFailures)}); ` +
      `${int(s.atEnd)} connected at the end. **All back after ${ms(r.allBackMs)} ms.**`,
    '',
    `Update published ${ms(u.publishedAfterKillMs)} ms after the kill (${u.publishStatus.join(',')}): ` +
      `**delivered ${int(u.delivered)} / ${int(u.expected)} (${pct(u.ratio)})**, the last ${ms(u.completionAfterKillMs)} ms after the kill; ` +
      `latency from the publish p50 ${ms(u.latency.p50)} ms, p99 ${ms(u.latency.p99)} ms, max ${ms(u.latency.max)} ms.`,
    '',
    `All back and delivered: ${ms(r.allBackAndDeliveredMs)} ms after the kill (goal ≤ ${ms(r.goalMs)} ms: backoff window ${ms(r.options.backoff.baseMs)} ms + 2 s).` +
      (r.serverCpuMs === undefined
        ? ''
        : ` Survivors' CPU from the kill on: ${int(r.serverCpuMs)} ms.`),
  ].join('\n');
}

function connectMarkdown(r: ConnectResult): string {
  return [
    `## connect: ${r.label}`,
    '',
    `**${int(r.connected)} of ${int(r.clients)} clients connected**, the last after ${ms(r.timeToAllMs)} ms; failures: ${counts(r.failures)}.` +
      (r.serverCpuMs === undefined
        ? ''
        : ` Server CPU ${int(r.serverCpuMs)} ms (${ms(r.serverCpuMsPer1000)} ms per 1,000 connections; PID ${r.options.pids[0]} itself ${int(r.serverOwnCpuMs?.[0])} ms).`) +
      (r.connectsPerSecond === undefined ? '' : ` ${int(r.connectsPerSecond)} connections/s.`),
  ].join('\n');
}

/** `true` when a result shows no loss: every update delivered, every publish 2xx, every client connected. */
export function isClean(result: AnyResult): boolean {
  switch (result.kind) {
    case 'fanout':
      return (
        result.totals.ratio === 1 &&
        result.subscribers.connected === result.subscribers.requested &&
        result.updates.every((u) =>
          u.publishStatus.every((s) => typeof s === 'number' && s >= 200 && s < 300),
        )
      );
    case 'publish':
      return result.failed === 0 && result.requests > 0;
    case 'connect':
      return result.connected === result.clients;
    case 'storm':
      return result.allBackAndDeliveredMs !== undefined;
  }
}
