import { wallClockMs } from './clock.js';
import { KeepAliveConnection, RequestFailure, requestBytes } from './http-connection.js';
import { ProcessSampler } from './process-sampler.js';
import type { Progress } from './progress.js';
import { redactHeaders, type ServerTemplates, streamUrls } from './scenario.js';
import { type Summary, sorted, summarize } from './stats.js';
import {
  latestProgress,
  type OpenOptions,
  settled,
  startSubscribers,
  sumCounts,
  waitFor,
} from './subscribers.js';
import { parseEndpoint, renderTemplate } from './target.js';
import { closeWorkers } from './worker-group.js';

/** Options of a reconnect storm. */
export interface StormOptions extends ServerTemplates {
  label: string;
  /** Subscribers, spread over every target. */
  subscribers: number;
  rampPerSecond: number;
  workers: number;
  connectTimeoutMs: number;
  spreadSources: boolean;
  /** The process serving the first target: SIGKILLed once every subscriber is connected. */
  killPid: number;
  /** Time from the kill to the publish of the update every subscriber must end with, ms. */
  publishDelayMs: number;
  /** After the kill, wait at most this long for every subscriber to be back with the update, ms. */
  settleTimeoutMs: number;
  /** The subscribers' reconnect delays: `@flagsmith-rt/client`'s defaults unless changed. */
  backoff: { baseMs: number; capMs: number; resetAfterMs: number };
  /** Server processes sampled for CPU (the survivors). */
  pids: number[];
}

/** The result of `loadgen storm`. */
export interface StormResult {
  kind: 'storm';
  label: string;
  startedAt: string;
  options: StormOptions;
  subscribers: {
    requested: number;
    /** Connected when the instance was killed. */
    beforeKill: number;
    /** Connected at the end. */
    atEnd: number;
    /** Streams the kill ended, by cause. */
    drops: Record<string, number>;
    /** Streams established again. */
    reconnects: number;
    /** Reconnect attempts that failed, by cause. */
    reconnectFailures: Record<string, number>;
    /** Initial connection failures, by cause. */
    failures: Record<string, number>;
  };
  /** Kill → the last dropped subscriber's stream established again, ms; undefined unless every one came back. */
  allBackMs: number | undefined;
  update: {
    value: number;
    /** Status of the publish to each surviving target (per environment), or the failure cause. */
    publishStatus: Array<number | string>;
    /** Kill → publish request start, ms. */
    publishedAfterKillMs: number;
    /** Subscribers connected before the kill: each must end with this update. */
    expected: number;
    delivered: number;
    ratio: number;
    /** Publish start → each subscriber's receipt (live, or as the initial event after reconnecting), ms. */
    latency: Summary;
    /** Kill → the last subscriber's receipt, ms. */
    completionAfterKillMs: number;
  };
  /** Kill → every subscriber back and holding the update, ms; undefined unless both happened. */
  allBackAndDeliveredMs: number | undefined;
  /** The goal: {@link StormResult.allBackAndDeliveredMs} ≤ the first reconnect's backoff window + 2 s. */
  goalMs: number;
  /** Survivors' CPU time from the kill to the end, ms. */
  serverCpuMs: number | undefined;
  loadgen: { workers: number; workerCpuMs: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Opens subscribers over every target (reconnecting as `@flagsmith-rt/client`
 * does, to the next target), SIGKILLs the process of the first target, and
 * `publishDelayMs` later publishes one update to every other target. Measures
 * when every dropped subscriber was connected again and when every subscriber
 * had the update.
 */
export async function runStorm(options: StormOptions, progress: Progress): Promise<StormResult> {
  const startedAt = new Date().toISOString();
  const sampler = new ProcessSampler(options.pids, () => 0);
  const open: OpenOptions = {
    urls: streamUrls(options),
    subscribers: options.subscribers,
    workers: options.workers,
    rampPerSecond: options.rampPerSecond,
    connectTimeoutMs: options.connectTimeoutMs,
    spreadSources: options.spreadSources,
    reconnect: { ...options.backoff, instances: options.targets.length },
  };
  const started = startSubscribers(open);
  const workers = started.workers;
  try {
    await settled(started, open, progress);
    await Promise.all(workers.map((w) => w.ask({ type: 'measure' }, 'measuring', 10_000)));
    // Unique and newer than anything before, with a fractional part as the protocol requires.
    const value = Number((Date.now() / 1000 + options.publishDelayMs / 1000 + 0.001).toFixed(3));
    await Promise.all(workers.map((w) => w.ask({ type: 'watch', value }, 'progress', 10_000)));
    const beforeKill = sumCounts(latestProgress(workers).map((r) => r.counts)).connected;
    const cpuBefore = sampler.sample();

    const killAt = wallClockMs();
    process.kill(options.killPid, 'SIGKILL');
    await sleep(killAt + options.publishDelayMs - wallClockMs());
    const publishAt = wallClockMs();
    const publishStatus = await publishToSurvivors(options, value);
    progress.update(`published after the kill (${publishStatus.join(',')})`);

    await waitFor(
      workers,
      (c, reached) => c.connected >= beforeKill && reached >= beforeKill,
      options.settleTimeoutMs,
      progress,
      'reconnecting',
    );
    const cpuAfter = sampler.sample();
    const reports = latestProgress(workers);
    const backAt = reports
      .map((r) => r.lastReconnectedAt)
      .filter((t): t is number => t !== undefined);
    const collected = await Promise.all(
      workers.map((w) => w.ask({ type: 'collect' }, 'collected', 60_000)),
    );
    const counts = sumCounts(collected.map((c) => c.counts));
    const times = collected.flatMap((c) =>
      c.values.filter((v) => v.value === value).map((v) => v.times),
    );
    const latencies = new Float64Array(times.reduce((a, t) => a + t.length, 0));
    let k = 0;
    for (const t of times) for (let j = 0; j < t.length; j++) latencies[k++] = t[j]! - publishAt;
    const latency = summarize(sorted(latencies));
    const delivered = latencies.length;
    const allBack = counts.connected >= beforeKill && backAt.length > 0;
    const allBackMs = allBack ? Math.max(...backAt) - killAt : undefined;
    const completionAfterKillMs = delivered > 0 ? publishAt + latency.max - killAt : Number.NaN;
    return {
      kind: 'storm',
      label: options.label,
      startedAt,
      options: { ...options, publishHeaders: redactHeaders(options.publishHeaders) },
      subscribers: {
        requested: options.subscribers,
        beforeKill,
        atEnd: counts.connected,
        drops: counts.drops,
        reconnects: counts.reconnects,
        reconnectFailures: counts.reconnectFailures,
        failures: counts.failures,
      },
      allBackMs,
      update: {
        value,
        publishStatus,
        publishedAfterKillMs: publishAt - killAt,
        expected: beforeKill,
        delivered,
        ratio: beforeKill === 0 ? 0 : delivered / beforeKill,
        latency,
        completionAfterKillMs,
      },
      allBackAndDeliveredMs:
        allBackMs !== undefined && delivered >= beforeKill
          ? Math.max(allBackMs, completionAfterKillMs)
          : undefined,
      goalMs: options.backoff.baseMs + 2000,
      serverCpuMs: options.pids.length > 0 ? cpuAfter.cpuMs - cpuBefore.cpuMs : undefined,
      loadgen: {
        workers: workers.length,
        workerCpuMs: collected.reduce((a, c) => a + c.cpuMs, 0),
      },
    };
  } finally {
    await closeWorkers(workers);
  }
}

/**
 * Publishes `value` to every target but the killed first one, for every
 * environment: the same update reaches both kinds of peers (flagsmith-rt
 * dedupes it in NATS; independent nchan instances each need it).
 */
async function publishToSurvivors(
  options: StormOptions,
  value: number,
): Promise<Array<number | string>> {
  const ts = value.toFixed(3);
  return Promise.all(
    options.targets.slice(1).flatMap((target) =>
      options.envs.map(async (env) => {
        const endpoint = parseEndpoint(
          renderTemplate(renderTemplate(options.publishTemplate, { target }), { env, ts }),
        );
        const connection = new KeepAliveConnection(endpoint);
        try {
          const body = renderTemplate(options.bodyTemplate, { env, ts });
          const o = await connection.request(
            requestBytes(options.publishMethod, endpoint, options.publishHeaders, body),
          );
          return o.status;
        } catch (error) {
          return error instanceof RequestFailure ? error.reason : String(error);
        } finally {
          connection.close();
        }
      }),
    ),
  );
}
