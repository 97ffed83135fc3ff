import {
  AggregatorRegistry,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from 'prom-client';

/** One process's metrics as plain data (`registry.getMetricsAsJSON()`), safe to send over IPC. */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

/**
 * How metrics that must not be summed are combined across processes. The
 * rest keep their own aggregator: counters, histograms and gauges such as
 * `flagsmith_sse_subscribers` add up; prom-client's process metrics carry
 * theirs (start time omitted, versions once, event loop lag averaged).
 */
const CLUSTER_AGGREGATORS: Readonly<Record<string, string>> = Object.freeze({
  // 1 only if every process is connected, as an instance's /readyz would need.
  flagsmith_sse_nats_connected: 'min',
  // Each process has its own limit, and open descriptors are summed: the
  // instance's capacity is the sum too, so open/max stays a true ratio.
  process_max_fds: 'sum',
});

/** The registry's metrics as a {@link MetricsSnapshot}. */
export async function metricsSnapshot(register: Registry): Promise<MetricsSnapshot> {
  return (await register.getMetricsAsJSON()) as MetricsSnapshot;
}

/**
 * Combines the snapshots of several processes of one instance (cluster
 * workers) into one Prometheus text exposition, so a scrape of any worker
 * describes the whole instance.
 */
export async function aggregateMetrics(snapshots: readonly MetricsSnapshot[]): Promise<string> {
  const adjusted = snapshots.map((snapshot) =>
    snapshot.map((metric) => {
      const aggregator = CLUSTER_AGGREGATORS[metric.name];
      return aggregator === undefined ? metric : { ...metric, aggregator };
    }),
  );
  return AggregatorRegistry.aggregate(
    adjusted as Parameters<typeof AggregatorRegistry.aggregate>[0],
  ).metrics();
}
