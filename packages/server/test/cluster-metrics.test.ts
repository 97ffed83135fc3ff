import { describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../src/broker/embedded.js';
import { Hub } from '../src/fanout/hub.js';
import { Stats } from '../src/fanout/stats.js';
import type { StreamSink } from '../src/fanout/subscriber.js';
import { aggregateMetrics, metricsSnapshot } from '../src/metrics/cluster.js';
import { createMetricsRegistry } from '../src/metrics/registry.js';

/** A hub with `subscribers` fake open streams and some counted writes, and its registry. */
async function worker(subscribers: number, writes: number, brokerReady: boolean) {
  const broker = new EmbeddedBroker();
  if (brokerReady) await broker.start();
  const hub = new Hub({
    broker,
    stats: new Stats(),
    eventIds: true,
    keepAliveIntervalMs: 15_000,
    slowSubscriberTimeoutMs: 30_000,
  });
  for (let i = 0; i < subscribers; i++) {
    const sink: StreamSink = {
      write: () => true,
      end() {},
      destroy() {},
      writableLength: 0,
      destroyed: false,
      on() {},
    };
    hub.subscribe({ chunked: false, open: () => sink }, 'env', undefined);
  }
  hub.stats.writesData = writes;
  return metricsSnapshot(createMetricsRegistry(hub, broker));
}

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe('aggregateMetrics', () => {
  it('sums subscribers and counters over workers, and reports NATS connected only if all are', async () => {
    const text = await aggregateMetrics([await worker(3, 10, true), await worker(5, 7, true)]);
    expect(value(text, 'flagsmith_sse_subscribers')).toBe(8);
    expect(value(text, 'flagsmith_sse_http_writes_total{message="data"}')).toBe(17);
    expect(value(text, 'flagsmith_sse_nats_connected')).toBe(1);
    // Once per instance, not once per worker.
    expect(text.match(/^# TYPE flagsmith_sse_subscribers gauge$/gm)).toHaveLength(1);

    const oneDown = await aggregateMetrics([await worker(1, 0, true), await worker(1, 0, false)]);
    expect(value(oneDown, 'flagsmith_sse_nats_connected')).toBe(0);
  });

  it('sums file descriptor limits with open descriptors, so their ratio holds for the instance', async () => {
    const single = await aggregateMetrics([await worker(1, 0, true)]);
    const pair = await aggregateMetrics([await worker(1, 0, true), await worker(1, 0, true)]);
    expect(value(pair, 'process_max_fds')).toBe(2 * value(single, 'process_max_fds'));
  });

  it('keeps a single snapshot as it is', async () => {
    const snapshot = await worker(2, 4, true);
    expect(value(await aggregateMetrics([snapshot]), 'flagsmith_sse_subscribers')).toBe(2);
  });
});
