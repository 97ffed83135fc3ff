import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Broker } from '../broker/broker.js';
import type { Hub } from '../fanout/hub.js';
import type { NatsOperation } from '../jetstream/options.js';

/**
 * The operations `flagsmith_sse_nats_errors_total` has a series for, from 0
 * (the JetStream broker's names; another broker's are not exported).
 */
const NATS_OPERATIONS: readonly NatsOperation[] = [
  'connect',
  'publish',
  'create_jetstream',
  'create_consumer',
  'pull',
  'read',
  'ack',
];

/** Buckets of `flagsmith_sse_delivery_latency_seconds`, in seconds. */
export const DELIVERY_LATENCY_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * Upper bounds of the `subscribers` label of `flagsmith_sse_environments`
 * (`1`, `2-10`, `11-100`, `101-1000`, `1001+`): environments are counted by
 * size, never by key, so the series stay few whatever the traffic.
 */
export const ENVIRONMENT_SIZE_BOUNDS: readonly number[] = [1, 10, 100, 1000];
const ENVIRONMENT_SIZE_LABELS = ['1', '2-10', '11-100', '101-1000', '1001+'] as const;

/**
 * Builds the Prometheus registry of one plugin instance (not the global
 * default one, so several apps in one process do not collide), with the
 * process's default metrics. Every `flagsmith_sse_*` value is read from the
 * hub and its plain-number stats at scrape time through `collect()`: serving
 * streams does no metrics work at all. Names, types and labels are the
 * contract in `docs/operations.md`.
 */
export function createMetricsRegistry(hub: Hub, broker: Broker): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const c = hub.stats;
  const registers = [register];

  new Gauge({
    name: 'flagsmith_sse_subscribers',
    help: 'SSE streams open now on this instance.',
    registers,
    collect() {
      this.set(hub.subscriberCount);
    },
  });
  counter(
    register,
    'flagsmith_sse_subscribers_total',
    'Streams opened (answered 200) since start.',
    () => c.subscribersTotal,
  );
  labelledCounter(
    register,
    'flagsmith_sse_http_writes_total',
    'Writes: data = update events, keepalive = ping comments, healthcheck = /livez and /readyz responses.',
    'message',
    {
      keepalive: () => c.writesKeepalive,
      data: () => c.writesData,
      healthcheck: () => c.writesHealthcheck,
    },
  );
  labelledCounter(
    register,
    'flagsmith_sse_http_errors_total',
    'Writes that failed (socket closed or errored), by what was being written.',
    'message',
    {
      keepalive: () => c.writeErrorsKeepalive,
      data: () => c.writeErrorsData,
      healthcheck: () => c.writeErrorsHealthcheck,
    },
  );
  labelledCounter(
    register,
    'flagsmith_sse_nats_errors_total',
    'Errors from NATS operations.',
    'operation',
    Object.fromEntries(
      NATS_OPERATIONS.map((operation) => [operation, () => c.brokerErrors.get(operation) ?? 0]),
    ),
  );
  new Gauge({
    name: 'flagsmith_sse_nats_connected',
    help: '1 while the broker is connected and the stream usable (as /readyz), else 0.',
    registers,
    collect() {
      this.set(broker.state === 'ready' ? 1 : 0);
    },
  });
  new Histogram({
    name: 'flagsmith_sse_delivery_latency_seconds',
    help: 'Per update fanned out here: from its acceptance (the JetStream message time; the embedded broker: its accept time) to the write to the last local subscriber of the environment. Same definition on every instance.',
    buckets: [...DELIVERY_LATENCY_BUCKETS],
    registers,
    collect() {
      for (const ms of c.latency.take()) this.observe(ms / 1000);
    },
  });
  labelledCounter(register, 'flagsmith_sse_publishes_total', 'queue-change outcomes.', 'result', {
    published: () => c.publishesPublished,
    duplicate: () => c.publishesDuplicate,
    stale: () => c.publishesStale,
    invalid: () => c.publishesInvalid,
    unauthorized: () => c.publishesUnauthorized,
    unavailable: () => c.publishesUnavailable,
  });
  counter(
    register,
    'flagsmith_sse_slow_subscribers_dropped_total',
    'Streams closed because the socket accepted no bytes for SLOW_SUBSCRIBER_TIMEOUT.',
    () => c.slowSubscribersDropped,
  );
  new Gauge({
    name: 'flagsmith_sse_environments',
    help: 'Environments with subscribers on this instance, by how many subscribers each has.',
    labelNames: ['subscribers'],
    registers,
    collect() {
      const counts = hub.environmentSizes(ENVIRONMENT_SIZE_BOUNDS);
      ENVIRONMENT_SIZE_LABELS.forEach((label, i) => {
        this.set({ subscribers: label }, counts[i] ?? 0);
      });
    },
  });
  labelledCounter(
    register,
    'flagsmith_sse_shed_total',
    'Subscriptions refused with 503.',
    'reason',
    { max_subscribers: () => c.shedMaxSubscribers, unavailable: () => c.shedUnavailable },
  );
  counter(
    register,
    'flagsmith_sse_stream_age_closes_total',
    'Streams the service ended because they reached MAX_STREAM_AGE.',
    () => c.streamAgeCloses,
  );
  counter(
    register,
    'flagsmith_sse_updates_coalesced_total',
    'Updates not fanned out here because a newer one of the same environment replaced them first.',
    () => broker.coalescedUpdates ?? 0,
  );
  labelledCounter(
    register,
    'flagsmith_sse_nats_writes_total',
    'Writes of updates to JetStream, by what JetStream answered (conflict: another write to the environment came first).',
    'result',
    {
      stored: () => broker.writeCounts?.stored ?? 0,
      duplicate: () => broker.writeCounts?.duplicates ?? 0,
      conflict: () => broker.writeCounts?.conflicts ?? 0,
    },
  );
  counter(
    register,
    'flagsmith_sse_nats_read_backs_total',
    "Reads of an environment's stored update from JetStream, after a refused write.",
    () => broker.writeCounts?.readBacks ?? 0,
  );
  return register;
}

/** A counter whose value is read from `read` at scrape time. */
function counter(register: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [register],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A counter with one label whose every value is read at scrape time (all exported from the start). */
function labelledCounter(
  register: Registry,
  name: string,
  help: string,
  label: string,
  values: Record<string, () => number>,
): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [register],
    collect() {
      this.reset();
      for (const [value, read] of Object.entries(values)) this.inc({ [label]: value }, read());
    },
  });
}
