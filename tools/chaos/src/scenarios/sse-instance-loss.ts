import { TcpBalancer } from '../balancer.js';
import { deliveryReport, failedPublishWindow } from '../delivery.js';
import { MemoryWatch } from '../memory.js';
import { Publisher, SteadyPublishing } from '../publisher.js';
import { ResultBuilder } from '../result.js';
import { environments, type Scenario, sized } from '../scenario.js';
import { SdkClients } from '../sdk-clients.js';
import { Stack } from '../stack.js';
import { percentile } from '../stats.js';
import { SubscriberPool } from '../subscribers.js';
import { delay, waitFor } from '../wait.js';
import { finishPublishing, statusesOk } from './common.js';

/**
 * 3. Two instances with thousands of clients that know both addresses. `kill -9` of one: its
 * clients reconnect to the survivor. Then SIGTERM of the survivor (after the first came back):
 * the drain spreads the disconnects over `DRAIN_WINDOW`.
 */
export const sseInstanceLoss: Scenario = {
  id: 'sse-instance-loss',
  title: 'SSE instance loss (kill -9, then SIGTERM drain)',
  async run(context) {
    const b = new ResultBuilder(this.id, this.title, context.mode);
    const subscriberCount = sized(context, 500, 6000);
    const envs = environments('instance-loss', sized(context, 10, 50));
    const rate = sized(context, 20, 50);
    const drainWindowMs = sized(context, 3_000, 5_000);
    const r = b.result;
    r.load = `1 NATS node, 2 instances (1 worker each), ${subscriberCount} raw subscribers on ${envs.length} environments (they know both addresses, reconnect with full-jitter backoff 0.5-5 s) + ${envs.length * sized(context, 2, 5)} @flagsmith-rt/client subscribers behind a TCP balancer, ${rate} publishes/s`;
    r.faults = `kill -9 of one instance; restart; SIGTERM of the other (DRAIN_WINDOW ${drainWindowMs / 1000} s)`;
    r.rssBoundMb = sized(context, 500, 1000);

    const stack = await Stack.start({
      nats: 'single',
      instances: 2,
      serviceEnv: { DRAIN_WINDOW: String(drainWindowMs / 1000) },
    });
    const [first, second] = stack.instances as [
      (typeof stack.instances)[0],
      (typeof stack.instances)[0],
    ];
    const publisher = new Publisher({ token: stack.token });
    const pool = new SubscriberPool({
      targets: stack.instances.map((i) => ({ host: '127.0.0.1', port: i.port })),
    });
    const memory = new MemoryWatch(() => stack.instances).start();
    // The product's own client, behind a TCP balancer in front of both instances.
    const balancer = await new TcpBalancer(() =>
      stack.instances.map((i) => ({ host: '127.0.0.1', port: i.port })),
    ).listen();
    const sdk = new SdkClients();
    const allConnected = (what: string) =>
      waitFor(
        what,
        () => pool.connectedCount === pool.subscribers.length && sdk.openCount === sdk.size,
        {
          timeoutMs: 60_000,
          intervalMs: 20,
          describe: () =>
            `${pool.connectedCount}/${pool.subscribers.length} raw, ${sdk.openCount}/${sdk.size} @flagsmith-rt/client`,
        },
      );
    try {
      pool.add(envs, Math.ceil(subscriberCount / envs.length));
      sdk.add(balancer.url, envs, sized(context, 2, 5));
      await allConnected('subscribers to connect');
      const steady = new SteadyPublishing(publisher, () => stack.liveUrls, envs, rate);
      steady.start();
      await delay(2_000);

      // Phase 1: kill -9.
      const victims = pool.subscribers.filter((s) => s.targetIndex === 0);
      const killedAt = Date.now();
      context.log(`kill -9 ${first.name} holding ${victims.length} streams`);
      await first.kill('SIGKILL');
      await waitFor(
        "the killed instance's clients to notice",
        () => victims.every((s) => s.droppedAt >= killedAt),
        {
          timeoutMs: 10_000,
          intervalMs: 10,
        },
      );
      await allConnected('every client to reconnect to the survivor');
      const reconnectAllMs = Date.now() - killedAt;
      const reconnects = victims.map((s) => s.openedAt - killedAt);
      b.figure('killedStreams', victims.length);
      b.figure('reconnectAllMs', reconnectAllMs);
      b.figure('reconnectP50Ms', percentile(reconnects, 50));
      b.figure('reconnectP95Ms', percentile(reconnects, 95));
      b.figure('reconnectMaxMs', percentile(reconnects, 100));
      const convergenceAfterKill = await finishPublishing(
        stack,
        publisher,
        pool.subscribers,
        envs,
        b,
        30_000,
        context.log,
      );
      r.convergenceMs = convergenceAfterKill === null ? null : Date.now() - killedAt;
      b.figure('killToConvergedMs', r.convergenceMs ?? -1);

      // Phase 2: bring the first back, then SIGTERM the second: its streams drain over the window.
      await first.start();
      await first.waitReady();
      const onSecond = pool.subscribers.filter((s) => s.connected && s.targetIndex === 1);
      const termAt = Date.now();
      context.log(`SIGTERM ${second.name} holding ${onSecond.length} streams`);
      await second.kill('SIGTERM');
      b.figure('sigtermExitMs', Date.now() - termAt);
      await allConnected('every client to move after the drain');
      b.figure('drainAllReconnectedMs', Date.now() - termAt);
      b.figure('drainedStreams', onSecond.length);
      const drops = onSecond.map((s) => s.droppedAt - termAt);
      const p5 = percentile(drops, 5);
      const p95 = percentile(drops, 95);
      b.figure('drainDropP5Ms', p5);
      b.figure('drainDropP50Ms', percentile(drops, 50));
      b.figure('drainDropP95Ms', p95);
      b.figure('drainDropMaxMs', percentile(drops, 100));
      b.check(
        p95 - p5 >= drainWindowMs * 0.5,
        `the drain closed 90 % of the streams within ${p95 - p5} ms; expected them spread over ~${drainWindowMs} ms`,
      );
      b.check(
        percentile(drops, 100) <= drainWindowMs + 2_000,
        `the drain took ${percentile(drops, 100)} ms, more than DRAIN_WINDOW + 2 s`,
      );
      const exits = second.exitCode;
      b.check(exits === 0, `${second.name} exited with ${exits} after SIGTERM (expected 0)`);
      await steady.stop();

      // The kill -9 phase: requests in flight to the killed instance fail (refused or reset).
      const killPhase = failedPublishWindow(
        publisher.records.filter((p) => p.sentAt < termAt),
        killedAt,
      );
      r.failedPublishWindowMs = killPhase.windowMs;
      b.figure('failedPublishesAfterKill', killPhase.failed);
      const drainPhase = failedPublishWindow(publisher.records, termAt);
      b.figure('failedPublishesDuringDrain', drainPhase.failed);
      b.figure('failedPublishStatusesDuringDrain', JSON.stringify(drainPhase.statuses));
      statusesOk(b, publisher.records);
      const finalConvergence = await finishPublishing(
        stack,
        publisher,
        pool.subscribers,
        envs,
        b,
        30_000,
        context.log,
      );
      b.figure('convergenceAfterDrainMs', finalConvergence ?? -1);
      await waitFor(
        '@flagsmith-rt/client subscribers to converge',
        () => sdk.behind(publisher.records) === 0,
        {
          timeoutMs: 15_000,
        },
      ).catch(() => undefined);
      const report = deliveryReport(publisher.records, pool.subscribers);
      const sdkLost = sdk.lost(publisher.records);
      b.figure('clientLibrarySubscribers', sdk.size);
      b.figure('clientLibraryLost', sdkLost);
      r.acknowledged = report.acknowledged;
      r.lost = report.lost + sdkLost;
    } finally {
      r.peakRssMb = memory.stop();
      r.crashes = stack.crashes().length;
      for (const crash of stack.crashes()) context.log(`CRASH ${crash.name}: ${crash.tail}`);
      pool.close();
      sdk.close();
      publisher.close();
      await balancer.close();
      await stack.stop();
    }
    return b.finish();
  },
};
