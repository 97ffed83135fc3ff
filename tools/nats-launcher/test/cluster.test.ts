import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, test } from 'vitest';
import { startNatsCluster } from '../src/index.js';
import { isProcessGone } from './process.js';

describe('startNatsCluster', () => {
  test('three nodes elect a leader; a 3-replica stream gets a new leader when its leader is SIGKILLed', async () => {
    await using cluster = await startNatsCluster({ size: 3 });
    expect(cluster.nodes).toHaveLength(3);
    expect(new Set(cluster.urls).size).toBe(3);
    expect(new Set(cluster.nodes.map((node) => node.serverName)).size).toBe(3);

    const nc = await connect({ servers: cluster.urls });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.add({
        name: 'replicated',
        subjects: ['rep.>'],
        num_replicas: 3,
      });
      expect(info.cluster?.replicas).toHaveLength(2);
      const js = jetstream(nc);
      expect((await js.publish('rep.a', 'one')).seq).toBe(1);

      const leader = await cluster.streamLeader('replicated');
      const leaderPid = leader.pid;
      await leader.kill('SIGKILL');
      expect(leader.running).toBe(false);
      expect(isProcessGone(leaderPid)).toBe(true);

      const newLeader = await cluster.streamLeader('replicated');
      expect(newLeader).not.toBe(leader);
      expect(newLeader.running).toBe(true);

      // The surviving majority keeps the stream: the acknowledged message is still there.
      // The stream's new leader can be elected before the meta leader (if the killed
      // node led both): account-level API calls wait for the latter, so wait for it and
      // skip the API check, which is one of them.
      await cluster.waitForLeader();
      const survivor = await connect({ servers: newLeader.url });
      try {
        const survivorJsm = await jetstreamManager(survivor, { checkAPI: false });
        const stored = await survivorJsm.streams.getMessage('replicated', { seq: 1 });
        expect(stored?.string()).toBe('one');
      } finally {
        await survivor.close();
      }

      // The killed node rejoins on its old port and store.
      const port = leader.port;
      await leader.restart();
      expect(leader.port).toBe(port);
      await cluster.waitForLeader();
      expect(cluster.runningNodes).toHaveLength(3);
    } finally {
      await nc.close();
    }
  });

  test('stop ends every node', async () => {
    const cluster = await startNatsCluster({ size: 3 });
    const pids = cluster.nodes.map((node) => node.pid);
    await cluster.stop();
    expect(pids.every(isProcessGone)).toBe(true);
  });
});
