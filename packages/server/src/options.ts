import { KEEPALIVE_INTERVAL_MS } from '@flagsmith-rt/protocol';
import type { Broker } from './broker.js';
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
   * On close, streams are ended in batches spread over this window.
   * @defaultValue 5000
   */
  drainWindowMs?: number;
}

/** {@link FlagsmithRealtimeOptions} with every default applied. */
export type ResolvedOptions = Required<
  Omit<FlagsmithRealtimeOptions, 'retryMs' | 'maxSubscribers'>
> &
  Pick<FlagsmithRealtimeOptions, 'retryMs' | 'maxSubscribers'>;

/** Default of {@link FlagsmithRealtimeOptions.slowSubscriberTimeoutMs}. */
export const DEFAULT_SLOW_SUBSCRIBER_TIMEOUT_MS = 30_000;
/** Default of {@link FlagsmithRealtimeOptions.retryAfterSeconds}. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;
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
    drainWindowMs: options.drainWindowMs ?? DEFAULT_DRAIN_WINDOW_MS,
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
  if (!(resolved.drainWindowMs >= 0)) {
    throw new PluginOptionsError('flagsmithRealtime: `drainWindowMs` must be 0 or more.');
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
