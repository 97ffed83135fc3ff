import cluster, { type Worker } from 'node:cluster';
import { isListeningMessage, WORKER_SLOT_VARIABLE } from './cluster-messages.js';
import type { AppConfig } from './config.js';
import { primaryLogger } from './primary-log.js';
import { PrimaryMetrics } from './primary-metrics.js';
import { RestartBackoff } from './restart-backoff.js';

/** One worker position: the process in it changes when a worker is restarted. */
interface Slot {
  readonly index: number;
  readonly backoff: RestartBackoff;
  worker: Worker | undefined;
  startedAt: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/**
 * The cluster primary of `SSE_WORKERS > 1`: forks one worker per slot, each a
 * full instance (own Fastify, own NATS connection) on the shared port, and
 * serves nothing itself. It prints the one `listening` line once every worker
 * listens. A worker that exits is restarted (at once after a long life, with
 * a growing delay if it keeps crashing). A worker failing before the service
 * was ready (a configuration error: workers wait for NATS, they do not exit)
 * stops everything with exit 1. SIGTERM/SIGINT is forwarded to every
 * worker as SIGTERM (each drains its streams); the primary exits 0 once all
 * exited cleanly, 1 otherwise. A scrape of `/metricsz` on any worker is
 * answered with the sum over all workers, collected here.
 */
export function runPrimary(config: AppConfig): void {
  const log = primaryLogger(config.logLevel);
  // Every worker must accept the same token, generated or configured.
  const workerEnv = { SSE_AUTHENTICATION_TOKEN: config.authToken };
  const slots: Slot[] = Array.from({ length: config.workers }, (_, index) => ({
    index,
    backoff: new RestartBackoff(),
    worker: undefined,
    startedAt: 0,
    restartTimer: undefined,
  }));
  const listening = new Set<number>();
  let announced = false;
  let stopping = false;
  let exitCode = 0;
  const metrics = new PrimaryMetrics(() =>
    slots.flatMap((s) => (s.worker !== undefined && listening.has(s.index) ? [s.worker] : [])),
  );

  const fork = (slot: Slot): void => {
    slot.restartTimer = undefined;
    const worker = cluster.fork({ ...workerEnv, [WORKER_SLOT_VARIABLE]: String(slot.index) });
    slot.worker = worker;
    slot.startedAt = Date.now();
    const pid = worker.process.pid;
    log.info({ worker: slot.index, workerPid: pid }, 'worker started');
    worker.on('message', (message: unknown) => {
      if (metrics.handle(worker, message) || !isListeningMessage(message)) return;
      log.info({ worker: slot.index, workerPid: pid, port: message.port }, 'worker listening');
      listening.add(slot.index);
      if (!announced && listening.size === slots.length) {
        announced = true;
        log.info(
          {
            url: message.url,
            host: config.host,
            port: message.port,
            broker: message.broker,
            workers: slots.length,
            workerPids: slots.map((s) => s.worker?.process.pid),
          },
          'listening',
        );
      }
    });
    worker.on('exit', (code, signal) => onExit(slot, worker, code, signal));
  };

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    listening.delete(slot.index);
    const fields = { worker: slot.index, workerPid: worker.process.pid, code, signal };
    if (stopping) {
      if (code !== 0) exitCode = 1;
      log.info(fields, 'worker stopped');
      if (slots.every((s) => s.worker === undefined)) {
        log.info({ exitCode }, 'stopped');
        process.exit(exitCode);
      }
      return;
    }
    if (!announced) {
      // Nothing served yet (port taken, stream settings that differ, …): fail like a single
      // process. A worker waiting for NATS does not exit: it retries until NATS is reachable.
      log.fatal(fields, 'worker failed during start; stopping');
      exitCode = 1;
      stop('SIGTERM');
      return;
    }
    const delayMs = slot.backoff.next(Date.now() - slot.startedAt);
    log.error({ ...fields, restartInMs: delayMs }, 'worker exited; restarting');
    slot.restartTimer = setTimeout(() => fork(slot), delayMs);
  };

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, drainWindowMs: config.drainWindowMs }, 'shutting down');
    for (const slot of slots) {
      if (slot.restartTimer !== undefined) clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      slot.worker?.process.kill('SIGTERM');
    }
    if (slots.every((s) => s.worker === undefined)) {
      log.info({ exitCode }, 'stopped');
      process.exit(exitCode);
    }
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  log.info({ workers: slots.length, source: config.workersSource }, 'starting workers');
  for (const slot of slots) fork(slot);
}
