import { connect, type Socket } from 'node:net';
import { streamPath } from '@flagsmith-rt/protocol';
import { waitFor } from './wait.js';

/** Where a subscriber connects: one SSE instance or a balancer. */
export interface Target {
  /** Host (an IPv4 loopback address). */
  host: string;
  /** TCP port. */
  port: number;
}

/** Options of {@link SubscriberPool}. */
export interface SubscriberPoolOptions {
  /** Addresses tried in rotation: a subscriber whose connection ends moves to the next one. */
  targets: Target[];
  /**
   * Reconnect delay: full jitter over `min(capMs, baseMs * 2^failures)`.
   * @defaultValue `{ baseMs: 500, capMs: 5000 }`
   */
  backoff?: { baseMs: number; capMs: number };
  /** Called for every update received, with the receive time (epoch ms). */
  onUpdate?: (subscriber: RawSubscriber, updatedAt: number, receivedAt: number) => void;
  /** Source addresses spread over connections (each gives ~28,000 ephemeral ports). */
  localAddresses?: string[];
}

const DATA_PREFIX = 'data: ';
const ID_PREFIX = 'id: ';
const UPDATED_AT = /"updated_at":\s*([0-9.eE+-]+)/;

/**
 * One lean SSE subscriber on a raw socket: it keeps the newest timestamp seen and a few counters,
 * so a single process can hold thousands. It reconnects with `Last-Event-ID` like a real SDK.
 */
export class RawSubscriber {
  /** Environment key. */
  readonly environment: string;
  /** Position in its pool. */
  readonly index: number;
  /** Newest `updated_at` received, 0 for none. */
  latest = 0;
  /** Every distinct timestamp received (to find gaps while connected). */
  readonly received = new Set<number>();
  /** Each time `latest` moved: timestamp, then receive time (epoch ms), flattened. */
  readonly history: number[] = [];
  /** The last `id:` received, sent back on reconnect. */
  lastEventId: string | undefined;
  /** A `200` stream is being read. */
  connected = false;
  /** Streams opened with `200`. */
  opens = 0;
  /** Connection attempts that failed (refused, reset, non-200). */
  failures = 0;
  /** Streams that ended (closed by the server, reset). */
  drops = 0;
  /** Status of the last non-200 answer, 0 for none. */
  lastRejectStatus = 0;
  /** When the current or last stream opened, epoch ms. */
  openedAt = 0;
  /** When the last stream ended, epoch ms. */
  droppedAt = 0;
  /** Stopped reading on purpose: no reconnects. */
  stalled = false;
  /** Closed by the test: no reconnects. */
  closed = false;
  /** Index in the pool's target list of the current connection. */
  targetIndex: number;

  /** @internal */ socket: Socket | undefined;
  /** @internal */ attempt = 0;
  /** @internal */ timer: NodeJS.Timeout | undefined;

  constructor(environment: string, index: number, targetIndex: number) {
    this.environment = environment;
    this.index = index;
    this.targetIndex = targetIndex;
  }
}

/** Thousands of {@link RawSubscriber}s driven from one process. */
export class SubscriberPool {
  /** Every subscriber, in creation order. */
  readonly subscribers: RawSubscriber[] = [];
  private readonly options: SubscriberPoolOptions;
  private readonly backoff: { baseMs: number; capMs: number };
  private next = 0;

  constructor(options: SubscriberPoolOptions) {
    this.options = options;
    this.backoff = options.backoff ?? { baseMs: 500, capMs: 5000 };
  }

  /** Targets, replaceable (e.g. after an instance moved). */
  get targets(): Target[] {
    return this.options.targets;
  }

  /** Creates `count` subscribers per environment, spread over the targets, and connects them all at once. */
  add(environments: readonly string[], countPerEnvironment: number): RawSubscriber[] {
    const added: RawSubscriber[] = [];
    for (let i = 0; i < countPerEnvironment; i++) {
      for (const environment of environments) {
        const index = this.subscribers.length;
        const subscriber = new RawSubscriber(
          environment,
          index,
          this.next++ % this.options.targets.length,
        );
        this.subscribers.push(subscriber);
        added.push(subscriber);
        this.open(subscriber);
      }
    }
    return added;
  }

  /** Subscribers that currently read a `200` stream. */
  get connectedCount(): number {
    let n = 0;
    for (const s of this.subscribers) if (s.connected) n++;
    return n;
  }

  /** Resolves (with the time it took) once every subscriber reads a `200` stream. */
  waitAllConnected(timeoutMs = 60_000): Promise<number> {
    return waitFor(
      'subscribers to connect',
      () => this.connectedCount === this.subscribers.length,
      { timeoutMs, describe: () => `${this.connectedCount}/${this.subscribers.length}` },
    );
  }

  /** Stops reading on these subscribers' sockets (the server sees a stalled client). */
  stall(subscribers: readonly RawSubscriber[]): void {
    for (const s of subscribers) {
      s.stalled = true;
      s.socket?.pause();
    }
  }

  /**
   * Reads again on stalled sockets and reports which of them the server had closed: those
   * whose stream ends within `graceMs` after their buffered bytes are read.
   */
  async resumeStalled(graceMs: number): Promise<{ dropped: number; alive: number }> {
    const stalled = this.subscribers.filter((s) => s.stalled);
    for (const s of stalled) s.socket?.resume();
    await new Promise((resolve) => setTimeout(resolve, graceMs));
    let dropped = 0;
    for (const s of stalled) if (!s.connected) dropped++;
    return { dropped, alive: stalled.length - dropped };
  }

  /** Closes every socket and cancels reconnects. */
  close(): void {
    for (const s of this.subscribers) {
      s.closed = true;
      clearTimeout(s.timer);
      s.socket?.destroy();
    }
  }

  private open(subscriber: RawSubscriber): void {
    if (subscriber.closed || subscriber.stalled) return;
    const target = this.options.targets[subscriber.targetIndex % this.options.targets.length]!;
    const locals = this.options.localAddresses;
    const socket = connect({
      host: target.host,
      port: target.port,
      ...(locals && locals.length > 0
        ? { localAddress: locals[subscriber.index % locals.length] }
        : {}),
    });
    subscriber.socket = socket;
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    let head = '';
    let body = '';
    let status = 0;
    const lastId = subscriber.lastEventId;
    socket.write(
      `GET ${streamPath(subscriber.environment)} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\n` +
        'Accept: text/event-stream\r\nCache-Control: no-cache\r\n' +
        (lastId === undefined ? '' : `Last-Event-ID: ${lastId}\r\n`) +
        '\r\n',
    );
    socket.on('data', (chunk: string) => {
      if (status === 0) {
        head += chunk;
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        status = Number(head.slice(9, 12));
        body = head.slice(end + 4);
        head = '';
        if (status !== 200) {
          subscriber.lastRejectStatus = status;
          socket.destroy();
          return;
        }
        subscriber.connected = true;
        subscriber.opens++;
        subscriber.attempt = 0;
        subscriber.openedAt = Date.now();
        if (subscriber.stalled) socket.pause();
      } else {
        body += chunk;
      }
      body = this.consume(subscriber, body);
    });
    socket.on('error', () => {
      // the close handler below decides what happens next
    });
    socket.on('close', () => {
      if (subscriber.socket !== socket) return;
      subscriber.socket = undefined;
      if (subscriber.connected) {
        subscriber.connected = false;
        subscriber.drops++;
        subscriber.droppedAt = Date.now();
      } else {
        subscriber.failures++;
        subscriber.attempt++;
      }
      if (subscriber.closed || subscriber.stalled) return;
      // Rotate: like a balancer, the next connection goes elsewhere.
      subscriber.targetIndex = (subscriber.targetIndex + 1) % this.options.targets.length;
      const ceiling = Math.min(
        this.backoff.capMs,
        this.backoff.baseMs * 2 ** Math.min(subscriber.attempt, 16),
      );
      subscriber.timer = setTimeout(() => this.open(subscriber), Math.random() * ceiling);
    });
  }

  /** Reads complete lines; returns the unfinished rest. */
  private consume(subscriber: RawSubscriber, text: string): string {
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      if (end < 0) break;
      const line = text.slice(start, end);
      start = end + 1;
      if (line.startsWith(DATA_PREFIX)) {
        const match = UPDATED_AT.exec(line);
        if (match) {
          const updatedAt = Number(match[1]);
          subscriber.received.add(updatedAt);
          const now = Date.now();
          if (updatedAt > subscriber.latest) {
            subscriber.latest = updatedAt;
            subscriber.history.push(updatedAt, now);
          }
          this.options.onUpdate?.(subscriber, updatedAt, now);
        }
      } else if (line.startsWith(ID_PREFIX)) {
        subscriber.lastEventId = line.slice(ID_PREFIX.length).trim();
      }
    }
    return start === 0 ? text : text.slice(start);
  }
}
