export {
  type Broker,
  type BrokerErrorListener,
  type BrokerState,
  BrokerUnavailableError,
  type BrokerUpdate,
  type BrokerWriteCounts,
  type PublishOutcome,
} from './broker/broker.js';
export { EmbeddedBroker, type EmbeddedBrokerOptions } from './broker/embedded.js';
export type { Clock } from './clock.js';
export { type ErrorBody, HttpError, type HttpErrorCode, PluginOptionsError } from './errors.js';
// apps/sse serves plain HTTP/1.1 stream requests from their first bytes with the same sink.
export { pendingHttp1Stream } from './fanout/http1-sink.js';
export { DEFAULT_HTTP_LIMITS, expectationFailedHandler, type HttpLimits } from './http/limits.js';
export { fastifyOptions } from './http/server-options.js';
export { JetStreamBroker } from './jetstream/broker.js';
export { NatsStartError, StreamConfigMismatchError } from './jetstream/errors.js';
export type {
  JetStreamBrokerOptions,
  NatsCredentials,
  NatsTlsOptions,
} from './jetstream/options.js';
export type { BrokerLogger } from './logger.js';
export { aggregateMetrics, type MetricsSnapshot, metricsSnapshot } from './metrics/cluster.js';
export {
  DEFAULT_REFUSAL_HOLD_MAX,
  DEFAULT_REFUSAL_HOLD_MS,
  type FlagsmithRealtimeOptions,
} from './options.js';
export { flagsmithRealtime } from './plugin.js';
export { type StreamRefusal, streamRefusal } from './routes/stream.js';
