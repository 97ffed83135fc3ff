import { ProcessSampler } from './process-sampler.js';
import type { Progress } from './progress.js';
import { publishUrlTemplate, redactHeaders, type ServerTemplates } from './scenario.js';
import { cdf, type Summary, sorted, summarize } from './stats.js';
import { closeWorkers, forkWorkers } from './worker-group.js';

/** Options of a publish run. */
export interface PublishOptions extends ServerTemplates {
  label: string;
  /** Requests in flight (keep-alive connections) over all workers. */
  concurrency: number;
  durationMs: number;
  /** At most this many requests per second over all connections; 0 for as fast as they are answered. */
  ratePerSecond: number;
  /** Worker processes sharing the connections. */
  workers: number;
  pids: number[];
}

/** The result of `loadgen publish`. */
export interface PublishResult {
  kind: 'publish';
  label: string;
  startedAt: string;
  options: PublishOptions;
  requests: number;
  /** Completed requests per second. */
  requestsPerSecond: number;
  /** Latency of completed requests, ms. */
  latency: Summary;
  /** 51 evenly spaced latency quantiles (for the plot). */
  latencyCdf: number[];
  statuses: Record<string, number>;
  errors: Record<string, number>;
  /** Non-2xx responses plus requests without a response. */
  failed: number;
  /** Server CPU time during the run, ms, and its share of one core. */
  serverCpuMs: number | undefined;
  /** Server CPU time during the run, ms, of each `--pid` (with its descendants), in the order given. */
  serverCpuMsByPid: number[];
  serverCores: number | undefined;
  /** The load generator's CPU time, ms, and its share of one core. */
  clientCpuMs: number;
  clientCores: number;
}

/** Drives `queue-change` (or any publish URL) at a concurrency for a duration. */
export async function runPublish(
  options: PublishOptions,
  progress: Progress,
): Promise<PublishResult> {
  const startedAt = new Date().toISOString();
  const workers = forkWorkers(Math.max(1, Math.min(options.workers, options.concurrency)));
  const sampler = new ProcessSampler(options.pids, () => 0);
  const before = sampler.sample();
  const beforeByPid = sampler.cpuByPid();
  const ticker = setInterval(
    () => progress.update(`publishing… ${((Date.now() - t0) / 1000).toFixed(0)} s`),
    500,
  );
  const t0 = Date.now();
  try {
    const reports = await Promise.all(
      workers.map((w) => {
        const share =
          Math.floor(options.concurrency / workers.length) +
          (w.index < options.concurrency % workers.length ? 1 : 0);
        w.send({
          type: 'publish',
          urlTemplate: publishUrlTemplate(options),
          method: options.publishMethod,
          headers: options.publishHeaders,
          bodyTemplate: options.bodyTemplate,
          envs: options.envs,
          concurrency: share,
          durationMs: options.durationMs,
          // Each connection gets the same share of the rate.
          ratePerSecond: (options.ratePerSecond * share) / options.concurrency,
          index: w.index,
          workers: workers.length,
        });
        return w.next('published', options.durationMs + 60_000);
      }),
    );
    const after = sampler.sample();
    const afterByPid = sampler.cpuByPid();
    clearInterval(ticker);
    const statuses: Record<string, number> = {};
    const errors: Record<string, number> = {};
    let total = 0;
    for (const r of reports) {
      total += r.latencies.length;
      for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
      for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    }
    const all = new Float64Array(total);
    let at = 0;
    for (const r of reports) {
      all.set(r.latencies, at);
      at += r.latencies.length;
    }
    const ascending = sorted(all);
    const start = Math.min(...reports.map((r) => r.startedAt));
    const end = Math.max(...reports.map((r) => r.endedAt));
    const non2xx = Object.entries(statuses)
      .filter(([k]) => !k.startsWith('2'))
      .reduce((a, [, v]) => a + v, 0);
    const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
    const cpu = options.pids.length > 0 ? after.cpuMs - before.cpuMs : undefined;
    return {
      kind: 'publish',
      label: options.label,
      startedAt,
      options: { ...options, publishHeaders: redactHeaders(options.publishHeaders) },
      requests: total,
      requestsPerSecond: total / ((end - start) / 1000),
      latency: summarize(ascending),
      latencyCdf: cdf(ascending),
      statuses,
      errors,
      failed: non2xx + errorCount,
      serverCpuMs: cpu,
      serverCpuMsByPid: afterByPid.map((ms, i) => ms - beforeByPid[i]!),
      serverCores: cpu === undefined ? undefined : cpu / (end - start),
      clientCpuMs: reports.reduce((a, r) => a + r.cpuMs, 0),
      clientCores: reports.reduce((a, r) => a + r.cpuMs, 0) / (end - start),
    };
  } finally {
    clearInterval(ticker);
    await closeWorkers(workers);
  }
}
