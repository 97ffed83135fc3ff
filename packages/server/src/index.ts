export { TokenVerifier } from './auth.js';
export {
  type Broker,
  type BrokerState,
  BrokerUnavailableError,
  type BrokerUpdate,
  brokerUnavailableMessage,
  type PublishOutcome,
  type StoredListener,
  type UpdateListener,
} from './broker.js';
export { aggregateMetrics, type MetricsSnapshot, metricsSnapshot } from './cluster-metrics.js';
export { CORS_RESPONSE_HEADERS, PREFLIGHT_HEADERS } from './cors.js';
export { createCounters, type HubCounters, NATS_OPERATIONS } from './counters.js';
export { EmbeddedBroker, type EmbeddedBrokerOptions } from './embedded-broker.js';
export { frameworkErrorHandler } from './error-handler.js';
export { type ErrorBody, HttpError, type HttpErrorCode, PluginOptionsError } from './errors.js';
export {
  clientErrorHandler,
  DEFAULT_HTTP_LIMITS,
  expectationFailedHandler,
  fastifyLimitOptions,
  type HttpLimits,
  httpServerOptions,
} from './http-limits.js';
export { Hub, type HubOptions, type SubscriberSnapshot, type UpdateFrame } from './hub.js';
export { JetStreamBroker } from './jetstream-broker.js';
export { NatsStartError, StreamConfigMismatchError } from './jetstream-errors.js';
export { LatencySamples } from './latency.js';
export { type BrokerLogger, silentLogger } from './logger.js';
export {
  createMetricsRegistry,
  DELIVERY_LATENCY_BUCKETS,
  ENVIRONMENT_SIZE_BOUNDS,
} from './metrics.js';
export type {
  JetStreamBrokerOptions,
  NatsCredentials,
  NatsOperation,
  NatsTlsOptions,
} from './nats-options.js';
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
export type { PublishResponse } from './publish-route.js';
export { InvalidUpdateError, type PublishUpdateOptions, publishUpdate } from './publish-update.js';
export { streamHead } from './stream-head.js';
export { type StreamSettingDifference, streamConfigFor } from './stream-settings.js';
export type { StreamSink } from './subscriber.js';
export { PublishConflictError } from './update-writer.js';
