import { ProcessSampler, readProcess } from './process-sampler.js';
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
  /**
   * Of that, user-space time, ms; the rest is kernel time spent for the server (on loopback
   * that includes delivering what it sends to the client's socket).
   */
  serverUserCpuMs?: number | undefined;
  /** Of that, each `--pid`'s own CPU time without its descendants (a cluster primary, nginx's master), ms. */
  serverOwnCpuMs: number[];
  /** Server CPU time per 1,000 connected clients, ms. */
  serverCpuMsPer1000: number | undefined;
  /** Connected clients per second of {@link ConnectResult.timeToAllMs}. */
  connectsPerSecond: number | undefined;
}

/** Opens every client at once and reports how long until all were connected. */
export async function runConnect(
  options: ConnectOptions,
  progress: Progress,
): Promise<ConnectResult> {
  const startedAt = new Date().toISOString();
  const sampler = new ProcessSampler(options.pids, () => 0);
  const before = sampler.sample();
  const ownBefore = options.pids.map((p) => readProcess(p)?.cpuMs ?? 0);
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
  const ownAfter = options.pids.map((p) => readProcess(p)?.cpuMs ?? 0);
  await closeWorkers(opened.workers);
  const connected = opened.counts.connected;
  const timeToAllMs =
    opened.lastConnectedAt === undefined ? undefined : opened.lastConnectedAt - opened.startedAt;
  const serverCpuMs = options.pids.length > 0 ? after.cpuMs - before.cpuMs : undefined;
  return {
    kind: 'connect',
    label: options.label,
    startedAt,
    options: { ...options, publishHeaders: [] },
    clients: options.clients,
    connected,
    failures: opened.counts.failures,
    timeToAllMs,
    serverCpuMs,
    serverUserCpuMs: options.pids.length > 0 ? after.userCpuMs - before.userCpuMs : undefined,
    serverOwnCpuMs: ownAfter.map((ms, i) => ms - ownBefore[i]!),
    serverCpuMsPer1000:
      serverCpuMs === undefined || connected === 0 ? undefined : (serverCpuMs * 1000) / connected,
    connectsPerSecond:
      timeToAllMs === undefined || timeToAllMs <= 0 ? undefined : (connected * 1000) / timeToAllMs,
  };
}
