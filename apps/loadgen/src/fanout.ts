import { wallClockMs } from './clock.js';
import { emptyGaps, type GapSummary, mergeGaps } from './gaps.js';
import { KeepAliveConnection, RequestFailure, requestBytes } from './http-connection.js';
import type { SubscriberCounts } from './ipc.js';
import { type CostSample, ProcessSampler } from './process-sampler.js';
import type { Progress } from './progress.js';
import { publishUrlTemplate, redactHeaders, type ServerTemplates, streamUrls } from './scenario.js';
import { cdf, type Summary, sorted, summarize } from './stats.js';
import {
  latestProgress,
  type OpenedSubscribers,
  type OpenOptions,
  settled,
  startSubscribers,
  sumCounts,
  waitFor,
} from './subscribers.js';
import { parseEndpoint, renderTemplate } from './target.js';
import { closeWorkers } from './worker-group.js';

/** Options of a fan-out run. */
export interface FanoutOptions extends ServerTemplates {
  /** A name for reports. */
  label: string;
  subscribers: number;
  /** Updates to publish. */
  updates: number;
  /** Time between publishes, ms. */
  intervalMs: number;
  /** Worker processes (more are added to stay under 19,000 sockets each). */
  workers: number;
  /** New connections per second; 0 = all at once. */
  rampPerSecond: number;
  connectTimeoutMs: number;
  /** After the last publish, wait at most this long for every delivery. */
  settleTimeoutMs: number;
  /** Server processes whose RSS and CPU time are sampled. */
  pids: number[];
  spreadSources: boolean;
  /**
   * Start publishing once this many subscribers are connected, while the
   * rest still connect (events count as updates from the first connection
   * on); undefined waits for all. Reproduces publishes overlapping a connect storm.
   */
  publishAfterConnected?: number | undefined;
}

/** What happened to one update. */
export interface UpdateResult {
  index: number;
  /** The published timestamp. */
  value: number;
  /** HTTP status of each publish request (one per environment), or the failure cause. */
  publishStatus: Array<number | string>;
  /** Duration of the slowest publish request, ms. */
  publishMs: number;
  /** Subscribers connected when measuring began. */
  expected: number;
  /** Subscribers that received it. */
  delivered: number;
  /** Latency from the publish request's start to each receipt, ms. */
  latency: Summary;
  /** Last receipt − publish start, ms (the fan-out completion). */
  completionMs: number;
  /** 51 evenly spaced quantiles of the latency (for the plot). */
  cdf: number[];
}

/** Server cost figures. */
export interface ServerCost {
  pids: number[];
  /** Before any subscriber. */
  before: CostSample;
  /** All subscribers connected and idle. */
  idle: CostSample;
  /** After the last update was delivered. */
  after: CostSample;
  /** (idle − before) RSS / connected subscribers, KB. */
  kbPerSubscriber: number;
  /** Server CPU time spent while the updates were published and delivered, ms. */
  cpuMsDuringUpdates: number;
  /** Server CPU time spent connecting the subscribers, ms. */
  cpuMsConnecting: number;
  samples: CostSample[];
}

/** The result of `loadgen fanout`. */
export interface FanoutResult {
  kind: 'fanout';
  label: string;
  startedAt: string;
  options: FanoutOptions;
  subscribers: SubscriberCounts & {
    requested: number;
    /** First attempt → last established, ms. */
    connectMs: number | undefined;
    /** Events of values that were never published. */
    unexpected: number;
  };
  updates: UpdateResult[];
  totals: {
    expected: number;
    delivered: number;
    /** delivered / expected. */
    ratio: number;
    latency: Summary;
    /** Worst fan-out completion, ms. */
    completionMaxMs: number;
    /** Median fan-out completion over updates, ms. */
    completionMedianMs: number;
  };
  cost: ServerCost | undefined;
  /**
   * Per subscriber connected at the end: which published updates it missed
   * between its first receipt and the last update, and whether it ended with the last.
   */
  gaps: GapSummary | undefined;
  loadgen: {
    workers: number;
    maxWorkerRssMb: number;
    /** All workers' CPU time, ms. */
    workerCpuMs: number;
    /** Workers' CPU time from the first publish until every receipt was collected, ms. */
    workerCpuMsDuringUpdates: number;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Opens the subscribers, waits until all are established, publishes the
 * updates at the interval, and measures each update's delivery, latency and
 * completion, plus the server's cost when PIDs are given.
 */
export async function runFanout(options: FanoutOptions, progress: Progress): Promise<FanoutResult> {
  const startedAt = new Date().toISOString();
  let connectedNow = 0;
  const sampler = new ProcessSampler(options.pids, () => connectedNow);
  const before = sampler.sample();
  sampler.start();
  const cpuBeforeConnect = before.cpuMs;

  const open: OpenOptions = {
    urls: streamUrls(options),
    subscribers: options.subscribers,
    workers: options.workers,
    rampPerSecond: options.rampPerSecond,
    connectTimeoutMs: options.connectTimeoutMs,
    spreadSources: options.spreadSources,
    measureFromStart: options.publishAfterConnected !== undefined,
  };
  const overlap = options.publishAfterConnected;
  const started = startSubscribers(open);
  const workers = started.workers;
  const onCounts = (counts: { connected: number }) => {
    connectedNow = counts.connected;
  };
  const refreshConnected = setInterval(() => {
    connectedNow = sumCounts(latestProgress(workers).map((r) => r.counts)).connected;
  }, 100);
  try {
    let opened: OpenedSubscribers | undefined;
    let opening: Promise<OpenedSubscribers> | undefined;
    if (overlap === undefined) {
      opened = await settled(started, open, progress, onCounts);
      connectedNow = opened.counts.connected;
      // Let the server settle (GC, buffers) before measuring idle memory.
      await sleep(1000);
    } else {
      const rampMs =
        options.rampPerSecond > 0 ? (options.subscribers / options.rampPerSecond) * 1000 : 0;
      await waitFor(
        workers,
        (c) => c.connected >= overlap,
        rampMs + options.connectTimeoutMs,
        progress,
        `connecting until ${overlap}`,
      );
      opening = settled(started, open, progress, onCounts);
      // Settling is awaited after the publishes; a failure must not go unhandled meanwhile.
      opening.catch(() => {});
    }
    const idle = sampler.sample();

    const measuring = await Promise.all(
      workers.map((w) => w.ask({ type: 'measure' }, 'measuring', 10_000)),
    );
    let expected = sumCounts(latestProgress(workers).map((r) => r.counts)).connected;
    const published = await publishUpdates(options, progress);
    if (opening) {
      opened = await opening;
      // Every subscriber connected at the end must end with the last update.
      expected = opened.counts.connected;
    }

    // Wait for every delivery (or the settle timeout).
    if (overlap === undefined) {
      const want = expected * options.updates;
      const settleDeadline = Date.now() + options.settleTimeoutMs;
      for (;;) {
        const got = latestProgress(workers).reduce((a, r) => a + r.received, 0);
        progress.update(`delivering: ${got}/${want} receipts`);
        if (got >= want || Date.now() > settleDeadline) break;
        await sleep(100);
      }
    } else {
      const lastValue = published[published.length - 1]!.value;
      await Promise.all(
        workers.map((w) => w.ask({ type: 'watch', value: lastValue }, 'progress', 10_000)),
      );
      await waitFor(
        workers,
        (c, reached) => reached >= c.connected,
        options.settleTimeoutMs,
        progress,
        'delivering the last update',
      );
    }
    const after = sampler.sample();
    sampler.stop();

    const collected = await Promise.all(
      workers.map((w) =>
        w.ask({ type: 'collect', published: published.map((p) => p.value) }, 'collected', 60_000),
      ),
    );
    const gaps = collected.reduce(
      (sum, c) => (c.gaps ? mergeGaps(sum, c.gaps) : sum),
      emptyGaps(published.length),
    );
    const counts = sumCounts(collected.map((c) => c.counts));
    const byValue = new Map<number, Float64Array[]>();
    let unexpected = collected.reduce((a, c) => a + c.untracked, 0);
    const publishedValues = new Set(published.map((p) => p.value));
    for (const c of collected) {
      for (const v of c.values) {
        if (!publishedValues.has(v.value)) {
          unexpected += v.times.length;
          continue;
        }
        const list = byValue.get(v.value) ?? [];
        list.push(v.times);
        byValue.set(v.value, list);
      }
    }

    const all: number[] = [];
    const updates: UpdateResult[] = published.map((p, index) => {
      const parts = byValue.get(p.value) ?? [];
      const n = parts.reduce((a, t) => a + t.length, 0);
      const latencies = new Float64Array(n);
      let k = 0;
      for (const t of parts) for (let j = 0; j < t.length; j++) latencies[k++] = t[j]! - p.start;
      const asc = sorted(latencies);
      for (let j = 0; j < asc.length; j++) all.push(asc[j]!);
      const latency = summarize(asc);
      return {
        index,
        value: p.value,
        publishStatus: p.status,
        publishMs: p.ms,
        expected,
        delivered: n,
        latency,
        completionMs: latency.max,
        cdf: cdf(asc),
      };
    });
    const delivered = updates.reduce((a, u) => a + u.delivered, 0);
    const completions = sorted(updates.map((u) => u.completionMs));
    const progressReports = latestProgress(workers);

    const cost: ServerCost | undefined =
      options.pids.length === 0
        ? undefined
        : {
            pids: options.pids,
            before,
            idle,
            after,
            kbPerSubscriber: expected > 0 ? (idle.rssKb - before.rssKb) / expected : Number.NaN,
            cpuMsDuringUpdates: after.cpuMs - idle.cpuMs,
            cpuMsConnecting: idle.cpuMs - cpuBeforeConnect,
            samples: sampler.samples,
          };
    return {
      kind: 'fanout',
      label: options.label,
      startedAt,
      options: { ...options, publishHeaders: redactHeaders(options.publishHeaders) },
      subscribers: {
        ...counts,
        requested: options.subscribers,
        connectMs:
          opened!.lastConnectedAt === undefined
            ? undefined
            : opened!.lastConnectedAt - opened!.startedAt,
        unexpected,
      },
      updates,
      totals: {
        expected: expected * options.updates,
        delivered,
        ratio: expected * options.updates === 0 ? 0 : delivered / (expected * options.updates),
        latency: summarize(sorted(all)),
        completionMaxMs:
          completions.length === 0 ? Number.NaN : completions[completions.length - 1]!,
        completionMedianMs:
          completions.length === 0
            ? Number.NaN
            : completions[Math.floor((completions.length - 1) / 2)]!,
      },
      cost,
      gaps,
      loadgen: {
        workers: workers.length,
        maxWorkerRssMb: Math.max(0, ...progressReports.map((r) => r.rssBytes / 2 ** 20)),
        workerCpuMs: collected.reduce((a, c) => a + c.cpuMs, 0),
        workerCpuMsDuringUpdates:
          collected.reduce((a, c) => a + c.cpuMs, 0) - measuring.reduce((a, m) => a + m.cpuMs, 0),
      },
    };
  } finally {
    clearInterval(refreshConnected);
    sampler.stop();
    await closeWorkers(workers);
  }
}

/** One published update: its value, when the requests started, their outcomes. */
interface Published {
  value: number;
  start: number;
  status: Array<number | string>;
  ms: number;
}

/** Publishes `options.updates` updates `options.intervalMs` apart, each to every environment. */
async function publishUpdates(options: FanoutOptions, progress: Progress): Promise<Published[]> {
  const publishTemplate = publishUrlTemplate(options);
  const connections = new Map<string, KeepAliveConnection>();
  const published: Published[] = [];
  let lastValue = 0;
  const t0 = performance.now();
  for (let i = 0; i < options.updates; i++) {
    const wait = t0 + i * options.intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    // Unique and increasing, with a fractional part as the protocol requires.
    const value = Math.max(Math.round(Date.now()) / 1000, lastValue + 0.001);
    lastValue = Number(value.toFixed(3));
    const ts = lastValue.toFixed(3);
    const start = wallClockMs();
    const outcomes = await Promise.all(
      options.envs.map(async (env) => {
        const endpoint = parseEndpoint(renderTemplate(publishTemplate, { env, ts }));
        const key = `${env}@${endpoint.host}:${endpoint.port}`;
        let connection = connections.get(key);
        if (!connection) {
          connection = new KeepAliveConnection(endpoint);
          connections.set(key, connection);
        }
        const body = renderTemplate(options.bodyTemplate, { env, ts });
        try {
          const o = await connection.request(
            requestBytes(options.publishMethod, endpoint, options.publishHeaders, body),
          );
          return o.status;
        } catch (error) {
          return error instanceof RequestFailure ? error.reason : String(error);
        }
      }),
    );
    published.push({ value: lastValue, start, status: outcomes, ms: wallClockMs() - start });
    progress.update(`update ${i + 1}/${options.updates} published (${outcomes.join(',')})`);
  }
  for (const c of connections.values()) c.close();
  return published;
}
