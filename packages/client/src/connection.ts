import { parseRetryAfter } from './backoff.js';
import { ConnectionError, EventError, type RealtimeError, StreamRefusedError } from './errors.js';
import type { FetchLike } from './options.js';
import { createSseParser, type SseMessage } from './sse-parser.js';

/** What one {@link Connection} needs from its subscription. */
export interface ConnectionOptions {
  /** The `fetch` that makes the request. */
  fetch: FetchLike;
  /** No bytes for this long (ms), request included: the connection is presumed dead. */
  livenessTimeoutMs: number;
  /** Largest unfinished event the parser buffers, in characters. */
  maxBufferSize: number;
  /** The response is a stream and is being read. */
  onOpen: () => void;
  /** Each complete SSE message. */
  onMessage: (message: SseMessage) => void;
  /** A `retry:` field, in milliseconds. */
  onRetry: (ms: number) => void;
  /** A problem that does not end the connection (a malformed line). */
  report: (error: RealtimeError) => void;
}

/** How a {@link Connection} ended. */
export interface ConnectionEnd {
  /** Why it ended: a refusal, a failure, or the server closing the stream. */
  reason: RealtimeError;
  /** How long the stream was open, in milliseconds; `undefined` if it never opened. */
  openMs?: number;
  /** The response's `Retry-After`, in milliseconds, if it refused the stream with one. */
  retryAfterMs?: number;
}

/**
 * One stream request, from `fetch` to the end of the body: checks the
 * response, feeds the body to the SSE parser and aborts when no bytes arrive
 * for `livenessTimeoutMs`. It knows nothing of reconnecting; the subscription
 * decides what follows from {@link ConnectionEnd}.
 */
export class Connection {
  readonly #options: ConnectionOptions;
  readonly #controller = new AbortController();
  #endReason: RealtimeError | undefined;
  #liveness: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ConnectionOptions) {
    this.#options = options;
  }

  /** Ends the connection; the first reason given is the one {@link run} resolves with. */
  abort(reason?: RealtimeError): void {
    this.#endReason ??= reason;
    clearTimeout(this.#liveness);
    this.#controller.abort(reason);
  }

  /** Makes the request and reads the stream; resolves (never rejects) once it ended. */
  async run(url: URL, headers: Record<string, string>): Promise<ConnectionEnd> {
    const { fetch, onOpen, onMessage, onRetry, report } = this.#options;
    const feed = createSseParser(
      {
        onMessage,
        // [spec] `retry:` sets the reconnection time.
        onRetry,
        onIgnoredLine: (line) =>
          report(
            new EventError('malformed_event', `Ignored the line "${line.slice(0, 100)}".`, true),
          ),
        onOverflow: () =>
          this.abort(
            new ConnectionError(
              'buffer_overflow',
              `An event outgrew maxBufferSize (${this.#options.maxBufferSize} characters); reconnecting.`,
              true,
            ),
          ),
      },
      this.#options.maxBufferSize,
    );
    this.#armLiveness();
    let openedAt: number | undefined;
    let retryAfterMs: number | undefined;
    try {
      const response = await fetch(url.href, { headers, signal: this.#controller.signal });
      const refused = refusal(response);
      if (refused) {
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
        await response.body?.cancel().catch(() => {});
        return { reason: refused, retryAfterMs };
      }
      openedAt = Date.now();
      onOpen();
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.#endReason) break;
        this.#armLiveness();
        feed(decoder.decode(value, { stream: true }));
        if (this.#endReason) break;
      }
      return this.#end(
        new ConnectionError('stream_ended', 'The server closed the stream.', true),
        openedAt,
      );
    } catch (cause) {
      return this.#end(
        new ConnectionError(
          'network_error',
          `The connection to ${url.origin} failed: ${String((cause as Error)?.message ?? cause)}`,
          true,
          { cause },
        ),
        openedAt,
      );
    } finally {
      clearTimeout(this.#liveness);
      this.#controller.abort();
    }
  }

  /** The end, with the reason given to {@link abort} first if there was one. */
  #end(fallback: RealtimeError, openedAt: number | undefined): ConnectionEnd {
    return {
      reason: this.#endReason ?? fallback,
      openMs: openedAt === undefined ? undefined : Date.now() - openedAt,
    };
  }

  #armLiveness(): void {
    clearTimeout(this.#liveness);
    const ms = this.#options.livenessTimeoutMs;
    this.#liveness = setTimeout(
      () =>
        this.abort(
          new ConnectionError(
            'liveness_timeout',
            `No bytes (not even a keep-alive) for ${ms} ms; reconnecting.`,
            true,
          ),
        ),
      ms,
    );
  }
}

/** Why a response cannot be read as the stream, or `undefined` if it can. */
function refusal(response: Response): StreamRefusedError | undefined {
  const { status } = response;
  // [spec] 204 No Content tells the client to stop reconnecting.
  if (status === 204) {
    return new StreamRefusedError(
      'no_content',
      status,
      'The server answered 204: stopping.',
      false,
    );
  }
  if (status !== 200) {
    // [spec] Any other status fails the connection; we retry the transient ones.
    const retryable = status >= 500 || status === 408 || status === 429;
    return new StreamRefusedError(
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
    return new StreamRefusedError(
      'invalid_content_type',
      status,
      `Expected text/event-stream, got "${type}"; stopping (is baseUrl the real-time service?).`,
      false,
    );
  }
  return undefined;
}
