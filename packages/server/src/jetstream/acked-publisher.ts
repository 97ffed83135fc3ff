import { JetStreamApiCodes } from '@nats-io/jetstream';
import {
  createInbox,
  headers,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';
import type { Clock } from '../clock.js';

/** What JetStream answered to a stored message. */
export interface PublishAck {
  /** Stream sequence of the message. */
  readonly seq: number;
  /** The same `Nats-Msg-Id` was stored within the duplicate window. */
  readonly duplicate: boolean;
}

/** Options of one {@link AckedPublisher.publish}. */
export interface AckedPublishOptions {
  /** `Nats-Msg-Id`: JetStream drops a second message with it within its duplicate window. */
  readonly msgID: string;
  /** `Nats-Expected-Last-Subject-Sequence`: the write fails if the subject moved on. */
  readonly lastSubjectSequence: number;
}

/** JetStream refused the message (its ack carries an error). */
export class PublishRejectedError extends Error {
  override readonly name = 'PublishRejectedError';
  readonly code = 'publish_rejected' as const;
  /** JetStream's `err_code`, e.g. 10071 for a wrong last subject sequence. */
  readonly apiCode: number;
  /** JetStream's HTTP-like status (400, 503, …). */
  readonly status: number;

  constructor(description: string, apiCode: number, status: number) {
    super(`JetStream refused the message: ${description} (err_code ${apiCode})`);
    this.apiCode = apiCode;
    this.status = status;
  }

  /** Another writer moved the subject since the sequence the write expected. */
  get isWrongLastSequence(): boolean {
    return (
      this.apiCode === JetStreamApiCodes.StreamWrongLastSequence ||
      this.apiCode === JetStreamApiCodes.StreamWrongLastSequenceUnknown
    );
  }
}

/** No stream listens on the subject (NATS answered 503 "no responders"). */
export class NoStreamError extends Error {
  override readonly name = 'NoStreamError';
  readonly code = 'no_stream' as const;

  constructor(subject: string) {
    super(`no JetStream stream takes messages on ${subject} (no responders)`);
  }
}

/** No acknowledgement arrived in time; the message may or may not be stored. */
export class AckTimeoutError extends Error {
  override readonly name = 'AckTimeoutError';
  readonly code = 'ack_timeout' as const;

  constructor(timeoutMs: number) {
    super(`no JetStream acknowledgement within ${timeoutMs} ms`);
  }
}

interface Pending {
  readonly resolve: (ack: PublishAck) => void;
  readonly reject: (error: Error) => void;
  readonly subject: string;
  readonly deadline: number;
}

interface AckBody {
  seq?: unknown;
  duplicate?: unknown;
  error?: { code?: unknown; err_code?: unknown; description?: unknown };
}

/**
 * Publishes to JetStream and matches the acknowledgements itself: one
 * wildcard reply subscription, one map entry per message in flight and one
 * sweep timer for timeouts. `JetStreamClient.publish` goes through
 * `NatsConnection.request`, which arms a timer and builds an error object
 * with a stack trace for every message, even a successful one; replacing it
 * took more than a quarter off the service's CPU per `queue-change`
 * (BENCHMARKS.md, "queue-change (profiled, fixed in part)").
 *
 * Requests that are still waiting when the connection is lost are failed by
 * {@link failAll}; an acknowledgement that arrives after that is ignored.
 */
export class AckedPublisher {
  readonly #nc: NatsConnection;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  readonly #prefix: string;
  readonly #subscription: Subscription;
  readonly #pending = new Map<number, Pending>();
  readonly #sweep: ReturnType<typeof setInterval>;
  #next = 0;

  /**
   * @param nc - the connection
   * @param timeoutMs - how long a message waits for its acknowledgement
   * @param clock - the broker's clock; the timeouts are measured on it
   */
  constructor(nc: NatsConnection, timeoutMs: number, clock: Clock) {
    this.#nc = nc;
    this.#timeoutMs = timeoutMs;
    this.#clock = clock;
    // Replies come to `_INBOX.<nuid>.<n>`, the same shape as the client's own
    // requests, so the permissions documented for the service still hold.
    this.#prefix = `${createInbox()}.`;
    this.#subscription = nc.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => {
        if (error === null) this.#settle(msg);
      },
    });
    this.#sweep = setInterval(() => this.#expire(), Math.min(250, Math.max(10, timeoutMs / 4)));
    this.#sweep.unref();
  }

  /** Publishes one message and resolves with JetStream's acknowledgement. */
  publish(subject: string, payload: Uint8Array, options: AckedPublishOptions): Promise<PublishAck> {
    const id = this.#next++;
    const header = headers();
    header.set('Nats-Msg-Id', options.msgID);
    header.set('Nats-Expected-Last-Subject-Sequence', String(options.lastSubjectSequence));
    return new Promise<PublishAck>((resolve, reject) => {
      this.#pending.set(id, {
        resolve,
        reject,
        subject,
        deadline: this.#clock() + this.#timeoutMs,
      });
      try {
        this.#nc.publish(subject, payload, { reply: this.#prefix + id, headers: header });
      } catch (error) {
        this.#pending.delete(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /**
   * Fails every message still waiting (the connection was lost or is closing).
   * Returns how many there were, for the log line that says so.
   */
  failAll(error: Error): number {
    const waiting = [...this.#pending.values()];
    this.#pending.clear();
    for (const pending of waiting) pending.reject(error);
    return waiting.length;
  }

  /** Stops listening for acknowledgements and fails what is still waiting. */
  close(error: Error): void {
    clearInterval(this.#sweep);
    this.failAll(error);
    if (!this.#nc.isClosed()) this.#subscription.unsubscribe();
  }

  #settle(msg: Msg): void {
    const id = Number(msg.subject.slice(this.#prefix.length));
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      pending.reject(new NoStreamError(pending.subject));
      return;
    }
    let body: AckBody;
    try {
      body = JSON.parse(msg.string()) as AckBody;
    } catch {
      pending.reject(new Error(`unreadable JetStream acknowledgement: ${msg.string()}`));
      return;
    }
    if (body.error !== undefined) {
      const { description, err_code: apiCode, code } = body.error;
      pending.reject(
        new PublishRejectedError(
          typeof description === 'string' ? description : 'no description',
          typeof apiCode === 'number' ? apiCode : 0,
          typeof code === 'number' ? code : 0,
        ),
      );
      return;
    }
    if (typeof body.seq !== 'number') {
      pending.reject(new Error(`JetStream acknowledgement without a sequence: ${msg.string()}`));
      return;
    }
    pending.resolve({ seq: body.seq, duplicate: body.duplicate === true });
  }

  #expire(): void {
    if (this.#pending.size === 0) return;
    const now = this.#clock();
    // Entries are in publish order and share one timeout: stop at the first still in time.
    for (const [id, pending] of this.#pending) {
      if (pending.deadline > now) break;
      this.#pending.delete(id);
      pending.reject(new AckTimeoutError(this.#timeoutMs));
    }
  }
}
