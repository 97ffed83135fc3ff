import { KEEPALIVE_INTERVAL_MS } from '@flagsmith-rt/protocol';
import type { Broker } from './broker/broker.js';
import { type Clock, systemClock } from './clock.js';
import { PluginOptionsError } from './errors.js';

/** Options of the {@link flagsmithRealtime} plugin. */
export interface FlagsmithRealtimeOptions {
  /** Where updates are published and where they come from. The app starts and closes it. */
  broker: Broker;
  /** The secret publishers send as `Authorization: Token <authToken>`. Must not be empty. */
  authToken: string;
  /**
   * A stream with nothing written for this long gets `: ping`.
   * @defaultValue 15000 (`KEEPALIVE_INTERVAL_MS`)
   */
  keepAliveIntervalMs?: number;
  /**
   * A subscriber whose socket takes no bytes for this long is disconnected.
   * @defaultValue 30000
   */
  slowSubscriberTimeoutMs?: number;
  /**
   * If set, every stream starts with `retry: <retryMs>` (the EventSource reconnect delay).
   * @defaultValue undefined (not sent)
   */
  retryMs?: number;
  /**
   * Update frames carry `id: <updated_at>` so clients can resume with `Last-Event-ID`.
   * @defaultValue true
   */
  eventIds?: boolean;
  /**
   * Open streams beyond this many get `503` with `Retry-After`.
   * @defaultValue undefined (no limit besides the process's open files)
   */
  maxSubscribers?: number;
  /**
   * The `Retry-After` of every `503`, in seconds.
   * @defaultValue 5
   */
  retryAfterSeconds?: number;
  /**
   * How long a refused stream request (drain, broker unavailable,
   * `maxSubscribers`) is held before its `503` is sent, so that a client that
   * reconnects with no delay (the Flagsmith Python SDK) costs about one
   * request per second; `0` answers at once.
   * @defaultValue 1000
   */
  refusalHoldMs?: number;
  /**
   * At most this many refusals are held at once; beyond it a refused
   * request's connection is closed instead (clients treat that as an error
   * and back off).
   * @defaultValue 1000
   */
  refusalHoldMax?: number;
  /**
   * On close, streams are ended in batches spread over this window.
   * @defaultValue 5000
   */
  drainWindowMs?: number;
  /**
   * Streams are ended after this long (less the jitter), so clients reconnect
   * and load rebalances across instances; `0` for never.
   * @defaultValue 0 (never)
   */
  maxStreamAgeMs?: number;
  /**
   * Each stream's maximum age is shortened by a random fraction up to this
   * (0 to 1), so streams opened together do not all end together.
   * @defaultValue 0.2
   */
  streamAgeJitter?: number;
  /**
   * Serve Prometheus metrics at `GET /metricsz` from a registry of this
   * plugin instance (`app.realtimeMetrics`). When `false` there is no route
   * and no collection work at all. `'registry'` builds the registry without
   * the route, for an app that serves `/metricsz` itself (a cluster worker
   * answering for the whole instance).
   * @defaultValue true
   */
  metrics?: boolean | 'registry';
  /**
   * The clock of every deadline (keep-alives, slow subscribers, stream age)
   * and latency sample, in epoch milliseconds.
   * @defaultValue `systemClock` (`Date.now()`)
   */
  clock?: Clock;
}

/** {@link FlagsmithRealtimeOptions} with every default applied. */
export type ResolvedOptions = Required<
  Omit<FlagsmithRealtimeOptions, 'retryMs' | 'maxSubscribers'>
> &
  Pick<FlagsmithRealtimeOptions, 'retryMs' | 'maxSubscribers'>;

/** Default of {@link FlagsmithRealtimeOptions.slowSubscriberTimeoutMs}. */
export const DEFAULT_SLOW_SUBSCRIBER_TIMEOUT_MS = 30_000;
/** Default of {@link FlagsmithRealtimeOptions.refusalHoldMs}. */
export const DEFAULT_REFUSAL_HOLD_MS = 1_000;
/** Default of {@link FlagsmithRealtimeOptions.refusalHoldMax}. */
export const DEFAULT_REFUSAL_HOLD_MAX = 1_000;
/** Default of {@link FlagsmithRealtimeOptions.retryAfterSeconds}. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;
/** Default of {@link FlagsmithRealtimeOptions.streamAgeJitter}. */
export const DEFAULT_STREAM_AGE_JITTER = 0.2;
/** Default of {@link FlagsmithRealtimeOptions.drainWindowMs}. */
export const DEFAULT_DRAIN_WINDOW_MS = 5_000;

/** Applies defaults and rejects options the plugin cannot work with. */
export function resolveOptions(options: FlagsmithRealtimeOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    broker: options.broker,
    authToken: options.authToken,
    keepAliveIntervalMs: options.keepAliveIntervalMs ?? KEEPALIVE_INTERVAL_MS,
    slowSubscriberTimeoutMs: options.slowSubscriberTimeoutMs ?? DEFAULT_SLOW_SUBSCRIBER_TIMEOUT_MS,
    retryMs: options.retryMs,
    eventIds: options.eventIds ?? true,
    maxSubscribers: options.maxSubscribers,
    retryAfterSeconds: options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
    refusalHoldMs: options.refusalHoldMs ?? DEFAULT_REFUSAL_HOLD_MS,
    refusalHoldMax: options.refusalHoldMax ?? DEFAULT_REFUSAL_HOLD_MAX,
    drainWindowMs: options.drainWindowMs ?? DEFAULT_DRAIN_WINDOW_MS,
    maxStreamAgeMs: options.maxStreamAgeMs ?? 0,
    streamAgeJitter: options.streamAgeJitter ?? DEFAULT_STREAM_AGE_JITTER,
    metrics: options.metrics ?? true,
    clock: options.clock ?? systemClock,
  };
  if (!resolved.broker) throw new PluginOptionsError('flagsmithRealtime: `broker` is required.');
  if (typeof resolved.authToken !== 'string' || resolved.authToken.length === 0) {
    throw new PluginOptionsError('flagsmithRealtime: `authToken` must be a non-empty string.');
  }
  positive('keepAliveIntervalMs', resolved.keepAliveIntervalMs);
  positive('slowSubscriberTimeoutMs', resolved.slowSubscriberTimeoutMs);
  if (resolved.retryMs !== undefined) wholeNumber('retryMs', resolved.retryMs);
  if (resolved.maxSubscribers !== undefined) wholeNumber('maxSubscribers', resolved.maxSubscribers);
  wholeNumber('retryAfterSeconds', resolved.retryAfterSeconds);
  wholeNumber('refusalHoldMs', resolved.refusalHoldMs);
  wholeNumber('refusalHoldMax', resolved.refusalHoldMax);
  if (!(resolved.drainWindowMs >= 0)) {
    throw new PluginOptionsError('flagsmithRealtime: `drainWindowMs` must be 0 or more.');
  }
  if (!(Number.isFinite(resolved.maxStreamAgeMs) && resolved.maxStreamAgeMs >= 0)) {
    throw new PluginOptionsError('flagsmithRealtime: `maxStreamAgeMs` must be 0 or more.');
  }
  if (!(resolved.streamAgeJitter >= 0 && resolved.streamAgeJitter <= 1)) {
    throw new PluginOptionsError('flagsmithRealtime: `streamAgeJitter` must be from 0 to 1.');
  }
  return resolved;
}

function positive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new PluginOptionsError(
      `flagsmithRealtime: \`${name}\` must be a positive number, got ${value}.`,
    );
  }
}

function wholeNumber(name: string, value: number): void {
  if (!(Number.isInteger(value) && value >= 0)) {
    throw new PluginOptionsError(
      `flagsmithRealtime: \`${name}\` must be a whole number, got ${value}.`,
    );
  }
}
