import { KEEPALIVE_INTERVAL_MS, validateEnvironmentKey } from '@flagsmith-rt/protocol';
import { resolveBackoff } from './backoff.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { CallbackError, ConfigurationError, type RealtimeError } from './errors.js';
import { readUpdate } from './events.js';
import type { ConnectionState, StateChange, SubscribeOptions, Subscription } from './options.js';
import { Reconnect } from './reconnect.js';
import type { SseMessage } from './sse-parser.js';
import { UpdateTracker } from './updates.js';
import { DEFAULT_BASE_URL, isBrowserLike, streamUrl } from './url.js';

const DEFAULT_LIVENESS_TIMEOUT_MS = 2 * KEEPALIVE_INTERVAL_MS + 10_000;
const DEFAULT_MAX_BUFFER_SIZE = 64 * 1024;

/**
 * Subscribes to an environment's real-time updates and keeps the subscription
 * alive until `close()` (or `signal`) stops it.
 *
 * Throws a {@link ConfigurationError} at once for an invalid environment key
 * or base URL; every later problem goes to `onError` and `onStateChange`.
 *
 * @example
 * ```ts
 * const sub = subscribe({ environmentKey: 'n9fbf9h3v4fFgH3U3ngWhb', fetchFlags: () => flagsmith.getFlags() });
 * sub.close();
 * ```
 */
export function subscribe(options: SubscribeOptions): Subscription {
  const key = validateEnvironmentKey(options.environmentKey);
  if (!key.ok) throw new ConfigurationError('invalid_environment_key', key.error.message, false);
  let url: URL;
  try {
    url = streamUrl(options.baseUrl ?? DEFAULT_BASE_URL, key.value);
  } catch (cause) {
    throw new ConfigurationError(
      'invalid_option',
      `baseUrl must be an absolute http(s) URL, got "${options.baseUrl}".`,
      false,
      { cause },
    );
  }
  return new LiveSubscription(url, options);
}

/**
 * The subscription's life: connect, hand each message to the tracker, and on
 * every end either stop (fatal) or wait and connect again. One connection is
 * a {@link Connection}; when to reconnect is {@link Reconnect}'s call; which
 * timestamps count is {@link UpdateTracker}'s.
 */
class LiveSubscription implements Subscription {
  readonly #url: URL;
  readonly #options: SubscribeOptions;
  readonly #idInQuery: boolean;
  readonly #connectionOptions: ConnectionOptions;
  readonly #reconnect: Reconnect;
  readonly #tracker: UpdateTracker;
  #state: ConnectionState = 'connecting';
  #closed = false;
  #lastEventId: string | undefined;
  #connection: Connection | undefined;

  constructor(url: URL, options: SubscribeOptions) {
    this.#url = url;
    this.#options = options;
    this.#idInQuery = (options.lastEventIdIn ?? (isBrowserLike() ? 'query' : 'header')) === 'query';
    const backoff = resolveBackoff(options.backoff);
    this.#reconnect = new Reconnect(backoff);
    this.#connectionOptions = {
      fetch: options.fetch ?? globalThis.fetch,
      livenessTimeoutMs: options.livenessTimeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS,
      maxBufferSize: options.maxBufferSize ?? DEFAULT_MAX_BUFFER_SIZE,
      onOpen: () => this.#setState({ state: 'open' }),
      onMessage: this.#onMessage,
      onRetry: (ms) => this.#reconnect.setServerRetry(ms),
      report: this.#report,
    };
    this.#tracker = new UpdateTracker({
      baseline: options.baseline,
      onUpdate: options.onUpdate,
      fetchFlags: options.fetchFlags,
      backoff,
      report: this.#report,
    });
    if (options.signal?.aborted) {
      this.#stop();
    } else {
      options.signal?.addEventListener('abort', this.#onAbort, { once: true });
      void this.#run();
    }
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get updatedAt(): number | undefined {
    return this.#tracker.baseline;
  }

  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  close(): void {
    this.#stop();
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const connection = new Connection(this.#connectionOptions);
      this.#connection = connection;
      this.#setState({ state: 'connecting' });
      const end = await connection.run(...this.#request());
      if (this.#closed) return;
      this.#report(end.reason);
      if (!end.reason.retryable) {
        this.#stop(end.reason);
        return;
      }
      const delayMs = this.#reconnect.delayAfter(end);
      this.#setState({
        state: 'waiting',
        error: end.reason,
        delayMs,
        attempt: this.#reconnect.attempt,
      });
      await this.#reconnect.wait(delayMs);
    }
  }

  /** The stream URL and headers, carrying the last event id if there is one. */
  #request(): [URL, Record<string, string>] {
    const target = new URL(this.#url);
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    const id = this.#lastEventId;
    if (id !== undefined) {
      if (this.#idInQuery) target.searchParams.set('lastEventId', id);
      // [spec] The reconnect request carries the last event id.
      else headers['Last-Event-ID'] = id;
    }
    return [target, headers];
  }

  #onMessage = (message: SseMessage): void => {
    if (this.#closed) return;
    // [spec] An `id:` field sets the last event id; an empty one clears it.
    if (message.id !== undefined) this.#lastEventId = message.id || undefined;
    const update = readUpdate(message);
    if (typeof update === 'number') this.#tracker.receive(update);
    else this.#report(update);
  };

  #report = (error: RealtimeError): void => {
    try {
      this.#options.onError?.(error);
    } catch {
      // An application error handler that throws must not break the subscription.
    }
  };

  #setState(change: StateChange): void {
    if (this.#closed && change.state !== 'closed') return;
    this.#state = change.state;
    try {
      this.#options.onStateChange?.(change);
    } catch (cause) {
      this.#report(new CallbackError('callback_failed', 'onStateChange threw.', true, { cause }));
    }
  }

  #onAbort = (): void => this.#stop();

  #stop(error?: RealtimeError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#reconnect.cancel();
    this.#connection?.abort();
    this.#tracker.close();
    this.#setState(error ? { state: 'closed', error } : { state: 'closed' });
  }
}
