import {
  KEEPALIVE_INTERVAL_MS,
  UPDATE_EVENT,
  UPDATED_AT_FIELD,
  validateEnvironmentKey,
} from '@flagsmith-rt/protocol';
import { createParser, type EventSourceMessage, type ParseError } from 'eventsource-parser';
import { backoffDelay, parseRetryAfter, resolveBackoff } from './backoff.js';
import {
  CallbackError,
  ConfigurationError,
  ConnectionError,
  EventError,
  HttpError,
  type RealtimeError,
} from './errors.js';
import type { ConnectionState, StateChange, SubscribeOptions, Subscription } from './options.js';
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

  const fetchImpl = options.fetch ?? globalThis.fetch;
  const backoff = resolveBackoff(options.backoff);
  const livenessTimeoutMs = options.livenessTimeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS;
  const idInQuery = (options.lastEventIdIn ?? (isBrowserLike() ? 'query' : 'header')) === 'query';

  let state: ConnectionState = 'connecting';
  let closed = false;
  let lastEventId: string | undefined;
  let serverRetryMs: number | undefined;
  let retryAfterMs: number | undefined;
  let attempt = 0;
  let connection: AbortController | undefined;
  let endReason: RealtimeError | undefined;
  let livenessTimer: ReturnType<typeof setTimeout> | undefined;
  let sleepTimer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;

  const report = (error: RealtimeError): void => {
    try {
      options.onError?.(error);
    } catch {
      // An application error handler that throws must not break the subscription.
    }
  };

  const tracker = new UpdateTracker({
    baseline: options.baseline,
    onUpdate: options.onUpdate,
    fetchFlags: options.fetchFlags,
    backoff,
    report,
  });

  const setState = (change: StateChange): void => {
    if (closed && change.state !== 'closed') return;
    state = change.state;
    try {
      options.onStateChange?.(change);
    } catch (cause) {
      report(new CallbackError('callback_failed', 'onStateChange threw.', true, { cause }));
    }
  };

  const parser = createParser({
    maxBufferSize: options.maxBufferSize ?? DEFAULT_MAX_BUFFER_SIZE,
    onEvent: (event) => handleEvent(event),
    // [spec] `retry:` sets the reconnection time; here it replaces the backoff base.
    onRetry: (ms) => {
      serverRetryMs = ms;
    },
    onError: (error: ParseError) => {
      if (error.type === 'max-buffer-size-exceeded') {
        abortConnection(
          new ConnectionError('buffer_overflow', `${error.message}; reconnecting.`, true, {
            cause: error,
          }),
        );
      } else {
        report(new EventError('malformed_event', error.message, true, { cause: error }));
      }
    },
  });

  function handleEvent(event: EventSourceMessage): void {
    if (closed) return;
    // [spec] An `id:` field sets the last event id; an empty one clears it.
    if (event.id !== undefined) lastEventId = event.id || undefined;
    if (event.event !== UPDATE_EVENT) {
      report(
        new EventError(
          'unknown_event',
          `Ignored an event named "${event.event ?? 'message'}".`,
          true,
        ),
      );
      return;
    }
    const updatedAt = readUpdatedAt(event.data);
    if (updatedAt === undefined) {
      report(
        new EventError(
          'malformed_event',
          `Ignored an ${UPDATE_EVENT} event whose data is not {"${UPDATED_AT_FIELD}": <positive number>}: ${event.data.slice(0, 100)}`,
          true,
        ),
      );
      return;
    }
    tracker.receive(updatedAt);
  }

  function abortConnection(reason: RealtimeError): void {
    endReason ??= reason;
    connection?.abort(reason);
  }

  function armLiveness(): void {
    clearTimeout(livenessTimer);
    livenessTimer = setTimeout(
      () =>
        abortConnection(
          new ConnectionError(
            'liveness_timeout',
            `No bytes (not even a keep-alive) for ${livenessTimeoutMs} ms; reconnecting.`,
            true,
          ),
        ),
      livenessTimeoutMs,
    );
  }

  /** One connection, from request to end; resolves with the reason it ended. */
  async function connectOnce(): Promise<RealtimeError> {
    const controller = new AbortController();
    connection = controller;
    endReason = undefined;
    retryAfterMs = undefined;
    setState({ state: 'connecting' });

    const target = new URL(url);
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    if (lastEventId !== undefined) {
      if (idInQuery) target.searchParams.set('lastEventId', lastEventId);
      // [spec] The reconnect request carries the last event id.
      else headers['Last-Event-ID'] = lastEventId;
    }

    armLiveness();
    let openedAt: number | undefined;
    try {
      const response = await fetchImpl(target.href, { headers, signal: controller.signal });
      const refused = checkResponse(response);
      if (refused) {
        await response.body?.cancel().catch(() => {});
        return refused;
      }
      openedAt = Date.now();
      setState({ state: 'open' });
      parser.reset();
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done || endReason) break;
        armLiveness();
        parser.feed(decoder.decode(value, { stream: true }));
        if (endReason) break;
      }
      return (
        endReason ?? new ConnectionError('stream_ended', 'The server closed the stream.', true)
      );
    } catch (cause) {
      return (
        endReason ??
        new ConnectionError(
          'network_error',
          `The connection to ${url.origin} failed: ${String((cause as Error)?.message ?? cause)}`,
          true,
          { cause },
        )
      );
    } finally {
      clearTimeout(livenessTimer);
      controller.abort();
      if (openedAt !== undefined && Date.now() - openedAt >= backoff.resetAfterMs) attempt = 0;
    }
  }

  /** Returns why the response cannot be read as the stream, or `undefined` if it can. */
  function checkResponse(response: Response): RealtimeError | undefined {
    const { status } = response;
    // [spec] 204 No Content tells the client to stop reconnecting.
    if (status === 204) {
      return new HttpError('no_content', status, 'The server answered 204: stopping.', false);
    }
    if (status !== 200) {
      // [spec] Any other status fails the connection; we retry the transient ones.
      const retryable = status >= 500 || status === 408 || status === 429;
      retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      return new HttpError(
        'http_status',
        status,
        retryable
          ? `The server answered ${status}; retrying.`
          : `The server answered ${status}; stopping (check the environment key and base URL).`,
        retryable,
      );
    }
    const type = response.headers.get('content-type') ?? '';
    // [spec] A content type other than text/event-stream fails the connection.
    if (type.split(';')[0]!.trim().toLowerCase() !== 'text/event-stream' || !response.body) {
      return new HttpError(
        'invalid_content_type',
        status,
        `Expected text/event-stream, got "${type}"; stopping (is baseUrl the real-time service?).`,
        false,
      );
    }
    return undefined;
  }

  function nextDelay(): number {
    // A server's `retry: 0` must not turn into a tight reconnect loop.
    const base = serverRetryMs === undefined ? backoff.baseMs : Math.max(serverRetryMs, 100);
    const delay = backoffDelay(attempt++, base, Math.max(base, backoff.capMs));
    return delay + (retryAfterMs ?? 0);
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      wake = resolve;
      sleepTimer = setTimeout(resolve, ms);
    });
  }

  async function run(): Promise<void> {
    while (!closed) {
      const reason = await connectOnce();
      if (closed) return;
      report(reason);
      if (!reason.retryable) {
        stop(reason);
        return;
      }
      const delayMs = nextDelay();
      setState({ state: 'waiting', error: reason, delayMs, attempt });
      await sleep(delayMs);
    }
  }

  function stop(error?: RealtimeError): void {
    if (closed) return;
    closed = true;
    options.signal?.removeEventListener('abort', onAbort);
    clearTimeout(livenessTimer);
    clearTimeout(sleepTimer);
    wake?.();
    connection?.abort();
    tracker.close();
    setState(error ? { state: 'closed', error } : { state: 'closed' });
  }

  const onAbort = (): void => stop();

  const subscription: Subscription = {
    get state() {
      return state;
    },
    get updatedAt() {
      return tracker.baseline;
    },
    get lastEventId() {
      return lastEventId;
    },
    close: () => stop(),
  };

  if (options.signal?.aborted) {
    stop();
  } else {
    options.signal?.addEventListener('abort', onAbort, { once: true });
    void run();
  }
  return subscription;
}

/** The `updated_at` of an event's data, or `undefined` unless it is a positive finite number. */
function readUpdatedAt(data: string): number | undefined {
  try {
    const value = (JSON.parse(data) as Record<string, unknown> | null)?.[UPDATED_AT_FIELD];
    return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}
