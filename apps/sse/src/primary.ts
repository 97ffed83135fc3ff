import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import {
  type DrainAnswerMessage,
  isDrainQuery,
  isListeningMessage,
  WORKER_SLOT_VARIABLE,
} from './cluster-messages.js';
import type { AppConfig } from './config.js';
import { describeListening, listeningKind } from './instance.js';
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
  const workerEnv: Record<string, string> = { SSE_AUTHENTICATION_TOKEN: config.authToken };
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
      if (isDrainQuery(message)) {
        // Only this worker stops: it may close its listening socket now, the others serve.
        const answer: DrainAnswerMessage = { type: 'flagsmith-rt:drain-answer', alone: !stopping };
        worker.send(answer);
        return;
      }
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
            listening: listeningKind(config),
            mode: describeListening(config),
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

  log.info(
    { workers: slots.length, source: config.workersSource, listening: listeningKind(config) },
    'starting workers',
  );
  if (!config.reusePort) {
    for (const slot of slots) fork(slot);
    return;
  }
  reservePort(config.host, config.port).then(
    (port) => {
      // Every worker, restarted ones included, binds this port (the chosen one when PORT=0).
      workerEnv.PORT = String(port);
      for (const slot of slots) fork(slot);
    },
    (error: unknown) => {
      log.fatal({ err: error, host: config.host, port: config.port }, 'could not start');
      process.exit(1);
    },
  );
}

/**
 * Binds `host:port` once without `SO_REUSEPORT` and releases it, resolving the port bound.
 * With reusePort the workers bind the port themselves, so this is what makes a port already
 * in use fail the start (another service, or another instance whose workers would otherwise
 * silently share its connections), and what turns `PORT=0` into one port for all workers.
 */
function reservePort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => {
      const address = probe.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      probe.close(() => resolve(bound));
    });
  });
}
