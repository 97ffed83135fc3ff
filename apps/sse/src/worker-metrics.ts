import { randomUUID } from 'node:crypto';
import { METRICSZ_PATH } from '@flagsmith-rt/protocol';
import { metricsSnapshot } from '@flagsmith-rt/server';
import type { FastifyInstance } from 'fastify';
import {
  isMetricsCollect,
  isMetricsText,
  type MetricsRequestMessage,
  type MetricsSnapshotMessage,
} from './cluster-messages.js';

/** How long a scrape waits for the primary's combined answer. */
const SCRAPE_TIMEOUT_MS = 5_000;

/**
 * `GET /metricsz` in a cluster worker. A scrape reaches one worker (the
 * primary hands each connection to the next), yet must describe the whole
 * instance: the worker asks the primary, which collects every worker's
 * snapshot (this one's included) and answers with their combined exposition.
 * Register after the flagsmith-rt plugin, which must have `metrics: 'registry'`
 * (its registry, without its route).
 */
export async function clusterMetrics(app: FastifyInstance): Promise<void> {
  const register = app.realtimeMetrics;
  if (register === undefined) {
    throw new Error(
      "clusterMetrics needs the flagsmith-rt plugin registered with metrics: 'registry'.",
    );
  }
  const pending = new Map<string, (text: string | undefined) => void>();

  const onMessage = (message: unknown) => {
    if (isMetricsCollect(message)) {
      void metricsSnapshot(register).then((metrics) => {
        const reply: MetricsSnapshotMessage = {
          type: 'flagsmith-rt:metrics-snapshot',
          id: message.id,
          metrics,
        };
        process.send?.(reply);
      });
    } else if (isMetricsText(message)) {
      pending.get(message.id)?.(message.text);
    }
  };
  process.on('message', onMessage);
  app.addHook('onClose', async () => {
    process.off('message', onMessage);
  });

  app.get(METRICSZ_PATH, async (_request, reply) => {
    const id = randomUUID();
    const text = await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), SCRAPE_TIMEOUT_MS);
      pending.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
      const request: MetricsRequestMessage = { type: 'flagsmith-rt:metrics-request', id };
      process.send?.(request);
    });
    pending.delete(id);
    reply.type(register.contentType);
    // Without the primary's answer, this worker's own numbers beat no scrape at all.
    return text ?? register.metrics();
  });
}
