import { InvalidUpdateError, publishUpdate } from '@flagsmith-rt/server/jetstream';
import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { PublishRecord, UpdatePublisher } from './publisher.js';

/** Options of {@link DirectPublisher}. */
export interface DirectPublisherOptions {
  /** NATS URLs of every node (the client fails over between them). */
  servers: readonly string[];
  /** Hands out timestamps, so updates stay distinct from another publisher's in the same run. */
  clock: { nextTimestamp(): number };
  /**
   * Like the HTTP publisher's 2 s: each NATS request gives up after this long.
   * @defaultValue 2000
   */
  timeoutMs?: number;
}

/**
 * Publishes straight to NATS with `publishUpdate` (the `@flagsmith-rt/server/jetstream`
 * publisher a backend would use) and records every attempt like {@link Publisher}: an
 * acknowledged write (published, duplicate or stale) is status 200, a refusal while NATS
 * cannot take it (no leader, conflict retries exhausted) is 503, a timeout or lost
 * connection is 0. Delivery is then checked exactly as for `queue-change`.
 */
export class DirectPublisher implements UpdatePublisher {
  readonly records: PublishRecord[] = [];
  readonly sentAt = new Map<number, number>();
  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly options: DirectPublisherOptions,
  ) {}

  /** Connects to NATS; reconnects forever, as a long-running backend would. */
  static async connect(options: DirectPublisherOptions): Promise<DirectPublisher> {
    const nc = await connect({
      servers: [...options.servers],
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      noAsyncTraces: true,
    });
    return new DirectPublisher(nc, jetstream(nc, { timeout: options.timeoutMs ?? 2_000 }), options);
  }

  nextTimestamp(): number {
    return this.options.clock.nextTimestamp();
  }

  /** Publishes one update; `_target` is unused (the NATS connection picks its server). */
  async publish(_target: string, environment: string, updatedAt: number): Promise<PublishRecord> {
    const sentAt = Date.now();
    this.sentAt.set(updatedAt, sentAt);
    let status: number;
    try {
      await publishUpdate(this.js, environment, updatedAt);
      status = 200;
    } catch (error) {
      if (error instanceof InvalidUpdateError) throw error;
      status = isTimeout(error) ? 0 : 503;
    }
    const record = { environment, updatedAt, sentAt, doneAt: Date.now(), status };
    this.records.push(record);
    return record;
  }

  async publishUntilAcked(
    targets: readonly string[],
    environment: string,
    timeoutMs: number,
  ): Promise<PublishRecord | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const record = await this.publish(targets[0] ?? '', environment, this.nextTimestamp());
      if (record.status === 200) return record;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return undefined;
  }

  close(): void {
    void this.nc.close();
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && /timeout/i.test(`${error.name} ${error.message}`);
}
