import type { Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { aggregateMetrics, type MetricsSnapshot } from '@flagsmith-rt/server';
import {
  isMetricsRequest,
  isMetricsSnapshot,
  type MetricsCollectMessage,
  type MetricsTextMessage,
} from './cluster-messages.js';

/** A worker that does not answer within this long is left out of the scrape. */
const COLLECT_TIMEOUT_MS = 2_000;

interface Round {
  snapshots: MetricsSnapshot[];
  waiting: number;
  finish: () => void;
}

/**
 * The primary's side of `/metricsz` with workers: when a worker asks (it got
 * a scrape), collect a snapshot from every live worker, combine them with
 * {@link aggregateMetrics} and send the text back to the asking worker.
 */
export class PrimaryMetrics {
  private readonly rounds = new Map<string, Round>();

  constructor(private readonly workers: () => Worker[]) {}

  /** Handles a metrics message from `from`; returns `false` for any other message. */
  handle(from: Worker, message: unknown): boolean {
    if (isMetricsRequest(message)) {
      void this.collect().then((text) => {
        const reply: MetricsTextMessage = {
          type: 'flagsmith-rt:metrics-text',
          id: message.id,
          text,
        };
        if (from.isConnected()) from.send(reply);
      });
      return true;
    }
    if (isMetricsSnapshot(message)) {
      const round = this.rounds.get(message.id);
      if (round !== undefined) {
        round.snapshots.push(message.metrics);
        if (--round.waiting === 0) round.finish();
      }
      return true;
    }
    return false;
  }

  private async collect(): Promise<string> {
    const id = randomUUID();
    const targets = this.workers().filter((w) => w.isConnected());
    const snapshots: MetricsSnapshot[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, COLLECT_TIMEOUT_MS);
      const finish = () => {
        clearTimeout(timer);
        resolve();
      };
      this.rounds.set(id, { snapshots, waiting: targets.length, finish });
      const collect: MetricsCollectMessage = { type: 'flagsmith-rt:metrics-collect', id };
      for (const worker of targets) worker.send(collect);
      if (targets.length === 0) finish();
    });
    this.rounds.delete(id);
    return aggregateMetrics(snapshots);
  }
}
