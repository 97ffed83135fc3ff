import { deliveryReport } from '../delivery.js';
import { MemoryWatch } from '../memory.js';
import { isAck, Publisher } from '../publisher.js';
import { ResultBuilder } from '../result.js';
import { environments, type Scenario, sized } from '../scenario.js';
import { Stack } from '../stack.js';
import { SubscriberPool } from '../subscribers.js';
import { waitFor } from '../wait.js';
import { finishPublishing, statusesOk } from './common.js';

/**
 * 5. A connect storm (every client at once on one instance), then a publish storm (many
 * concurrent publishers on one environment): no crash, bounded memory, the final timestamp
 * everywhere.
 */
export const floods: Scenario = {
  id: 'floods',
  title: 'Floods (connect storm, publish storm)',
  async run(context) {
    const b = new ResultBuilder(this.id, this.title, context.mode);
    const clients = sized(context, 1500, 15000);
    const envs = environments('flood', sized(context, 30, 300));
    const hot = envs[0]!;
    const stormMs = sized(context, 5_000, 20_000);
    const publishers = 64;
    const r = b.result;
    r.load = `1 NATS node, 1 instance (default SSE_WORKERS: one worker per CPU, 2); ${clients} clients connecting at once on ${envs.length} environments; then ${publishers} concurrent publishers on one environment for ${stormMs / 1000} s`;
    r.faults = 'connect storm; publish storm';
    r.rssBoundMb = sized(context, 600, 1500);

    const stack = await Stack.start({ nats: 'single', instances: 1 });
    const instance = stack.instances[0]!;
    const publisher = new Publisher({ token: stack.token, maxSockets: publishers });
    // No reconnect delay to speak of: refused clients retry at once, as in a storm.
    const pool = new SubscriberPool({
      targets: [{ host: '127.0.0.1', port: instance.port }],
      backoff: { baseMs: 50, capMs: 1000 },
    });
    const memory = new MemoryWatch(() => stack.instances).start();
    try {
      const baselineRss = instance.rssMb();
      b.figure('rssBeforeMb', baselineRss);
      const stormStart = Date.now();
      pool.add(envs, Math.ceil(clients / envs.length));
      const connectStormMs = await waitFor(
        'the connect storm to be served',
        () => pool.connectedCount === pool.subscribers.length,
        { timeoutMs: 120_000, intervalMs: 20, describe: () => `${pool.connectedCount}/${clients}` },
      );
      b.figure('connectStormAllOpenMs', Date.now() - stormStart);
      b.figure('connectStormWaitMs', connectStormMs);
      b.figure(
        'connectAttemptsFailed',
        pool.subscribers.reduce((n, s) => n + s.failures, 0),
      );
      b.figure('rssAfterConnectStormMb', instance.rssMb());
      const afterConnect = await finishPublishing(
        stack,
        publisher,
        pool.subscribers,
        envs,
        b,
        30_000,
        context.log,
      );
      b.figure('fanoutAfterConnectStormMs', afterConnect ?? -1);

      // Publish storm on one environment.
      const deadline = Date.now() + stormMs;
      const before = publisher.records.length;
      await Promise.all(
        Array.from({ length: publishers }, async () => {
          while (Date.now() < deadline) {
            await publisher.publish(instance.url, hot, publisher.nextTimestamp());
          }
        }),
      );
      const storm = publisher.records.slice(before);
      const acked = storm.filter((p) => isAck(p.status)).length;
      b.figure('stormPublishes', storm.length);
      b.figure('stormAcknowledgedPerSecond', acked / (stormMs / 1000));
      b.figure('storm503', storm.filter((p) => p.status === 503).length);
      statusesOk(b, publisher.records);
      b.figure('rssAfterPublishStormMb', instance.rssMb());

      r.convergenceMs = await finishPublishing(
        stack,
        publisher,
        pool.subscribers,
        [hot],
        b,
        30_000,
        context.log,
      );
      const report = deliveryReport(publisher.records, pool.subscribers);
      r.acknowledged = report.acknowledged;
      r.lost = report.lost;
      b.figure('coalescedWhileConnected', report.coalesced);
      b.check(
        pool.subscribers.every((s) => s.drops === 0),
        'streams were dropped during the storms',
      );
    } finally {
      r.peakRssMb = memory.stop();
      r.crashes = stack.crashes().length;
      for (const crash of stack.crashes()) context.log(`CRASH ${crash.name}: ${crash.tail}`);
      pool.close();
      publisher.close();
      await stack.stop();
    }
    return b.finish();
  },
};
