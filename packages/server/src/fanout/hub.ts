import { encodeRetryFrame, encodeUpdateFrame } from '@flagsmith-rt/protocol';
import type { Broker, BrokerUpdate } from '../broker/broker.js';
import { type Clock, systemClock } from '../clock.js';
import { type Frame, frameOf, pick } from './frame.js';
import type { Stats } from './stats.js';
import { endStream, type PendingStream, Subscriber } from './subscriber.js';
import { type SweepRules, startSweeper, sweepIntervalFor, sweepSubscribers } from './sweep.js';

/** Options of {@link Hub}. */
export interface HubOptions {
  /** Where updates come from, and the latest of each environment. */
  broker: Broker;
  /** Where the hub counts what it writes, drops and closes. */
  stats: Stats;
  /** If set, every stream starts with `retry: <retryMs>`. */
  retryMs?: number | undefined;
  /** Frames carry `id: <updated_at>`. */
  eventIds: boolean;
  /** A stream with no write for this long gets a keep-alive comment. */
  keepAliveIntervalMs: number;
  /** A stream whose socket takes no bytes for this long is closed. */
  slowSubscriberTimeoutMs: number;
  /** Streams are ended after this long, less up to `streamAgeJitter` of it; 0 for never. @defaultValue 0 */
  maxStreamAgeMs?: number;
  /** Fraction (0 to 1) of `maxStreamAgeMs` by which each stream's age is randomly shortened. @defaultValue 0 */
  streamAgeJitter?: number;
  /** Random numbers in [0, 1) for the age jitter. @defaultValue `Math.random` */
  random?: () => number;
  /** The clock of every deadline and latency sample. @defaultValue {@link systemClock} */
  clock?: Clock;
}

/** Fan-outs waiting for a stored time are forgotten beyond this many (the stream never delivered them). */
const MAX_UNSTAMPED = 10_000;
/** Encoded update frames kept for reuse (a few hundred bytes each); the cache starts over when full. */
const FRAME_CACHE_SIZE = 1024;

/**
 * The fan-out: environment -> open streams. A stream joins through
 * {@link Hub.subscribe}, which writes its first frames. Each update from the
 * broker is encoded once and the same buffer is written to every stream of
 * its environment, synchronously. One sweep timer sends keep-alives and
 * closes subscribers that stopped reading or reached their age.
 */
export class Hub {
  /** The counters the hub adds to (shared with the routes and metrics). */
  readonly stats: Stats;

  private readonly broker: Broker;
  private readonly retry: Frame | undefined;
  private readonly environments = new Map<string, Set<Subscriber>>();
  /** Fan-outs waiting for their stored time (see {@link Broker.onStored}), by environment. */
  private readonly unstamped = new Map<string, { updatedAt: number; writtenAt: number }>();
  private readonly frameOptions: { id: boolean };
  private readonly frames = new Map<number, Frame>();
  private readonly sweepRules: SweepRules;
  private readonly maxStreamAgeMs: number;
  private readonly streamAgeJitter: number;
  private readonly random: () => number;
  private readonly clock: Clock;
  private active = 0;
  private closingState = false;
  private stopSweeper: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(options: HubOptions) {
    this.broker = options.broker;
    this.stats = options.stats;
    this.retry =
      options.retryMs === undefined ? undefined : frameOf(encodeRetryFrame(options.retryMs));
    this.frameOptions = { id: options.eventIds };
    this.sweepRules = {
      keepAliveIntervalMs: options.keepAliveIntervalMs,
      slowSubscriberTimeoutMs: options.slowSubscriberTimeoutMs,
    };
    this.maxStreamAgeMs = options.maxStreamAgeMs ?? 0;
    this.streamAgeJitter = options.streamAgeJitter ?? 0;
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? systemClock;
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
        this.sweepRules.keepAliveIntervalMs,
        this.sweepRules.slowSubscriberTimeoutMs,
        this.maxStreamAgeMs * (1 - this.streamAgeJitter),
      ),
      () => this.sweep(this.clock()),
    );
  }

  /** Stops following the broker and the sweep. Open streams are left alone (see {@link Hub.drain}). */
  stop(): void {
    this.unsubscribe?.();
    this.stopSweeper?.();
    this.unsubscribe = undefined;
    this.stopSweeper = undefined;
  }

  /**
   * The bytes of one update event, both ways, each written unchanged to every
   * stream of its kind. Kept for the timestamps seen recently: in a reconnect
   * storm every new stream of an environment starts with the same initial
   * event, encoded once rather than once per stream.
   */
  private frameFor(updatedAt: number): Frame {
    let frame = this.frames.get(updatedAt);
    if (frame === undefined) {
      frame = frameOf(encodeUpdateFrame(updatedAt, this.frameOptions));
      if (this.frames.size >= FRAME_CACHE_SIZE) this.frames.clear();
      this.frames.set(updatedAt, frame);
    }
    return frame;
  }

  /**
   * Opens `stream` and adds it to `environment`: its head goes out with
   * `retry:` (if configured) and the initial event, the environment's latest
   * timestamp, unless the client already has it (`lastEventId`, from
   * `Last-Event-ID`). Reading the latest, writing it and joining the fan-out
   * happen in this one synchronous call, so no update can slip between them.
   * The subscriber is removed as soon as its socket closes. Returns
   * `undefined` if the client already left.
   */
  subscribe(
    stream: PendingStream,
    environment: string,
    lastEventId: number | undefined,
  ): Subscriber | undefined {
    const first: Buffer[] = [];
    if (this.retry !== undefined) first.push(pick(this.retry, stream.chunked));
    const latest = this.broker.latest(environment);
    // [spec] A reconnecting EventSource sends the last `id:` it saw as Last-Event-ID;
    // the initial event is skipped unless the latest is newer.
    const initial = latest !== undefined && latest > (lastEventId ?? 0);
    if (initial) first.push(pick(this.frameFor(latest), stream.chunked));
    const now = this.clock();
    const sink = stream.open(first, now);
    if (sink === undefined) return undefined;
    if (initial) this.stats.writesData++;
    const subscriber = new Subscriber(sink, environment, now, stream.chunked);
    if (this.maxStreamAgeMs > 0) {
      // A deadline per stream, checked by the sweep: no timer per subscriber.
      subscriber.ageAt = now + this.maxStreamAgeMs * (1 - this.random() * this.streamAgeJitter);
    }
    let set = this.environments.get(environment);
    if (set === undefined) {
      set = new Set();
      this.environments.set(environment, set);
    }
    set.add(subscriber);
    this.active++;
    this.stats.subscribersTotal++;
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
    const now = this.clock();
    let written = 0;
    for (const subscriber of set) {
      if (subscriber.blockedSince !== 0 || subscriber.ending !== undefined) {
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
    this.stats.writesData += written;
    this.stats.fanouts++;
    const writtenAt = this.clock();
    if (update.storedAt !== undefined) {
      this.stats.latency.record(writtenAt - update.storedAt);
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
    this.stats.latency.record(fanout.writtenAt - storedAt);
  };

  /** One sweep over every subscriber (see {@link sweepSubscribers}). */
  private sweep(now: number): void {
    sweepSubscribers(this.environments.values(), now, this.sweepRules, this.stats, this.remove);
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
          subscriber.ending = 'drained';
          // The drain destroys what did not close; the age sweep must not cut its flush.
          subscriber.graceAt = 0;
          endStream(subscriber);
        }
      }
    }
    const deadline = this.clock() + 1000;
    while (this.active > 0 && this.clock() < deadline) await delay(20);
    for (const set of this.environments.values()) for (const s of set) s.sink.destroy();
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

  private onDrain(subscriber: Subscriber): void {
    if (subscriber.ending !== undefined) return;
    subscriber.blockedSince = 0;
    if (subscriber.pendingAt === 0) return;
    const now = this.clock();
    const frame = this.frameFor(subscriber.pendingAt);
    subscriber.pendingAt = 0;
    subscriber.lastWriteAt = now;
    subscriber.lastWriteKind = 'data';
    this.stats.writesData++;
    if (!subscriber.sink.write(pick(frame, subscriber.chunked))) {
      subscriber.blockedSince = now;
    }
  }

  private onError(subscriber: Subscriber): void {
    if (subscriber.lastWriteKind === 'data') this.stats.writeErrorsData++;
    else this.stats.writeErrorsKeepalive++;
  }

  private readonly remove = (subscriber: Subscriber): void => {
    const set = this.environments.get(subscriber.environment);
    if (set === undefined || !set.delete(subscriber)) return;
    if (set.size === 0) this.environments.delete(subscriber.environment);
    this.active--;
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
