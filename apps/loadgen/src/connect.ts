import { ProcessSampler } from './process-sampler.js';
import type { Progress } from './progress.js';
import { type ServerTemplates, streamUrls } from './scenario.js';
import { openSubscribers } from './subscribers.js';
import { closeWorkers } from './worker-group.js';

/** Options of a connection storm. */
export interface ConnectOptions extends ServerTemplates {
  label: string;
  /** Clients opened at once. */
  clients: number;
  workers: number;
  connectTimeoutMs: number;
  pids: number[];
  spreadSources: boolean;
}

/** The result of `loadgen connect`. */
export interface ConnectResult {
  kind: 'connect';
  label: string;
  startedAt: string;
  options: ConnectOptions;
  clients: number;
  connected: number;
  /** Failures by cause. */
  failures: Record<string, number>;
  /** First attempt → last client established, ms (undefined if none connected; see `connected` for how many did). */
  timeToAllMs: number | undefined;
  /** Server CPU time spent accepting the storm, ms. */
  serverCpuMs: number | undefined;
}

/** Opens every client at once and reports how long until all were connected. */
export async function runConnect(
  options: ConnectOptions,
  progress: Progress,
): Promise<ConnectResult> {
  const startedAt = new Date().toISOString();
  const sampler = new ProcessSampler(options.pids, () => 0);
  const before = sampler.sample();
  const opened = await openSubscribers(
    {
      urls: streamUrls(options),
      subscribers: options.clients,
      workers: options.workers,
      rampPerSecond: 0,
      connectTimeoutMs: options.connectTimeoutMs,
      spreadSources: options.spreadSources,
    },
    progress,
  );
  const after = sampler.sample();
  await closeWorkers(opened.workers);
  return {
    kind: 'connect',
    label: options.label,
    startedAt,
    options: { ...options, publishHeaders: [] },
    clients: options.clients,
    connected: opened.counts.connected,
    failures: opened.counts.failures,
    timeToAllMs:
      opened.lastConnectedAt === undefined ? undefined : opened.lastConnectedAt - opened.startedAt,
    serverCpuMs: options.pids.length > 0 ? after.cpuMs - before.cpuMs : undefined,
  };
}
