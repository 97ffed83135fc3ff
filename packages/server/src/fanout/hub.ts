import {
  encodeChunk,
  encodeUpdateFrame,
  KEEPALIVE_CHUNK,
  KEEPALIVE_FRAME,
  LAST_CHUNK,
} from '@flagsmith-rt/protocol';
import type { Broker, BrokerUpdate } from '../broker/broker.js';
import type { NatsOperation } from '../jetstream/options.js';
import { DEFAULT_STREAM_AGE_JITTER } from '../options.js';
import { LatencySamples } from './latency.js';
import { createCounters, type HubCounters } from './stats.js';
import { type StreamSink, Subscriber } from './subscriber.js';
import { startSweeper, sweepIntervalFor } from './sweep.js';

/** Options of {@link Hub}. */
export interface HubOptions {
  /** Where updates come from. */
  broker: Broker;
  /** Frames carry `id: <updated_at>`. */
  eventIds: boolean;
  /** A stream with no write for this long gets a keep-alive comment. */
  keepAliveIntervalMs: number;
  /** A stream whose socket takes no bytes for this long is closed. */
  slowSubscriberTimeoutMs: number;
  /** Streams are ended after this long, less up to `streamAgeJitter` of it; 0 for never. @defaultValue 0 */
  maxStreamAgeMs?: number;
  /** Fraction (0 to 1) of `maxStreamAgeMs` by which each stream's age is randomly shortened. @defaultValue 0.2 */
  streamAgeJitter?: number;
  /** Random numbers in [0, 1) for the age jitter. @defaultValue `Math.random` */
  random?: () => number;
  /** Clock, epoch milliseconds. @defaultValue `Date.now` */
  now?: () => number;
}

/** One subscriber as seen from outside, for tests and diagnostics. */
export interface SubscriberSnapshot {
  /** Environment key. */
  environment: string;
  /** The socket is not taking writes. */
  blocked: boolean;
  /** Newest undelivered timestamp, 0 for none. */
  pendingAt: number;
  /** Bytes queued in user space. */
  writableLength: number;
}

/** Fan-outs waiting for a stored time are forgotten beyond this many (the stream never delivered them). */
const MAX_UNSTAMPED = 10_000;

/**
 * The bytes of one update, built once per update: `plain` for HTTP/2 and
 * HTTP/1.0 streams, `chunked` (the same frame as one HTTP/1.1 chunk) for the rest.
 */
export interface UpdateFrame {
  readonly plain: Buffer;
  readonly chunked: Buffer;
}

/** How long an aged-out stream may stay open after its end was sent. */
const AGED_STREAM_GRACE_MS = 1_000;

// [spec] A line starting with `:` is an SSE comment: clients ignore it, proxies see traffic.
const KEEPALIVE = toBuffer(KEEPALIVE_FRAME);
const KEEPALIVE_CHUNKED = toBuffer(KEEPALIVE_CHUNK);

/**
 * The fan-out: environment -> open streams. Each update from the broker is
 * encoded once and the same buffer is written to every stream of its
 * environment, synchronously. One sweep timer sends keep-alives and closes
 * subscribers that stopped reading.
 */
export class Hub {
  /** Plain-number counters read by metrics. */
  readonly counters: HubCounters = createCounters();
  /** Delivery latency samples: the update's acceptance (`storedAt`) to the last write of its fan-out. */
  readonly latency = new LatencySamples();
  /** The broker this hub follows. */
  readonly broker: Broker;

  private readonly environments = new Map<string, Set<Subscriber>>();
  /** Fan-outs waiting for their stored time (see {@link Broker.onStored}), by environment. */
  private readonly unstamped = new Map<string, { updatedAt: number; writtenAt: number }>();
  private readonly frameOptions: { id: boolean };
  private readonly keepAliveIntervalMs: number;
  private readonly slowSubscriberTimeoutMs: number;
  private readonly maxStreamAgeMs: number;
  private readonly streamAgeJitter: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private active = 0;
  private closingState = false;
  private stopSweeper: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(options: HubOptions) {
    this.broker = options.broker;
    this.frameOptions = { id: options.eventIds };
    this.keepAliveIntervalMs = options.keepAliveIntervalMs;
    this.slowSubscriberTimeoutMs = options.slowSubscriberTimeoutMs;
    this.maxStreamAgeMs = options.maxStreamAgeMs ?? 0;
    this.streamAgeJitter = options.streamAgeJitter ?? DEFAULT_STREAM_AGE_JITTER;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  /** Open streams right now. */
  get subscriberCount(): number {
    return this.active;
  }

  /** Environments with at least one open stream. */
  get environmentCount(): number {
    return this.environments.size;
  }

  /** `true` once {@link Hub.drain} started: no new streams. */
  get closing(): boolean {
    return this.closingState;
  }

  /** Follows the broker and starts the keep-alive sweep. Idempotent. */
  start(): void {
    if (this.unsubscribe) return;
    const unsubscribeUpdates = this.broker.onUpdate(this.fanOut);
    const unsubscribeStored = this.broker.onStored?.(this.onStored);
    this.unsubscribe = () => {
      unsubscribeUpdates();
      unsubscribeStored?.();
    };
    this.stopSweeper = startSweeper(
      sweepIntervalFor(
        this.keepAliveIntervalMs,
        this.slowSubscriberTimeoutMs,
        this.maxStreamAgeMs * (1 - this.streamAgeJitter),
      ),
      () => this.sweep(this.now()),
    );
  }

  /** Stops following the broker and the sweep. Open streams are left alone (see {@link Hub.drain}). */
  stop(): void {
    this.unsubscribe?.();
    this.stopSweeper?.();
    this.unsubscribe = undefined;
    this.stopSweeper = undefined;
  }

  /** The bytes of one update event, both ways, each written unchanged to every stream of its kind. */
  frameFor(updatedAt: number): UpdateFrame {
    const plain = encodeUpdateFrame(updatedAt, this.frameOptions);
    return { plain: toBuffer(plain), chunked: toBuffer(encodeChunk(plain)) };
  }

  /**
   * Registers a stream whose headers (and initial event) were already
   * written; `chunked` if its body is HTTP/1.1 chunked. It is removed as soon
   * as its socket closes.
   */
  add(sink: StreamSink, environment: string, chunked = false): Subscriber {
    const now = this.now();
    const subscriber = new Subscriber(sink, environment, now, chunked);
    if (this.maxStreamAgeMs > 0) {
      // A deadline per stream, checked by the sweep: no timer per subscriber.
      subscriber.closeAt = now + this.maxStreamAgeMs * (1 - this.random() * this.streamAgeJitter);
    }
    let set = this.environments.get(environment);
    if (set === undefined) {
      set = new Set();
      this.environments.set(environment, set);
    }
    set.add(subscriber);
    this.active++;
    this.counters.subscribersTotal++;
    sink.on('drain', () => this.onDrain(subscriber));
    sink.on('error', () => this.onError(subscriber));
    sink.on('close', () => this.remove(subscriber));
    return subscriber;
  }

  /** The hot path: one encoding, one synchronous write per open stream of the environment. */
  private readonly fanOut = (update: BrokerUpdate): void => {
    const set = this.environments.get(update.environment);
    if (set === undefined) return;
    const frame = this.frameFor(update.updatedAt);
    const now = this.now();
    let written = 0;
    for (const subscriber of set) {
      if (subscriber.blockedSince !== 0 || subscriber.closing) {
        // Updates only move forward, so the newest is the only one worth keeping.
        subscriber.pendingAt = update.updatedAt;
        continue;
      }
      subscriber.lastWriteAt = now;
      subscriber.lastWriteKind = 'data';
      if (!subscriber.sink.write(subscriber.chunked ? frame.chunked : frame.plain)) {
        subscriber.blockedSince = now;
      }
      written++;
    }
    this.counters.writesData += written;
    this.counters.fanouts++;
    const writtenAt = this.now();
    if (update.storedAt !== undefined) {
      this.latency.record(writtenAt - update.storedAt);
    } else {
      // Published here and fanned out on the ack: the sample waits for the message time.
      if (this.unstamped.size >= MAX_UNSTAMPED) this.unstamped.clear();
      this.unstamped.set(update.environment, { updatedAt: update.updatedAt, writtenAt });
    }
  };

  /** The stored time of an update fanned out without one: its latency sample. */
  private readonly onStored = (environment: string, updatedAt: number, storedAt: number): void => {
    const fanout = this.unstamped.get(environment);
    if (fanout === undefined || fanout.updatedAt !== updatedAt) return;
    this.unstamped.delete(environment);
    this.latency.record(fanout.writtenAt - storedAt);
  };

  /**
   * Sends due keep-alives, closes subscribers blocked past the timeout, ends
   * streams past their maximum age and drops subscribers whose sink was destroyed.
   */
  sweep(now: number): void {
    const keepAliveBefore = now - this.keepAliveIntervalMs;
    const blockedBefore = now - this.slowSubscriberTimeoutMs;
    let keepalives = 0;
    for (const set of this.environments.values()) {
      for (const subscriber of set) {
        // A transport destroyed without a 'close' reaching us: the subscriber must not
        // stay (a ghost holds a MAX_SUBSCRIBERS slot and is counted as served).
        if (subscriber.sink.destroyed) {
          this.remove(subscriber);
          continue;
        }
        // Ended by the drain, by age, or dropped: nothing more may be written.
        if (subscriber.closing) {
          // An aged-out stream whose client keeps its side open is cut after a grace period.
          if (subscriber.closeAt !== 0 && subscriber.closeAt <= now) subscriber.sink.destroy();
          continue;
        }
        if (subscriber.closeAt !== 0 && subscriber.closeAt <= now) {
          this.endAged(subscriber, now);
          continue;
        }
        if (subscriber.blockedSince !== 0) {
          if (subscriber.blockedSince <= blockedBefore) {
            subscriber.closing = true;
            this.counters.slowSubscribersDropped++;
            subscriber.sink.destroy();
          }
          continue;
        }
        if (subscriber.lastWriteAt > keepAliveBefore) continue;
        subscriber.lastWriteAt = now;
        subscriber.lastWriteKind = 'keepalive';
        const keepalive = subscriber.chunked ? KEEPALIVE_CHUNKED : KEEPALIVE;
        if (!subscriber.sink.write(keepalive)) subscriber.blockedSince = now;
        keepalives++;
      }
    }
    this.counters.writesKeepalive += keepalives;
  }

  /**
   * Closes every stream, spread evenly over `windowMs` so that clients do not
   * all reconnect in the same instant. New streams are refused from the first
   * call. Resolves when all streams are closed; streams that did not close
   * within a second after the window are destroyed.
   */
  async drain(windowMs: number): Promise<void> {
    this.closingState = true;
    const all: Subscriber[] = [];
    for (const set of this.environments.values()) for (const s of set) all.push(s);
    if (all.length > 0) {
      const batches = Math.max(1, Math.min(all.length, Math.floor(windowMs / 50)));
      const perBatch = Math.ceil(all.length / batches);
      const pause = windowMs / batches;
      for (let start = 0; start < all.length; start += perBatch) {
        if (start > 0) await delay(pause);
        for (const subscriber of all.slice(start, start + perBatch)) {
          subscriber.closing = true;
          // The drain destroys what did not close; the age sweep must not cut its flush.
          subscriber.closeAt = 0;
          endStream(subscriber);
        }
      }
    }
    const deadline = this.now() + 1000;
    while (this.active > 0 && this.now() < deadline) await delay(20);
    for (const set of this.environments.values()) for (const s of set) s.sink.destroy();
  }

  /** Records one failed NATS operation (wire it to the broker's `onError`). */
  recordNatsError(operation: NatsOperation): void {
    if (operation in this.counters.natsErrors) this.counters.natsErrors[operation]++;
  }

  /**
   * How many environments have a number of open streams up to each bound:
   * `counts[i]` is the number of environments with more than `bounds[i - 1]`
   * and at most `bounds[i]` streams; the last entry counts the rest. One pass
   * over the environments (for scrapes, not hot paths).
   */
  environmentSizes(bounds: readonly number[]): number[] {
    const counts = new Array<number>(bounds.length + 1).fill(0);
    for (const set of this.environments.values()) {
      let bucket = 0;
      while (bucket < bounds.length && set.size > bounds[bucket]!) bucket++;
      counts[bucket]!++;
    }
    return counts;
  }

  /** Every open stream, for tests and diagnostics (allocates; not for hot paths). */
  snapshot(): SubscriberSnapshot[] {
    const out: SubscriberSnapshot[] = [];
    for (const set of this.environments.values()) {
      for (const s of set) {
        out.push({
          environment: s.environment,
          blocked: s.blockedSince !== 0,
          pendingAt: s.pendingAt,
          writableLength: s.sink.writableLength,
        });
      }
    }
    return out;
  }

  /**
   * Ends a stream that reached its age: the client reconnects (through the
   * load balancer, possibly to another instance) and gets the latest again.
   * A socket that cannot flush is destroyed at once; one that flushed but is
   * not closed by the client within {@link AGED_STREAM_GRACE_MS}, by the sweep.
   */
  private endAged(subscriber: Subscriber, now: number): void {
    subscriber.closing = true;
    this.counters.streamAgeCloses++;
    if (subscriber.blockedSince !== 0) {
      subscriber.sink.destroy();
      return;
    }
    subscriber.closeAt = now + AGED_STREAM_GRACE_MS;
    endStream(subscriber);
  }

  private onDrain(subscriber: Subscriber): void {
    if (subscriber.closing) return;
    subscriber.blockedSince = 0;
    if (subscriber.pendingAt === 0) return;
    const now = this.now();
    const frame = this.frameFor(subscriber.pendingAt);
    subscriber.pendingAt = 0;
    subscriber.lastWriteAt = now;
    subscriber.lastWriteKind = 'data';
    this.counters.writesData++;
    if (!subscriber.sink.write(subscriber.chunked ? frame.chunked : frame.plain)) {
      subscriber.blockedSince = now;
    }
  }

  private onError(subscriber: Subscriber): void {
    if (subscriber.lastWriteKind === 'data') this.counters.writeErrorsData++;
    else this.counters.writeErrorsKeepalive++;
  }

  private remove(subscriber: Subscriber): void {
    const set = this.environments.get(subscriber.environment);
    if (set === undefined || !set.delete(subscriber)) return;
    if (set.size === 0) this.environments.delete(subscriber.environment);
    this.active--;
  }
}

/** Ends a stream gracefully: a chunked body with its last-chunk, so the client sees a complete response. */
function endStream(subscriber: Subscriber): void {
  if (subscriber.chunked) subscriber.sink.end(LAST_CHUNK);
  else subscriber.sink.end();
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
