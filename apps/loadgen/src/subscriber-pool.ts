import { connect, type Socket } from 'node:net';
import { wallClockMs } from './clock.js';
import { addSubscriber, emptyGaps, type GapSummary, MAX_GAP_SLOTS } from './gaps.js';
import { ChunkedDecoder, parseResponseHead } from './http-response.js';
import {
  type CollectedReport,
  emptyCounts,
  type SubscribeCommand,
  type SubscriberCounts,
  type ValueReceipts,
} from './ipc.js';
import { nextInstance, reconnectDelay } from './reconnect.js';
import { SseLineScanner } from './sse-scanner.js';
import { type Endpoint, parseEndpoint, sourceFor } from './target.js';

/** At most this many distinct values are tracked; more are counted as untracked. */
const MAX_TRACKED_VALUES = 256;
const RAMP_TICK_MS = 10;
const EMPTY = Buffer.alloc(0);
/** Source-port generations a reconnecting subscriber cycles through (see `sourceFor`). */
const SOURCE_GENERATIONS = 50;

interface Tracked {
  times: Float64Array;
  n: number;
  /** Order of first receipt in this worker: the bit of this value in each subscriber's mask. */
  slot: number;
}

/**
 * One subscriber: a raw socket that sends a GET, waits for the response head,
 * then scans the body for `data:` lines. A few fields each, so one process can
 * hold ~19,000 of them without becoming the bottleneck. With a reconnect
 * policy the same subscriber (and its newest value) lives on over several sockets.
 */
class Subscriber {
  head: Buffer | undefined = EMPTY;
  decoder: ChunkedDecoder | undefined;
  scanner: SseLineScanner;
  last = Number.NEGATIVE_INFINITY;
  cause: string | undefined;
  established = false;
  socket: Socket | undefined;
  /** Sockets opened so far; the first is the initial attempt. */
  connections = 0;
  /** Whether this subscriber has counted towards the end of the initial ramp. */
  settled = false;
  /** The client's backoff attempt counter. */
  attempt = 0;
  /** When the current stream was established (wall-clock ms). */
  openedAt = 0;

  constructor(
    readonly pool: SubscriberPool,
    /** Index within the worker. */
    readonly j: number,
    /** Index of the URL it uses now. */
    public url: number,
  ) {
    this.scanner = new SseLineScanner((value) => pool.receive(this, value));
  }
}

/**
 * Opens and holds a worker's subscribers, ramping at the requested rate, and
 * records the wall-clock time at which each subscriber first sees each value.
 */
export class SubscriberPool {
  readonly counts: SubscriberCounts = emptyCounts();
  lastConnectedAt: number | undefined;
  /** When the first connection was attempted (wall-clock ms). */
  openedAt: number | undefined;
  /** Update receipts recorded so far. */
  received = 0;
  /** Time of the current read, set once per socket read. */
  now = 0;
  /** Subscribers whose newest value is at least {@link SubscriberPool.watch}'s. */
  reached = 0;
  /** When a stream was last established again after a reconnect (wall-clock ms). */
  lastReconnectedAt: number | undefined;
  private watched = Number.POSITIVE_INFINITY;
  private measuring: boolean;
  private readonly subscribers: Subscriber[] = [];
  /** Per subscriber, one bit per tracked value slot below {@link MAX_GAP_SLOTS}: received or not. */
  private readonly receivedSlots: Uint32Array;
  private closing = false;
  private readonly endpoints: Endpoint[];
  private readonly requests: Buffer[];
  private readonly tracked = new Map<number, Tracked>();
  private untracked = 0;
  private readonly sockets = new Set<Socket>();
  private rampTimer: NodeJS.Timeout | undefined;
  private readonly readBuffer = Buffer.allocUnsafe(64 * 1024);
  private settledCount = 0;
  private readonly retryTimers = new Map<Subscriber, NodeJS.Timeout>();

  constructor(
    private readonly command: SubscribeCommand,
    private readonly onSettled: () => void,
  ) {
    this.measuring = command.measureFromStart ?? false;
    this.receivedSlots = new Uint32Array(command.count);
    this.endpoints = command.urls.map(parseEndpoint);
    this.requests = this.endpoints.map((e) =>
      Buffer.from(
        `GET ${e.path} HTTP/1.1\r\nHost: ${e.authority}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: flagsmith-rt-loadgen\r\n\r\n`,
        'latin1',
      ),
    );
  }

  /** Starts opening subscribers. */
  start(): void {
    const { count, ratePerSecond } = this.command;
    this.openedAt = wallClockMs();
    if (count === 0) {
      this.onSettled();
      return;
    }
    if (ratePerSecond <= 0) {
      for (let j = 0; j < count; j++) this.open(j);
      return;
    }
    const started = performance.now();
    this.rampTimer = setInterval(() => {
      const due = Math.min(
        count,
        Math.ceil(((performance.now() - started) * ratePerSecond) / 1000),
      );
      while (this.counts.attempted < due) this.open(this.counts.attempted);
      if (this.counts.attempted >= count) clearInterval(this.rampTimer);
    }, RAMP_TICK_MS);
  }

  /** From now on, received events are updates rather than initial events. */
  measure(): void {
    this.measuring = true;
  }

  /** From now on, count subscribers that have `value` or a newer one in {@link SubscriberPool.reached}. */
  watch(value: number): void {
    this.watched = value;
    this.reached = 0;
    for (const sub of this.subscribers) if (sub.last >= value) this.reached++;
  }

  /** Receipts and counters so far; with `published`, also each subscriber's gaps over those values. */
  collect(published?: readonly number[]): Omit<CollectedReport, 'cpuMs'> {
    const values: ValueReceipts[] = [];
    for (const [value, t] of this.tracked) values.push({ value, times: t.times.slice(0, t.n) });
    return {
      type: 'collected',
      counts: this.counts,
      values,
      untracked: this.untracked,
      gaps: published ? this.gaps(published) : undefined,
    };
  }

  /** Which of the `published` values each connected subscriber received, summed up. */
  private gaps(published: readonly number[]): GapSummary {
    const summary = emptyGaps(published.length);
    // A value no subscriber here received has no slot: missed by all, unless tracking overflowed.
    const slots = published.map((v) => this.tracked.get(v)?.slot ?? (this.untracked > 0 ? -1 : -2));
    const received: Array<boolean | undefined> = new Array(published.length);
    for (const sub of this.subscribers) {
      if (!sub?.established) continue;
      const mask = this.receivedSlots[sub.j]!;
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[i]!;
        received[i] =
          slot === -2
            ? false
            : slot === -1 || slot >= MAX_GAP_SLOTS
              ? undefined
              : ((mask >>> slot) & 1) === 1;
      }
      addSubscriber(summary, received);
    }
    return summary;
  }

  /** Destroys every socket. */
  close(): void {
    this.closing = true;
    clearInterval(this.rampTimer);
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    for (const sub of this.subscribers) if (sub) clearTimeout(this.retryTimers.get(sub));
  }

  /** Records one `data:` value of a subscriber. */
  receive(sub: Subscriber, value: number): void {
    if (Number.isNaN(value)) {
      this.counts.unparsable++;
      return;
    }
    if (value <= sub.last) {
      this.counts.duplicate++;
      return;
    }
    if (value >= this.watched && sub.last < this.watched) this.reached++;
    sub.last = value;
    if (!this.measuring) {
      this.counts.initial++;
      return;
    }
    let t = this.tracked.get(value);
    if (t === undefined) {
      if (this.tracked.size >= MAX_TRACKED_VALUES) {
        this.untracked++;
        return;
      }
      t = { times: new Float64Array(this.command.count), n: 0, slot: this.tracked.size };
      this.tracked.set(value, t);
    }
    if (t.n < t.times.length) {
      t.times[t.n++] = this.now;
      this.received++;
    }
    if (t.slot < MAX_GAP_SLOTS) this.receivedSlots[sub.j]! |= 1 << t.slot;
  }

  private open(j: number): void {
    this.counts.attempted++;
    const sub = new Subscriber(this, j, (this.command.offset + j) % this.endpoints.length);
    this.subscribers[j] = sub;
    this.connect(sub);
  }

  /** Opens a socket for `sub` (its first, or a reconnect). */
  private connect(sub: Subscriber): void {
    const endpoint = this.endpoints[sub.url]!;
    const request = this.requests[sub.url]!;
    // A reconnect binds the next generation of source ports, clear of the last socket's.
    const source =
      this.command.sourceNetwork === undefined
        ? {}
        : sourceFor(
            this.command.sourceNetwork,
            sub.j + this.command.count * (sub.connections % SOURCE_GENERATIONS),
          );
    sub.connections++;
    sub.head = EMPTY;
    sub.decoder = undefined;
    sub.cause = undefined;
    if (sub.connections > 1) sub.scanner = new SseLineScanner((value) => this.receive(sub, value));
    const socket = connect({
      host: endpoint.host,
      port: endpoint.port,
      ...source,
      // Reads land in one buffer shared by all sockets of this worker (consumed synchronously):
      // no Buffer allocation and no stream 'data' machinery per read.
      onread: {
        buffer: this.readBuffer,
        callback: (bytes: number, buf: Uint8Array) => {
          if (sub.socket === socket) this.onData(sub, (buf as Buffer).subarray(0, bytes));
          return true;
        },
      },
    });
    sub.socket = socket;
    this.sockets.add(socket);
    socket.setTimeout(this.command.connectTimeoutMs);
    socket.once('connect', () => socket.write(request));
    socket.on('timeout', () => {
      sub.cause = 'timeout';
      socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      sub.cause = error.code ?? error.message;
    });
    socket.on('close', () => this.onClose(sub, socket));
  }

  private onData(sub: Subscriber, chunk: Buffer): void {
    this.now = wallClockMs();
    if (sub.head !== undefined) {
      const buf = sub.head.length === 0 ? chunk : Buffer.concat([sub.head, chunk]);
      const head = parseResponseHead(buf);
      if (head === undefined) {
        sub.head = Buffer.from(buf);
        return;
      }
      sub.head = undefined;
      if (head === null || head.status !== 200) {
        sub.cause = head === null ? 'bad_response' : `http_${head.status}`;
        sub.socket!.destroy();
        return;
      }
      sub.established = true;
      sub.openedAt = this.now;
      sub.socket!.setTimeout(0);
      this.counts.connected++;
      this.lastConnectedAt = this.now;
      if (sub.connections > 1) {
        this.counts.reconnects++;
        this.lastReconnectedAt = this.now;
      }
      if (head.chunked) sub.decoder = new ChunkedDecoder((b, s, e) => sub.scanner.push(b, s, e));
      this.settle(sub);
      if (head.length < buf.length) this.body(sub, buf, head.length);
      return;
    }
    this.body(sub, chunk, 0);
  }

  private body(sub: Subscriber, buf: Buffer, start: number): void {
    if (sub.decoder !== undefined) sub.decoder.push(buf, start, buf.length);
    else sub.scanner.push(buf, start, buf.length);
  }

  private onClose(sub: Subscriber, socket: Socket): void {
    this.sockets.delete(socket);
    if (this.closing) return;
    const cause = sub.cause ?? (sub.established ? 'closed_by_server' : 'closed_before_response');
    const wasOpenMs = sub.established ? wallClockMs() - sub.openedAt : 0;
    if (sub.established) {
      sub.established = false;
      this.counts.connected--;
      this.counts.drops[cause] = (this.counts.drops[cause] ?? 0) + 1;
    } else if (sub.connections === 1) {
      this.counts.failures[cause] = (this.counts.failures[cause] ?? 0) + 1;
    } else {
      this.counts.reconnectFailures[cause] = (this.counts.reconnectFailures[cause] ?? 0) + 1;
    }
    this.settle(sub);
    const policy = this.command.reconnect;
    if (policy === undefined) return;
    // As @flagsmith-rt/client: a healthy connection resets the backoff, then full jitter.
    if (wasOpenMs >= policy.resetAfterMs) sub.attempt = 0;
    const delay = reconnectDelay(sub.attempt++, policy);
    sub.url = nextInstance(sub.url, policy.instances);
    const timer = setTimeout(() => {
      this.retryTimers.delete(sub);
      if (!this.closing) this.connect(sub);
    }, delay);
    this.retryTimers.set(sub, timer);
  }

  /** Counts `sub` towards the end of the initial ramp, once: connected or failed. */
  private settle(sub: Subscriber): void {
    if (sub.settled) return;
    sub.settled = true;
    this.settledCount++;
    if (this.settledCount === this.command.count) this.onSettled();
  }
}
