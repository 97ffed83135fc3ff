import { STREAM_SETTINGS } from '@flagsmith-rt/protocol';
import { deliveryLag, deliveryReport, failedPublishWindow } from '../delivery.js';
import { DirectPublisher } from '../direct-publisher.js';
import { MemoryWatch } from '../memory.js';
import { Publisher, SteadyPublishing } from '../publisher.js';
import { ResultBuilder } from '../result.js';
import { environments, type Scenario, sized } from '../scenario.js';
import { Stack } from '../stack.js';
import { SubscriberPool } from '../subscribers.js';
import { delay } from '../wait.js';
import { finishPublishing, statusesOk } from './common.js';

/**
 * 1. A 3-node cluster with an R3 stream, two instances, steady publishing; `kill -9` of the
 * stream leader, restart later. Publishes in the election must fail (503), never be
 * acknowledged and lost.
 */
export const natsNodeLoss: Scenario = nodeLoss(false);

/**
 * 1b. The same with publishers writing straight to NATS (`publishUpdate`) next to
 * `queue-change`: half the steady publishes and every final one go direct, so convergence
 * proves that direct writes acknowledged through the election reach every subscriber.
 */
export const natsNodeLossDirect: Scenario = nodeLoss(true);

function nodeLoss(direct: boolean): Scenario {
  return {
    id: direct ? 'nats-node-loss-direct' : 'nats-node-loss',
    title: direct
      ? 'NATS node loss with direct publishers (queue-change + publishUpdate)'
      : 'NATS node loss (stream leader kill -9)',
    async run(context) {
      const b = new ResultBuilder(this.id, this.title, context.mode);
      const subscriberCount = sized(context, 400, 4000);
      const envs = environments('node-loss', sized(context, 20, 100));
      const rate = sized(context, 20, 50);
      const downMs = sized(context, 8_000, 20_000);
      const r = b.result;
      const how = direct ? ' (half queue-change, half direct to NATS)' : '';
      r.load = `3 NATS nodes (R3), 2 instances (1 worker each), ${subscriberCount} subscribers on ${envs.length} environments, ${rate} publishes/s${how}`;
      r.faults = `kill -9 of the stream leader; restarted after ${downMs / 1000} s`;
      r.rssBoundMb = sized(context, 500, 800);

      const stack = await Stack.start({ nats: 'cluster', instances: 2 });
      const publisher = new Publisher({ token: stack.token });
      const directPublisher = direct
        ? await DirectPublisher.connect({ servers: stack.cluster!.urls, clock: publisher })
        : undefined;
      const allRecords = () => [...publisher.records, ...(directPublisher?.records ?? [])];
      const pool = new SubscriberPool({
        targets: stack.instances.map((i) => ({ host: '127.0.0.1', port: i.port })),
      });
      const memory = new MemoryWatch(() => stack.instances).start();
      try {
        pool.add(envs, Math.ceil(subscriberCount / envs.length));
        await pool.waitAllConnected();
        const steady = new SteadyPublishing(
          publisher,
          () => stack.liveUrls,
          envs,
          directPublisher ? rate / 2 : rate,
        );
        const steadyDirect = directPublisher
          ? new SteadyPublishing(directPublisher, () => ['nats'], envs, rate / 2)
          : undefined;
        steady.start();
        steadyDirect?.start();
        await delay(sized(context, 3_000, 10_000));

        const leader = await stack.cluster!.streamLeader(STREAM_SETTINGS.name);
        const killedAt = Date.now();
        context.log(`kill -9 stream leader ${leader.serverName}`);
        await stack.killNode(leader);
        const newLeader = await stack.cluster!.streamLeader(STREAM_SETTINGS.name, 30_000);
        b.figure('electionMs', Date.now() - killedAt);
        context.log(`new leader ${newLeader.serverName} after ${Date.now() - killedAt} ms`);
        await delay(Math.max(0, downMs - (Date.now() - killedAt)));
        await stack.restartNode(leader);
        context.log('old leader restarted');
        await delay(sized(context, 3_000, 10_000));
        await Promise.all([steady.stop(), steadyDirect?.stop()]);

        const window = failedPublishWindow(allRecords(), killedAt);
        r.failedPublishWindowMs = window.windowMs;
        b.figure('failedPublishes', window.failed);
        b.figure('failedStatuses', JSON.stringify(window.statuses));
        statusesOk(b, allRecords());
        if (directPublisher) {
          const acked = directPublisher.records.filter((record) => record.status === 200).length;
          b.figure('directPublishesAcknowledged', acked);
          b.figure('directPublishesFailed', directPublisher.records.length - acked);
        }

        const convergence = await finishPublishing(
          stack,
          directPublisher ?? publisher,
          pool.subscribers,
          envs,
          b,
          30_000,
          context.log,
        );
        r.convergenceMs = convergence;
        const report = deliveryReport(allRecords(), pool.subscribers);
        r.acknowledged = report.acknowledged;
        const lag = deliveryLag(allRecords(), pool.subscribers);
        b.figure('deliveryLagP50Ms', lag.p50Ms);
        b.figure('deliveryLagP99Ms', lag.p99Ms);
        b.figure('deliveryLagMaxMs', lag.maxMs);
        if (lag.maxMs > 0) b.figure('slowestUpdateAckedAfterFaultMs', lag.maxAckedAt - killedAt);
        r.lost = report.lost;
        b.figure('coalescedWhileConnected', report.coalesced);
        b.figure(
          'subscriberReconnects',
          pool.subscribers.reduce((n, s) => n + s.drops, 0),
        );
      } finally {
        r.peakRssMb = memory.stop();
        r.crashes = stack.crashes().length;
        for (const crash of stack.crashes()) context.log(`CRASH ${crash.name}: ${crash.tail}`);
        pool.close();
        publisher.close();
        directPublisher?.close();
        await stack.stop();
      }
      return b.finish();
    },
  };
}
