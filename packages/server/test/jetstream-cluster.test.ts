import { randomUUID } from 'node:crypto';
import { type NatsCluster, startNatsCluster } from '@flagsmith-rt/nats-launcher';
import { STREAM_SETTINGS } from '@flagsmith-rt/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../src/broker.js';
import { startJetStreamBroker } from './helpers/jetstream-harness.js';
import { recordUpdates, timestampsOf } from './helpers/recorder.js';
import { waitFor } from './helpers/wait-for.js';

describe('JetStreamBroker on a 3-node cluster', () => {
  let cluster: NatsCluster;
  const brokers: Broker[] = [];

  beforeAll(async () => {
    cluster = await startNatsCluster({ size: 3 });
  }, 30_000);
  afterAll(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.close()));
    await cluster.stop();
  });

  it('keeps acknowledged updates and delivers new ones after the stream leader is killed', async () => {
    const options = { storage: 'file' as const, replicas: 3, startTimeoutMs: 20_000 };
    const a = await startJetStreamBroker(cluster.urls, brokers, options);
    const b = await startJetStreamBroker([...cluster.urls].reverse(), brokers, options);
    const seenByB = recordUpdates(b);
    const env = `env_${randomUUID().replaceAll('-', '')}`;
    expect(await a.publish(env, 1000.5)).toBe('published');
    await waitFor(() => b.latest(env) === 1000.5, 'B receives the first update');

    const leader = await cluster.streamLeader(STREAM_SETTINGS.name);
    await leader.kill('SIGKILL');
    // The publisher retries on 503 until the new leader takes the write.
    await waitFor(
      async () => (await a.publish(env, 2000.5).catch(() => undefined)) === 'published',
      'a publish succeeds after the failover',
      20_000,
    );
    await waitFor(() => b.latest(env) === 2000.5, 'B receives the update after failover', 30_000);
    expect(timestampsOf(seenByB, env)).toEqual([1000.5, 2000.5]);

    // A broker started now learns the latest from the surviving replicas.
    const late = await startJetStreamBroker(cluster.urls, brokers, options);
    expect(late.latest(env)).toBe(2000.5);
  }, 60_000);
});
