import { deliveryReport } from '../delivery.js';
import { MemoryWatch } from '../memory.js';
import { readMetric } from '../metrics.js';
import { Publisher, SteadyPublishing } from '../publisher.js';
import { ResultBuilder } from '../result.js';
import { environments, type Scenario, sized } from '../scenario.js';
import { Stack } from '../stack.js';
import { StalledClients } from '../stalled-clients.js';
import { percentile } from '../stats.js';
import { type RawSubscriber, SubscriberPool } from '../subscribers.js';
import { delay, waitFor } from '../wait.js';
import { finishPublishing, statusesOk } from './common.js';

const DROPPED_METRIC = 'flagsmith_sse_slow_subscribers_dropped_total';

/** Latency below this is scheduling noise on a shared 2-core box: the 2x rule applies above it. */
const LATENCY_FLOOR_MS = 10;

/**
 * 4. The same load twice: all subscribers reading, then 10 % of them never reading. Healthy
 * subscribers' p99 delivery latency must stay within 2x of the first run, the service's memory
 * bounded, and the stalled ones dropped after `SLOW_SUBSCRIBER_TIMEOUT`.
 */
export const slowClients: Scenario = {
  id: 'slow-clients',
  title: 'Slow and stalled clients',
  async run(context) {
    const b = new ResultBuilder(this.id, this.title, context.mode);
    const subscriberCount = sized(context, 300, 1000);
    const envs = environments('slow', sized(context, 1, 2));
    // A stalled socket takes ~100 KB (over a thousand events) before the service sees it
    // blocked, so the stalled 10 % sit on one busy environment; both runs carry the same load.
    const [busy] = environments('slow-busy', 1) as [string];
    const rate = sized(context, 50, 100);
    const busyRate = 300;
    const phaseMs = sized(context, 12_000, 30_000);
    const timeoutS = sized(context, 3, 10);
    const stalledCount = Math.round(subscriberCount / 10);
    const r = b.result;
    r.load = `1 NATS node, 1 instance, ${subscriberCount} subscribers: 90 % on ${envs.length} environment(s) at ${rate} publishes/s, 10 % on one at ${busyRate}/s; 2 runs of ${phaseMs / 1000} s per condition`;
    r.faults = `${stalledCount} subscribers (10 %) never read (2 KB receive buffer, 88-byte MSS); SLOW_SUBSCRIBER_TIMEOUT=${timeoutS} s`;
    r.rssBoundMb = sized(context, 300, 500);

    const stack = await Stack.start({
      nats: 'single',
      instances: 1,
      serviceEnv: { SLOW_SUBSCRIBER_TIMEOUT: String(timeoutS) },
    });
    const instance = stack.instances[0]!;
    const publisher = new Publisher({ token: stack.token });
    const memory = new MemoryWatch(() => stack.instances).start();
    const pools: SubscriberPool[] = [];
    let stalled: StalledClients | undefined;
    const run = async (
      busyReaders: number,
      label: string,
    ): Promise<{ pool: SubscriberPool; p50: number; p99: number }> => {
      const latencies: number[] = [];
      let measuring = false;
      const pool = new SubscriberPool({
        targets: [{ host: '127.0.0.1', port: instance.port }],
        onUpdate: (s: RawSubscriber, updatedAt: number, receivedAt: number) => {
          const sentAt = publisher.sentAt.get(updatedAt);
          if (measuring && sentAt !== undefined && s.environment !== busy) {
            latencies.push(receivedAt - sentAt);
          }
        },
      });
      pools.push(pool);
      pool.add(envs, Math.ceil((subscriberCount - stalledCount) / envs.length));
      if (busyReaders > 0) pool.add([busy], busyReaders);
      await waitFor(
        `${label} subscribers to connect`,
        () => pool.connectedCount === pool.subscribers.length,
        {
          timeoutMs: 30_000,
        },
      );
      measuring = true;
      const steady = new SteadyPublishing(publisher, () => [instance.url], envs, rate);
      const busySteady = new SteadyPublishing(publisher, () => [instance.url], [busy], busyRate);
      steady.start();
      busySteady.start();
      await delay(phaseMs);
      await Promise.all([steady.stop(), busySteady.stop()]);
      await delay(500);
      measuring = false;
      return { pool, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
    };
    try {
      // A B A B: machine noise (other work on the box) hits single runs; the best run of
      // each condition is compared.
      const baselineP99: number[] = [];
      const stalledP99: number[] = [];
      let lastHealthy: SubscriberPool | undefined;
      let dropped = 0;
      let closedSeen = 0;
      const dropTimes: number[] = [];
      for (let round = 0; round < 2; round++) {
        const baseline = await run(stalledCount, 'baseline');
        baselineP99.push(baseline.p99);
        baseline.pool.close();
        const droppedBefore = (await readMetric(instance.url, DROPPED_METRIC)) ?? 0;
        stalled = await StalledClients.open(
          instance.port,
          Array.from({ length: stalledCount }, () => busy),
        );
        const stalledAt = Date.now();
        const withStalls = await run(0, 'healthy');
        stalledP99.push(withStalls.p99);
        lastHealthy?.close();
        lastHealthy = withStalls.pool;
        // Sockets that blocked late in the run are dropped one timeout later.
        const waited = await waitFor(
          'the service to drop every stalled subscriber',
          async () =>
            ((await readMetric(instance.url, DROPPED_METRIC)) ?? 0) - droppedBefore >= stalledCount,
          { timeoutMs: (timeoutS + 5) * 1000, intervalMs: 250 },
        ).catch(() => undefined);
        if (waited !== undefined) dropTimes.push(Date.now() - stalledAt);
        dropped += ((await readMetric(instance.url, DROPPED_METRIC)) ?? 0) - droppedBefore;
        closedSeen += (await stalled.check()).closed;
        stalled.close();
        stalled = undefined;
      }
      const bestBaseline = Math.min(...baselineP99);
      const bestStalled = Math.min(...stalledP99);
      b.figure('baselineLatencyP99MsPerRun', baselineP99.join(', '));
      b.figure('stalledLatencyP99MsPerRun', stalledP99.join(', '));
      const limit = 2 * Math.max(bestBaseline, LATENCY_FLOOR_MS);
      b.check(
        bestStalled <= limit,
        `healthy p99 latency ${bestStalled} ms with stalled clients exceeds 2x the no-stall run (${limit} ms)`,
      );
      b.figure('stalledDroppedByService', `${dropped}/${2 * stalledCount}`);
      b.figure('stalledSocketsSeenClosed', `${closedSeen}/${2 * stalledCount}`);
      b.figure('stalledAllDroppedAfterMs', dropTimes.join(', '));
      b.check(
        dropped === 2 * stalledCount,
        `the service dropped ${dropped} of ${2 * stalledCount} stalled subscribers (SLOW_SUBSCRIBER_TIMEOUT ${timeoutS} s)`,
      );
      const withStalls = { pool: lastHealthy! };
      statusesOk(b, publisher.records);
      r.convergenceMs = await finishPublishing(
        stack,
        publisher,
        withStalls.pool,
        envs,
        b,
        20_000,
        context.log,
      );
      const delivery = deliveryReport(publisher.records, withStalls.pool.subscribers);
      r.acknowledged = delivery.acknowledged;
      r.lost = delivery.lost;
      b.check(
        withStalls.pool.subscribers.every((s) => s.drops === 0),
        'healthy subscribers were dropped',
      );
    } finally {
      r.peakRssMb = memory.stop();
      r.crashes = stack.crashes().length;
      for (const crash of stack.crashes()) context.log(`CRASH ${crash.name}: ${crash.tail}`);
      stalled?.close();
      for (const pool of pools) pool.close();
      publisher.close();
      await stack.stop();
    }
    return b.finish();
  },
};
