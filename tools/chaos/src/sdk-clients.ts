import { type Subscription, subscribe } from '@flagsmith-rt/client';
import { finalTimestamps } from './delivery.js';
import { isAck, type PublishRecord } from './publisher.js';

/** One subscriber built on `@flagsmith-rt/client`, as an application would use it. */
interface SdkSubscriber {
  environment: string;
  subscription: Subscription;
  states: number;
}

/**
 * A small set of real `@flagsmith-rt/client` subscriptions next to the raw ones: the same
 * checks apply to the product's own client (reconnect with backoff, `Last-Event-ID`, baseline).
 */
export class SdkClients {
  private readonly subscribers: SdkSubscriber[] = [];

  /** Subscribes `perEnvironment` clients to each environment through `baseUrl`. */
  add(baseUrl: string, environments: readonly string[], perEnvironment: number): void {
    for (let i = 0; i < perEnvironment; i++) {
      for (const environment of environments) {
        const entry: SdkSubscriber = { environment, subscription: undefined!, states: 0 };
        entry.subscription = subscribe({
          environmentKey: environment,
          baseUrl,
          backoff: { baseMs: 250, capMs: 2_000, resetAfterMs: 5_000 },
          onStateChange: () => {
            entry.states++;
          },
        });
        this.subscribers.push(entry);
      }
    }
  }

  /** How many hold an open stream. */
  get openCount(): number {
    return this.subscribers.filter((s) => s.subscription.state === 'open').length;
  }

  /** How many there are. */
  get size(): number {
    return this.subscribers.length;
  }

  /** Subscribers still behind the newest acknowledged timestamp of their environment. */
  behind(records: readonly PublishRecord[]): number {
    const final = finalTimestamps(records);
    return this.subscribers.filter(
      (s) => (s.subscription.updatedAt ?? 0) < (final.get(s.environment) ?? 0),
    ).length;
  }

  /** (acknowledged update, subscriber) pairs never reached, as in `deliveryReport`. */
  lost(records: readonly PublishRecord[]): number {
    let lost = 0;
    for (const s of this.subscribers) {
      const latest = s.subscription.updatedAt ?? 0;
      for (const r of records) {
        if (isAck(r.status) && r.environment === s.environment && r.updatedAt > latest) lost++;
      }
    }
    return lost;
  }

  /** Closes every subscription. */
  close(): void {
    for (const s of this.subscribers) s.subscription.close();
  }
}
