export {
  type Broker,
  type BrokerState,
  BrokerUnavailableError,
  type BrokerUpdate,
  brokerUnavailableMessage,
  type PublishOutcome,
  type StoredListener,
  type UpdateListener,
} from './broker/broker.js';
export { EmbeddedBroker, type EmbeddedBrokerOptions } from './broker/embedded.js';
export { type ErrorBody, HttpError, type HttpErrorCode, PluginOptionsError } from './errors.js';
export { streamHead } from './fanout/http1-sink.js';
export { Hub, type HubOptions, type SubscriberSnapshot, type UpdateFrame } from './fanout/hub.js';
export { LatencySamples } from './fanout/latency.js';
export { createCounters, type HubCounters, NATS_OPERATIONS } from './fanout/stats.js';
export type { StreamSink } from './fanout/subscriber.js';
export { TokenVerifier } from './http/auth.js';
export { CORS_RESPONSE_HEADERS, PREFLIGHT_HEADERS } from './http/cors.js';
export { frameworkErrorHandler } from './http/error-handler.js';
export {
  clientErrorHandler,
  DEFAULT_HTTP_LIMITS,
  expectationFailedHandler,
  fastifyLimitOptions,
  type HttpLimits,
  httpServerOptions,
} from './http/limits.js';
export { JetStreamBroker } from './jetstream/broker.js';
export { NatsStartError, StreamConfigMismatchError } from './jetstream/errors.js';
export type {
  JetStreamBrokerOptions,
  NatsCredentials,
  NatsOperation,
  NatsTlsOptions,
} from './jetstream/options.js';
export {
  InvalidUpdateError,
  type PublishUpdateOptions,
  publishUpdate,
} from './jetstream/publish-update.js';
export { type StreamSettingDifference, streamConfigFor } from './jetstream/stream-config.js';
export { PublishConflictError } from './jetstream/writer.js';
export { type BrokerLogger, silentLogger } from './logger.js';
export { aggregateMetrics, type MetricsSnapshot, metricsSnapshot } from './metrics/cluster.js';
export {
  createMetricsRegistry,
  DELIVERY_LATENCY_BUCKETS,
  ENVIRONMENT_SIZE_BOUNDS,
} from './metrics/registry.js';
export {
  DEFAULT_DRAIN_WINDOW_MS,
  DEFAULT_REFUSAL_HOLD_MAX,
  DEFAULT_REFUSAL_HOLD_MS,
  DEFAULT_RETRY_AFTER_SECONDS,
  DEFAULT_SLOW_SUBSCRIBER_TIMEOUT_MS,
  DEFAULT_STREAM_AGE_JITTER,
  type FlagsmithRealtimeOptions,
} from './options.js';
export { flagsmithRealtime, ROUTER_OPTIONS } from './plugin.js';
export type { PublishResponse } from './routes/publish.js';
