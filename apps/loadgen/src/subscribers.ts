import { wallClockMs } from './clock.js';
import { LoadgenError } from './errors.js';
import { emptyCounts, type ProgressReport, type SubscriberCounts } from './ipc.js';
import type { Progress } from './progress.js';
import type { ReconnectPolicy } from './reconnect.js';
import { sourceNetwork } from './target.js';
import { forkWorkers, type WorkerHandle } from './worker-group.js';

/** The most sockets one worker holds (the per-process open-file limit here is 20,000). */
export const MAX_PER_WORKER = 19_000;

/** How to open subscribers. */
export interface OpenOptions {
  urls: string[];
  subscribers: number;
  /** Worker processes; at least enough for {@link MAX_PER_WORKER} each. */
  workers: number;
  /** New connections per second over all workers; 0 = all at once (a storm). */
  rampPerSecond: number;
  connectTimeoutMs: number;
  /** Bind each worker's sockets to its own 127.R.W.x source addresses and explicit ports. @defaultValue true */
  spreadSources: boolean;
  /** Reconnect like `@flagsmith-rt/client` after a stream ends; without it a closed subscriber stays closed. */
  reconnect?: ReconnectPolicy;
  /** Count events as updates from the first connection on (publishes overlap the ramp). */
  measureFromStart?: boolean;
}

/** Totals over workers. */
export interface OpenedSubscribers {
  workers: WorkerHandle[];
  /** Wall-clock ms when the first connection was attempted. */
  startedAt: number;
  /** Wall-clock ms when the last subscriber was established. */
  lastConnectedAt: number | undefined;
  counts: SubscriberCounts;
}

/** Adds up the counters of several workers. */
export function sumCounts(all: readonly SubscriberCounts[]): SubscriberCounts {
  const total: SubscriberCounts = emptyCounts();
  for (const c of all) {
    total.attempted += c.attempted;
    total.connected += c.connected;
    total.initial += c.initial;
    total.duplicate += c.duplicate;
    total.unparsable += c.unparsable;
    total.reconnects += c.reconnects;
    for (const [k, v] of Object.entries(c.reconnectFailures))
      total.reconnectFailures[k] = (total.reconnectFailures[k] ?? 0) + v;
    for (const [k, v] of Object.entries(c.failures))
      total.failures[k] = (total.failures[k] ?? 0) + v;
    for (const [k, v] of Object.entries(c.drops)) total.drops[k] = (total.drops[k] ?? 0) + v;
  }
  return total;
}

/** Latest progress of every worker. */
export function latestProgress(workers: readonly WorkerHandle[]): ProgressReport[] {
  return workers
    .map((w) => w.last.get('progress') as ProgressReport | undefined)
    .filter((p): p is ProgressReport => p !== undefined);
}

/**
 * Forks workers, opens the subscribers at the ramp rate, and resolves once
 * every subscriber is established or has failed (or the ramp timed out).
 */
export async function openSubscribers(
  options: OpenOptions,
  progress: Progress,
  onCounts: (counts: SubscriberCounts) => void = () => {},
): Promise<OpenedSubscribers> {
  return settled(startSubscribers(options), options, progress, onCounts);
}

/** Workers that have been told to open their subscribers, and when that began. */
export interface StartedSubscribers {
  workers: WorkerHandle[];
  startedAt: number;
}

/** Forks workers and tells each to open its share of the subscribers at the ramp rate. */
export function startSubscribers(options: OpenOptions): StartedSubscribers {
  const workerCount = Math.max(options.workers, Math.ceil(options.subscribers / MAX_PER_WORKER), 1);
  const workers = forkWorkers(workerCount);
  const startedAt = wallClockMs();
  const run = 1 + Math.floor(Math.random() * 250);
  let offset = 0;
  for (const w of workers) {
    const count =
      Math.floor(options.subscribers / workerCount) +
      (w.index < options.subscribers % workerCount ? 1 : 0);
    w.send({
      type: 'subscribe',
      urls: options.urls,
      offset,
      count,
      sourceNetwork: options.spreadSources ? sourceNetwork(run, w.index) : undefined,
      ratePerSecond: options.rampPerSecond / workerCount,
      connectTimeoutMs: options.connectTimeoutMs,
      reconnect: options.reconnect,
      measureFromStart: options.measureFromStart,
    });
    offset += count;
  }
  return { workers, startedAt };
}

/**
 * Resolves once every subscriber of started workers is established or has
 * failed (or the ramp timed out), with the totals.
 */
export async function settled(
  { workers, startedAt }: StartedSubscribers,
  options: OpenOptions,
  progress: Progress,
  onCounts: (counts: SubscriberCounts) => void = () => {},
): Promise<OpenedSubscribers> {
  const rampMs =
    options.rampPerSecond > 0 ? (options.subscribers / options.rampPerSecond) * 1000 : 0;
  const deadline = Date.now() + rampMs + options.connectTimeoutMs + 30_000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const reports = latestProgress(workers);
    const counts = sumCounts(reports.map((r) => r.counts));
    onCounts(counts);
    const failed = Object.values(counts.failures).reduce((a, b) => a + b, 0);
    progress.update(
      `connecting: ${counts.connected}/${options.subscribers} connected, ${failed} failed, ${counts.attempted} attempted`,
    );
    if (reports.length === workers.length && reports.every((r) => r.settled)) break;
    assertWorkersAlive(workers);
    if (Date.now() > deadline) break;
  }
  const reports = latestProgress(workers);
  const times = reports.map((r) => r.lastConnectedAt).filter((t): t is number => t !== undefined);
  const opens = reports.map((r) => r.openedAt).filter((t): t is number => t !== undefined);
  return {
    workers,
    startedAt: opens.length === 0 ? startedAt : Math.min(...opens),
    lastConnectedAt: times.length === 0 ? undefined : Math.max(...times),
    counts: sumCounts(reports.map((r) => r.counts)),
  };
}

/** Throws if a worker reported a fault or exited. */
export function assertWorkersAlive(workers: readonly WorkerHandle[]): void {
  const fault = workers.map((w) => w.last.get('fault')).find((f) => f !== undefined);
  if (fault?.type === 'fault')
    throw new LoadgenError('worker_failed', `a load generator worker failed: ${fault.message}`);
  if (workers.some((w) => w.child.exitCode !== null)) {
    throw new LoadgenError('worker_failed', 'a load generator worker exited while connecting');
  }
}

/**
 * Polls the workers' progress every 100 ms until `done` holds for the summed
 * counts and the subscribers at or past the watched value, or `timeoutMs` passes.
 * Resolves `true` if `done` held.
 */
export async function waitFor(
  workers: readonly WorkerHandle[],
  done: (counts: SubscriberCounts, reached: number) => boolean,
  timeoutMs: number,
  progress: Progress,
  what: string,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reports = latestProgress(workers);
    const counts = sumCounts(reports.map((r) => r.counts));
    const reached = reports.reduce((a, r) => a + r.reached, 0);
    progress.update(`${what}: ${counts.connected} connected, ${reached} have it`);
    if (reports.length === workers.length && done(counts, reached)) return true;
    assertWorkersAlive(workers);
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
