import { streamPath } from '@flagsmith-rt/protocol';
import { deliveryLag, deliveryReport, failedPublishWindow } from '../delivery.js';
import { MemoryWatch } from '../memory.js';
import { isAck, Publisher, SteadyPublishing } from '../publisher.js';
import { ResultBuilder } from '../result.js';
import { environments, type Scenario, sized } from '../scenario.js';
import { Stack } from '../stack.js';
import { SubscriberPool } from '../subscribers.js';
import { delay, waitFor } from '../wait.js';
import { finishPublishing, statusesOk } from './common.js';

/**
 * 2. Every NATS node down (kill -9) for 30 s (quick: 8 s), then back. Readiness turns 503,
 * new subscriptions and publishes get 503, open streams stay open, and the service recovers
 * by itself.
 */
export const natsOutage: Scenario = {
  id: 'nats-outage',
  title: 'Whole NATS outage',
  async run(context) {
    const b = new ResultBuilder(this.id, this.title, context.mode);
    const subscriberCount = sized(context, 300, 3000);
    const envs = environments('outage', sized(context, 10, 50));
    const rate = sized(context, 20, 50);
    const outageMs = sized(context, 8_000, 30_000);
    const r = b.result;
    r.load = `3 NATS nodes (R3), 2 instances (1 worker each), ${subscriberCount} subscribers on ${envs.length} environments, ${rate} publishes/s`;
    r.faults = `kill -9 of all 3 NATS nodes for ${outageMs / 1000} s, then restart`;
    r.rssBoundMb = sized(context, 500, 800);

    const stack = await Stack.start({
      nats: 'cluster',
      instances: 2,
      serviceEnv: { KEEPALIVE_INTERVAL: '2' },
    });
    const publisher = new Publisher({ token: stack.token });
    const pool = new SubscriberPool({
      targets: stack.instances.map((i) => ({ host: '127.0.0.1', port: i.port })),
    });
    const memory = new MemoryWatch(() => stack.instances).start();
    try {
      pool.add(envs, Math.ceil(subscriberCount / envs.length));
      await pool.waitAllConnected();
      const steady = new SteadyPublishing(publisher, () => stack.liveUrls, envs, rate);
      steady.start();
      await delay(sized(context, 2_000, 10_000));

      const killedAt = Date.now();
      context.log('kill -9 every NATS node');
      await Promise.all(stack.nodes.map((node) => stack.killNode(node)));
      const notReadyMs = await waitFor(
        'every instance to report not ready',
        async () => {
          const statuses = await Promise.all(stack.instances.map((i) => i.probe('/readyz')));
          return statuses.every((s) => s === 503);
        },
        { timeoutMs: 15_000, intervalMs: 50 },
      ).catch(() => undefined);
      b.check(notReadyMs !== undefined, '/readyz did not turn 503 within 15 s of the outage');
      b.figure('readyzTo503Ms', notReadyMs ?? -1);

      // New subscriptions during the outage must be refused with 503 and Retry-After.
      const refusals: string[] = [];
      for (const instance of stack.instances) {
        const response = await fetch(`${instance.url}${streamPath(envs[0]!)}`, {
          signal: AbortSignal.timeout(3_000),
        }).catch(() => undefined);
        const status = response?.status ?? 0;
        const retryAfter = response?.headers.get('retry-after');
        await response?.body?.cancel().catch(() => {});
        refusals.push(`${status}${retryAfter ? ` (Retry-After ${retryAfter})` : ''}`);
        b.check(
          status === 503 && retryAfter !== null,
          `a new subscription during the outage got ${status}, expected 503 with Retry-After`,
        );
      }
      b.figure('newSubscriptionDuringOutage', refusals.join(', '));

      await delay(Math.max(0, outageMs - (Date.now() - killedAt)));
      const dropsDuringOutage = pool.subscribers.reduce((n, s) => n + s.drops, 0);
      b.figure('streamsDroppedDuringOutage', dropsDuringOutage);
      b.check(
        dropsDuringOutage === 0 && pool.connectedCount === pool.subscribers.length,
        `${dropsDuringOutage} open streams were closed during the outage (they should stay open)`,
      );
      const outagePublishes = publisher.records.filter(
        (p) => p.sentAt >= killedAt + 1_000 && p.sentAt < Date.now(),
      );
      b.figure('publishesDuringOutage', outagePublishes.length);
      b.figure('acknowledgedDuringOutage', outagePublishes.filter((p) => isAck(p.status)).length);

      const restartedAt = Date.now();
      context.log('restart every NATS node');
      await stack.restartNodes(stack.nodes);
      b.figure('natsRestartMs', Date.now() - restartedAt);
      const readyMs = await waitFor(
        'every instance to be ready again',
        async () => {
          const statuses = await Promise.all(stack.instances.map((i) => i.probe('/readyz')));
          return statuses.every((s) => s === 200);
        },
        { timeoutMs: 60_000, intervalMs: 50 },
      ).catch(() => undefined);
      b.check(readyMs !== undefined, 'instances were not ready within 60 s of NATS coming back');
      b.figure('readyAgainAfterRestartMs', Date.now() - restartedAt);
      await waitFor(
        'a publish to be acknowledged again',
        () => publisher.records.some((p) => p.sentAt > restartedAt && isAck(p.status)),
        { timeoutMs: 60_000, intervalMs: 50 },
      ).catch(() => undefined);
      const firstAck = publisher.records
        .filter((p) => p.sentAt > restartedAt && isAck(p.status))
        .reduce((min, p) => Math.min(min, p.doneAt), Number.POSITIVE_INFINITY);
      b.figure('firstAckAfterRestartMs', Number.isFinite(firstAck) ? firstAck - restartedAt : -1);
      await delay(sized(context, 2_000, 10_000));
      await steady.stop();

      const window = failedPublishWindow(publisher.records, killedAt);
      r.failedPublishWindowMs = window.windowMs;
      b.figure('failedPublishes', window.failed);
      b.figure('failedStatuses', JSON.stringify(window.statuses));
      statusesOk(b, publisher.records);

      r.convergenceMs = await finishPublishing(
        stack,
        publisher,
        pool.subscribers,
        envs,
        b,
        30_000,
        context.log,
      );
      const report = deliveryReport(publisher.records, pool.subscribers);
      r.acknowledged = report.acknowledged;
      const lag = deliveryLag(publisher.records, pool.subscribers);
      b.figure('deliveryLagP50Ms', lag.p50Ms);
      b.figure('deliveryLagP99Ms', lag.p99Ms);
      b.figure('deliveryLagMaxMs', lag.maxMs);
      if (lag.maxMs > 0) b.figure('slowestUpdateAckedAfterFaultMs', lag.maxAckedAt - killedAt);
      r.lost = report.lost;
      b.figure('coalescedWhileConnected', report.coalesced);
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
