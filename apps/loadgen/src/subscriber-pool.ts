import { connect, type Socket } from 'node:net';
import { wallClockMs } from './clock.js';
import { ChunkedDecoder, parseResponseHead } from './http-response.js';
import {
  type CollectedReport,
  emptyCounts,
  type SubscribeCommand,
  type SubscriberCounts,
  type ValueReceipts,
} from './ipc.js';
import { SseLineScanner } from './sse-scanner.js';
import { type Endpoint, parseEndpoint, sourceFor } from './target.js';

/** At most this many distinct values are tracked; more are counted as untracked. */
const MAX_TRACKED_VALUES = 256;
const RAMP_TICK_MS = 10;

interface Tracked {
  times: Float64Array;
  n: number;
}

/**
 * One subscriber: a raw socket that sends a GET, waits for the response head,
 * then scans the body for `data:` lines. A few fields each, so one process can
 * hold ~19,000 of them without becoming the bottleneck.
 */
class Subscriber {
  head: Buffer | undefined = Buffer.alloc(0);
  decoder: ChunkedDecoder | undefined;
  scanner: SseLineScanner;
  last = Number.NEGATIVE_INFINITY;
  cause: string | undefined;
  established = false;

  constructor(
    readonly pool: SubscriberPool,
    readonly socket: Socket,
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
  private measuring = false;
  private closing = false;
  private readonly endpoints: Endpoint[];
  private readonly requests: Buffer[];
  private readonly tracked = new Map<number, Tracked>();
  private untracked = 0;
  private readonly sockets = new Set<Socket>();
  private rampTimer: NodeJS.Timeout | undefined;
  private readonly readBuffer = Buffer.allocUnsafe(64 * 1024);
  private settledCount = 0;

  constructor(
    private readonly command: SubscribeCommand,
    private readonly onSettled: () => void,
  ) {
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

  /** Receipts and counters so far. */
  collect(): Omit<CollectedReport, 'cpuMs'> {
    const values: ValueReceipts[] = [];
    for (const [value, t] of this.tracked) values.push({ value, times: t.times.slice(0, t.n) });
    return { type: 'collected', counts: this.counts, values, untracked: this.untracked };
  }

  /** Destroys every socket. */
  close(): void {
    this.closing = true;
    clearInterval(this.rampTimer);
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
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
      t = { times: new Float64Array(this.command.count), n: 0 };
      this.tracked.set(value, t);
    }
    if (t.n < t.times.length) {
      t.times[t.n++] = this.now;
      this.received++;
    }
  }

  private open(j: number): void {
    this.counts.attempted++;
    const k = (this.command.offset + j) % this.endpoints.length;
    const endpoint = this.endpoints[k]!;
    const request = this.requests[k]!;
    let sub: Subscriber | undefined;
    const socket = connect({
      host: endpoint.host,
      port: endpoint.port,
      ...(this.command.sourceNetwork === undefined ? {} : sourceFor(this.command.sourceNetwork, j)),
      // Reads land in one buffer shared by all sockets of this worker (consumed synchronously):
      // no Buffer allocation and no stream 'data' machinery per read.
      onread: {
        buffer: this.readBuffer,
        callback: (bytes: number, buf: Uint8Array) => {
          if (sub) this.onData(sub, (buf as Buffer).subarray(0, bytes));
          return true;
        },
      },
    });
    sub = new Subscriber(this, socket);
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
    socket.on('close', () => this.onClose(sub));
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
        sub.socket.destroy();
        return;
      }
      sub.established = true;
      sub.socket.setTimeout(0);
      this.counts.connected++;
      this.lastConnectedAt = this.now;
      if (head.chunked) sub.decoder = new ChunkedDecoder((b, s, e) => sub.scanner.push(b, s, e));
      this.settle();
      if (head.length < buf.length) this.body(sub, buf, head.length);
      return;
    }
    this.body(sub, chunk, 0);
  }

  private body(sub: Subscriber, buf: Buffer, start: number): void {
    if (sub.decoder !== undefined) sub.decoder.push(buf, start, buf.length);
    else sub.scanner.push(buf, start, buf.length);
  }

  private onClose(sub: Subscriber): void {
    this.sockets.delete(sub.socket);
    if (this.closing) return;
    const cause = sub.cause ?? (sub.established ? 'closed_by_server' : 'closed_before_response');
    if (sub.established) {
      this.counts.connected--;
      this.counts.drops[cause] = (this.counts.drops[cause] ?? 0) + 1;
    } else {
      this.counts.failures[cause] = (this.counts.failures[cause] ?? 0) + 1;
      this.settle();
    }
  }

  private settle(): void {
    this.settledCount++;
    if (this.settledCount === this.command.count) this.onSettled();
  }
}
