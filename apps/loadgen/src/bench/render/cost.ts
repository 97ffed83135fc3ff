import type { FanoutResult } from '../../fanout.js';
import type { PublishResult } from '../../publish.js';
import { int } from '../../report/format.js';
import { usText } from './format.js';

/**
 * (server + load generator CPU per update) ÷ `cores`, ms: the time one
 * fan-out would take if both sides had every core of the measuring machine.
 */
export function cpuFloorMs(r: FanoutResult, cores: number): number {
  const updates = Math.max(1, r.updates.length);
  return ((r.cost?.cpuMsDuringUpdates ?? 0) + r.loadgen.workerCpuMsDuringUpdates) / updates / cores;
}

/** Server and load generator CPU per request of a publish run, µs (cores × 10⁶ ÷ requests/s). */
export function cpuPerRequest(r: PublishResult): { server: number; client: number } {
  const us = (cores: number | undefined) =>
    cores === undefined || r.requestsPerSecond <= 0
      ? Number.NaN
      : (cores * 1e6) / r.requestsPerSecond;
  return { server: us(r.serverCores), client: us(r.clientCores) };
}

/**
 * nats-server's CPU per request, µs, in a run whose second `--pid` is the
 * nats-server (ours and the acked floor handler are run that way).
 */
export function natsCpuPerRequest(r: PublishResult): number {
  const natsMs = r.serverCpuMsByPid?.[1];
  return natsMs === undefined || r.requests <= 0 ? Number.NaN : (natsMs * 1000) / r.requests;
}

/** The requests/s `cores` answer at a run's CPU cost per request (server + load generator). */
export function ceilingOf(r: PublishResult, cores: number): number {
  const c = cpuPerRequest(r);
  return (cores * 1e6) / (c.server + c.client);
}

/** Cores 20,000 requests/s need at a run's CPU cost per request. */
export function coresFor20k(r: PublishResult): string {
  const c = cpuPerRequest(r);
  return Number.isFinite(c.server + c.client)
    ? (((c.server + c.client) * 20_000) / 1e6).toFixed(2)
    : '–';
}

/** "server X cores = Y µs per request …, load generator …; ceiling cores ÷ (… + … µs) = N" for one run. */
export function costText(r: PublishResult, cores: number, handler: string): string {
  const c = cpuPerRequest(r);
  const nats = natsCpuPerRequest(r);
  const split = Number.isFinite(nats)
    ? ` (${handler} ${usText(c.server - nats)} µs + nats-server ${usText(nats)} µs)`
    : ` (${handler} and nats-server together)`;
  return (
    `server ${r.serverCores?.toFixed(2) ?? '–'} cores = ${usText(c.server)} µs of CPU per request${split}, ` +
    `load generator ${r.clientCores.toFixed(2)} cores = ${usText(c.client)} µs per request; ` +
    `ceiling ${cores} cores ÷ (${usText(c.server)} + ${usText(c.client)} µs) = **${int(ceilingOf(r, cores))} requests/s**`
  );
}
