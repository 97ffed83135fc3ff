import { randomUUID } from 'node:crypto';
import { type NatsCluster, type NatsServer, startNatsCluster } from '@flagsmith-rt/nats-launcher';
import { decodeUpdateMessage, STREAM_SETTINGS, subjectFor } from '@flagsmith-rt/protocol';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../src/broker/broker.js';
import type { JetStreamBroker } from '../src/jetstream/broker.js';
import { publishUpdate } from '../src/jetstream/index.js';
import { CLUSTERED_COMPARE_AND_SET_SINCE, isOlderVersion } from '../src/jetstream/stream-config.js';
import type { BrokerLogger } from '../src/logger.js';
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

  it('warns once at start about a replicated stream on a nats-server whose compare-and-set races', async () => {
    const warnings: Array<{ fields: object; message: string | undefined }> = [];
    const logger: BrokerLogger = {
      debug() {},
      info() {},
      warn(fields, message) {
        warnings.push({ fields, message });
      },
      error() {},
    };
    const nc = await connect({ servers: cluster.urls });
    const version = nc.info?.version ?? '';
    await nc.close();
    await startJetStreamBroker(cluster.urls, brokers, { storage: 'file', replicas: 3, logger });
    const raced = warnings.filter((w) => w.message?.includes('compare-and-set'));
    // Whatever nats-server this machine has: the warning says so exactly when it is older.
    expect(raced).toHaveLength(isOlderVersion(version, CLUSTERED_COMPARE_AND_SET_SINCE) ? 1 : 0);
    if (raced.length > 0) {
      expect(raced[0]!.fields).toMatchObject({ replicas: 3, natsServer: version, needs: '2.9.21' });
      expect(raced[0]!.message).toContain(`nats-server ${version}`);
    }
  }, 30_000);

  it('writes back its acknowledged write when an older concurrent write was stored after it', async () => {
    // Two compare-and-set writes of one subject that expect the same sequence: one must be
    // refused. nats-server before 2.9.21 (this machine has 2.9.10) can store both on a
    // replicated stream (nats-io/nats-server#4320), so a direct publisher's older timestamp
    // may land after a queue-change write that was already acknowledged. The instance that
    // wrote the newer one must put it back; otherwise the stream, and every instance
    // that reads it (B here), keep the older one until the next update.
    // A cluster of its own: the first test killed a node of the shared one.
    await using own = await startNatsCluster({ size: 3 });
    const options = { replicas: 3, startTimeoutMs: 20_000 };
    const local: Broker[] = [];
    const a = await startJetStreamBroker([own.urls[0]!], local, options);
    const b = await startJetStreamBroker([own.urls[1]!], local, options);
    const nc = await connect({ servers: [own.urls[2]!] });
    try {
      const js = jetstream(nc);
      const jsm = await jetstreamManager(nc);
      const races: Array<{ env: string; newer: number }> = [];
      let t = 1_700_000_000;
      for (let i = 0; i < 1000; i++) {
        const env = `env_${randomUUID().replaceAll('-', '')}`;
        expect(await a.publish(env, t)).toBe('published');
        const newer = t + 1.5;
        const [viaA] = await Promise.all([
          a.publish(env, newer),
          publishUpdate(js, env, t + 1).catch(() => 'failed'),
        ]);
        // Where A's write was refused the other one won fairly; nothing to write back.
        if (viaA === 'published') races.push({ env, newer });
        t += 10;
      }
      const stored = async (env: string) => {
        const message = await jsm.streams.getMessage(STREAM_SETTINGS.name, {
          last_by_subj: subjectFor(env),
        });
        const decoded = message && decodeUpdateMessage(message.data);
        return decoded?.ok ? decoded.value : undefined;
      };
      await waitFor(
        async () => {
          for (const { env, newer } of races) {
            if ((await stored(env)) !== newer || b.latest(env) !== newer) return false;
          }
          return true;
        },
        'the stream and B hold every newer write A acknowledged',
        20_000,
      );
      expect(races.length).toBeGreaterThan(0);
    } finally {
      await nc.close();
      await Promise.all(local.map((broker) => broker.close()));
    }
  }, 90_000);

  it('replaces a consumer lost with another NATS node within seconds, though its own connection is fine', async () => {
    // A node stopped gracefully takes the instance's consumer with it and tells nobody:
    // the instance's connection (to another node) stays up. Until this was fixed the
    // consumer was only replaced after 6-8 s of silence, so deliveries came 7-9 s late.
    await using own = await startNatsCluster({ size: 3 });
    const options = { storage: 'file' as const, replicas: 3, startTimeoutMs: 20_000 };
    const local: Broker[] = [];
    try {
      const refollows: string[] = [];
      const logger: BrokerLogger = {
        debug: () => {},
        info: () => {},
        error: () => {},
        warn: (fields, message) => {
          if (message === 'Following the stream again') {
            refollows.push(String((fields as { reason?: unknown }).reason));
          }
        },
      };
      // B talks to one node only; find a start whose consumer lands on another node.
      let b: JetStreamBroker | undefined;
      let consumerNode: NatsServer | undefined;
      for (let attempt = 0; attempt < 9 && consumerNode === undefined; attempt++) {
        const node = own.nodes[attempt % 3]!;
        const before = await consumerNodes(own.urls);
        b = await startJetStreamBroker([node.url], local, { ...options, logger });
        const created = [...(await consumerNodes(own.urls))].filter(([name]) => !before.has(name));
        const host = created.length === 1 ? created[0]![1] : undefined;
        if (host !== undefined && host !== node.serverName) {
          consumerNode = own.nodes.find((n) => n.serverName === host);
        } else {
          await b.close();
        }
      }
      if (b === undefined || consumerNode === undefined) {
        throw new Error('no start of B placed its consumer on another node in 9 attempts');
      }
      const a = await startJetStreamBroker(own.urls, local, options);
      const seenByB = recordUpdates(b);
      const env = `env_${randomUUID().replaceAll('-', '')}`;
      expect(await a.publish(env, 1000.5)).toBe('published');
      await waitFor(() => b.latest(env) === 1000.5, 'B receives the first update');

      await consumerNode.stop();
      await waitFor(
        async () => (await a.publish(env, 2000.5).catch(() => undefined)) === 'published',
        'a publish succeeds with the node stopped',
        20_000,
      );
      await waitFor(() => b.latest(env) === 2000.5, 'B receives the update', 20_000);
      expect(timestampsOf(seenByB, env)).toEqual([1000.5, 2000.5]);
      // Replaced on the consumer's own missed heartbeats (2 × 1 s), not the watchdog's silence.
      // How late that makes a delivery is a figure for RELIABILITY.md (the chaos nats-node-loss
      // scenario), not a timed assertion here: under CI load it ran 6.7 s once.
      expect(refollows[0]).toMatch(/consumer heartbeats missed/);
    } finally {
      await Promise.all(local.map((broker) => broker.close()));
    }
  }, 90_000);
});

/** Consumer name → the server it lives on, for every consumer of the stream. */
async function consumerNodes(servers: string[]): Promise<Map<string, string>> {
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc);
    const nodes = new Map<string, string>();
    for await (const consumer of jsm.consumers.list(STREAM_SETTINGS.name)) {
      nodes.set(consumer.name, consumer.cluster?.leader ?? '');
    }
    return nodes;
  } finally {
    await nc.close();
  }
}
