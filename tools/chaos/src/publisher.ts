import { Agent, request } from 'node:http';
import { formatTimestamp, queueChangePath } from '@flagsmith-rt/protocol';

/** One publish attempt. */
export interface PublishRecord {
  /** Environment key. */
  environment: string;
  /** The timestamp sent (epoch seconds). */
  updatedAt: number;
  /** When the request was sent, epoch ms. */
  sentAt: number;
  /** When the answer (or the failure) came, epoch ms. */
  doneAt: number;
  /** HTTP status; 0 when there was no answer (refused, reset, timeout). */
  status: number;
}

/**
 * Anything that publishes updates and records every attempt: {@link Publisher} over HTTP,
 * `DirectPublisher` straight to NATS. Scenarios and the delivery checks take either.
 */
export interface UpdatePublisher {
  /** Every attempt, in completion order. */
  readonly records: PublishRecord[];
  /** When each timestamp was sent (epoch ms), for delivery latency. */
  readonly sentAt: Map<number, number>;
  /** A fresh timestamp, strictly greater than every one handed out before. */
  nextTimestamp(): number;
  /** Publishes one update through `target` (a base URL; ignored by direct publishers). */
  publish(target: string, environment: string, updatedAt: number): Promise<PublishRecord>;
  /** Publishes until one is acknowledged or `timeoutMs` passed. */
  publishUntilAcked(
    targets: readonly string[],
    environment: string,
    timeoutMs: number,
  ): Promise<PublishRecord | undefined>;
  /** Releases connections. */
  close(): void;
}

/** Options of {@link Publisher}. */
export interface PublisherOptions {
  /** The publish token. */
  token: string;
  /**
   * Like the Flagsmith task processor: give up after this long.
   * @defaultValue 2000
   */
  timeoutMs?: number;
  /**
   * Keep-alive connections per target.
   * @defaultValue 16
   */
  maxSockets?: number;
}

/**
 * Publishes like the Flagsmith task processor (POST queue-change, 2 s timeout) and keeps every
 * attempt, so a scenario knows exactly which updates the service acknowledged.
 */
export class Publisher implements UpdatePublisher {
  /** Every attempt, in completion order. */
  readonly records: PublishRecord[] = [];
  /** When each timestamp was sent (epoch ms), for delivery latency. */
  readonly sentAt = new Map<number, number>();
  private readonly agent: Agent;
  private readonly token: string;
  private readonly timeoutMs: number;
  private lastTimestampMs = 0;

  constructor(options: PublisherOptions) {
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 16 });
  }

  /**
   * A fresh timestamp (epoch seconds, millisecond precision), strictly greater than every one
   * handed out before, so each publish is a distinct update.
   */
  nextTimestamp(): number {
    this.lastTimestampMs = Math.max(this.lastTimestampMs + 1, Date.now());
    return this.lastTimestampMs / 1000;
  }

  /** POSTs one update to `baseUrl`; resolves with the record (never rejects). */
  publish(baseUrl: string, environment: string, updatedAt: number): Promise<PublishRecord> {
    const body = `{"updated_at": ${formatTimestamp(updatedAt)}}`;
    const url = new URL(queueChangePath(environment), baseUrl);
    const sentAt = Date.now();
    this.sentAt.set(updatedAt, sentAt);
    return new Promise((resolvePublish) => {
      let settled = false;
      const finish = (status: number): void => {
        if (settled) return;
        settled = true;
        const record = { environment, updatedAt, sentAt, doneAt: Date.now(), status };
        this.records.push(record);
        resolvePublish(record);
      };
      const req = request(
        url,
        {
          method: 'POST',
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: {
            Authorization: `Token ${this.token}`,
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => finish(res.statusCode ?? 0));
          res.on('error', () => finish(0));
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => finish(0));
      req.end(body);
    });
  }

  /**
   * Publishes until one is acknowledged (2xx) or `timeoutMs` passed, trying the URLs in turn;
   * the final update of a scenario goes through this.
   */
  async publishUntilAcked(
    baseUrls: readonly string[],
    environment: string,
    timeoutMs: number,
  ): Promise<PublishRecord | undefined> {
    const deadline = Date.now() + timeoutMs;
    let attempt = 0;
    while (Date.now() < deadline) {
      const record = await this.publish(
        baseUrls[attempt++ % baseUrls.length]!,
        environment,
        this.nextTimestamp(),
      );
      if (isAck(record.status)) return record;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return undefined;
  }

  /** Acknowledged attempts. */
  get acknowledged(): PublishRecord[] {
    return this.records.filter((r) => isAck(r.status));
  }

  /** Closes the keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}

/** A 2xx: the service promised delivery. */
export function isAck(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * Publishes `rate` updates per second, round-robin over environments and base URLs, until
 * stopped. Requests overlap (each is awaited on its own), like independent publishers.
 */
export class SteadyPublishing {
  private timer: NodeJS.Timeout | undefined;
  private readonly inflight = new Set<Promise<PublishRecord>>();
  private tick = 0;

  constructor(
    private readonly publisher: UpdatePublisher,
    private readonly baseUrls: () => readonly string[],
    private readonly environments: readonly string[],
    private readonly rate: number,
  ) {}

  /** Starts publishing. */
  start(): void {
    const intervalMs = 1000 / this.rate;
    const startedAt = Date.now();
    const step = (): void => {
      // Catch up on the schedule so the rate holds even when timers fire late.
      const due = Math.floor((Date.now() - startedAt) / intervalMs) + 1;
      while (this.tick < due) {
        const urls = this.baseUrls();
        const environment = this.environments[this.tick % this.environments.length]!;
        const url = urls[this.tick % urls.length]!;
        this.tick++;
        const pending = this.publisher.publish(url, environment, this.publisher.nextTimestamp());
        this.inflight.add(pending);
        void pending.then(() => this.inflight.delete(pending));
      }
      this.timer = setTimeout(step, Math.max(1, intervalMs));
    };
    step();
  }

  /** Stops and waits for the requests in flight. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all(this.inflight);
  }
}
