import type { BackoffOptions } from './backoff.js';
import type { RealtimeError } from './errors.js';
import type { FetchFlags } from './updates.js';

/**
 * Where the subscription is:
 * - `connecting`: a request is on its way;
 * - `open`: the stream is being read;
 * - `waiting`: the last connection ended, a reconnect is scheduled;
 * - `closed`: stopped for good (by `close()`, the signal, a `204` or a fatal error).
 */
export type ConnectionState = 'connecting' | 'open' | 'waiting' | 'closed';

/** Details of a state change. */
export interface StateChange {
  /** The new state. */
  state: ConnectionState;
  /** Why the previous connection ended (`waiting`), or why the subscription stopped (`closed`). */
  error?: RealtimeError;
  /** With `waiting`: milliseconds until the next connection attempt. */
  delayMs?: number;
  /**
   * With `waiting`: how many connections in a row failed or ended before
   * staying healthy (1 after a healthy connection ended); drives the backoff.
   */
  attempt?: number;
}

/** The `fetch` the client needs: any standard `fetch` fits. */
export type FetchLike = (
  url: string,
  init: { headers: Record<string, string>; signal: AbortSignal },
) => Promise<Response>;

/** Options of `subscribe`. Only `environmentKey` is required. */
export interface SubscribeOptions {
  /** Flagsmith client-side environment key (`A-Z a-z 0-9 _ -`, 1 to 128 characters). */
  environmentKey: string;
  /**
   * Base URL of the real-time service; a trailing `/` is added if missing.
   * @defaultValue 'https://realtime.flagsmith.com/'
   */
  baseUrl?: string;
  /**
   * Called with each strictly newer timestamp (epoch seconds), after `fetchFlags`
   * succeeded for it when `fetchFlags` is given.
   * @defaultValue undefined
   */
  onUpdate?: (updatedAt: number) => void;
  /**
   * Fetches the flags when a newer timestamp arrives. Updates arriving during a
   * fetch lead to exactly one follow-up fetch; a rejection is retried with
   * backoff and does not move the baseline. Receives a signal aborted by `close()`.
   * @defaultValue undefined (the baseline moves as soon as an update arrives)
   */
  fetchFlags?: FetchFlags;
  /**
   * Timestamp (epoch seconds) of the flags the application already has, e.g.
   * from the `X-Flagsmith-Document-Updated-At` header of its last flags response.
   * Updates at or before it are ignored.
   * @defaultValue undefined (the first update received counts as newer)
   */
  baseline?: number;
  /**
   * Aborting it closes the subscription, like `close()`.
   * @defaultValue undefined
   */
  signal?: AbortSignal;
  /**
   * Reports every problem, fatal or not (see `RealtimeError.retryable`). Never
   * needed for correctness: the client recovers from retryable errors by itself.
   * @defaultValue undefined
   */
  onError?: (error: RealtimeError) => void;
  /**
   * Called on every connection state change.
   * @defaultValue undefined
   */
  onStateChange?: (change: StateChange) => void;
  /**
   * Delays of reconnects and of `fetchFlags` retries: exponential with full jitter.
   * @defaultValue `{ baseMs: 1000, capMs: 30000, resetAfterMs: 30000 }`
   */
  backoff?: BackoffOptions;
  /**
   * A connection that receives no bytes at all (neither events nor keep-alive
   * comments, which the service sends every 15 s of silence) for this many
   * milliseconds is presumed dead, aborted and reconnected. Also bounds how
   * long a connection attempt may take.
   * @defaultValue 40000
   */
  livenessTimeoutMs?: number;
  /**
   * How the last event id travels on reconnect: as the `Last-Event-ID` header,
   * or as the `?lastEventId=` query parameter, which avoids a CORS preflight.
   * @defaultValue 'query' where CORS applies (a `document` or a worker scope exists), else 'header'
   */
  lastEventIdIn?: 'header' | 'query';
  /**
   * Largest number of characters buffered for one unfinished event (the
   * parser's limit). A stream exceeding it is dropped and reconnected.
   * @defaultValue 65536
   */
  maxBufferSize?: number;
  /**
   * The `fetch` to use, e.g. one with a proxy agent or a test double.
   * @defaultValue globalThis.fetch
   */
  fetch?: FetchLike;
}

/** The handle returned by `subscribe`. */
export interface Subscription {
  /** Current connection state. */
  readonly state: ConnectionState;
  /** The latest timestamp (epoch seconds) the application is known to have, i.e. the baseline. */
  readonly updatedAt: number | undefined;
  /** The last event id the server sent, sent back on reconnect. */
  readonly lastEventId: string | undefined;
  /** Stops everything: aborts the connection and any fetch, clears every timer. Idempotent. */
  close(): void;
}
