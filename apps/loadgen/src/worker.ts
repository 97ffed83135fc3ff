import type { ProgressReport, WorkerCommand, WorkerReport } from './ipc.js';
import { runPublishLoad } from './publish-load.js';
import { SubscriberPool } from './subscriber-pool.js';

/**
 * A load generator worker process (forked by the coordinator): holds up to
 * ~19,000 subscriber sockets (the per-process open-file limit is 20,000), or
 * runs a share of a publish load, and reports over IPC.
 */
const PROGRESS_INTERVAL_MS = 250;

let pool: SubscriberPool | undefined;
let progressTimer: NodeJS.Timeout | undefined;
let settled = false;

function send(report: WorkerReport): void {
  process.send?.(report);
}

function cpuMs(): number {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
}

function progress(): ProgressReport {
  return {
    type: 'progress',
    counts: pool!.counts,
    settled,
    openedAt: pool!.openedAt,
    lastConnectedAt: pool!.lastConnectedAt,
    rssBytes: process.memoryUsage.rss(),
    cpuMs: cpuMs(),
    received: pool!.received,
    reached: pool!.reached,
    lastReconnectedAt: pool!.lastReconnectedAt,
  };
}

function handle(command: WorkerCommand): void {
  switch (command.type) {
    case 'subscribe':
      pool = new SubscriberPool(command, () => {
        settled = true;
        send(progress());
      });
      progressTimer = setInterval(() => send(progress()), PROGRESS_INTERVAL_MS);
      pool.start();
      break;
    case 'measure':
      pool?.measure();
      send({ type: 'measuring', cpuMs: cpuMs() });
      break;
    case 'collect':
      if (pool) send({ ...pool.collect(command.published), cpuMs: cpuMs() });
      break;
    case 'watch':
      pool?.watch(command.value);
      send(progress());
      break;
    case 'publish':
      runPublishLoad(command).then(send, (error: unknown) =>
        send({ type: 'fault', message: String(error) }),
      );
      break;
    case 'close':
      clearInterval(progressTimer);
      pool?.close();
      process.send?.({ type: 'closed' }, undefined, {}, () => process.exit(0));
      break;
  }
}

process.on('message', (message: WorkerCommand) => {
  try {
    handle(message);
  } catch (error) {
    send({ type: 'fault', message: error instanceof Error ? error.message : String(error) });
  }
});
// The coordinator died: nothing to report to.
process.on('disconnect', () => process.exit(0));
