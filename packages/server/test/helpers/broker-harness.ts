import type { Broker } from '../../src/broker/broker.js';
import { EmbeddedBroker } from '../../src/broker/embedded.js';

/** Options every test broker accepts. */
export interface HarnessBrokerOptions {
  /** Injected clock, epoch milliseconds. */
  now?: () => number;
}

/** Starts brokers of one adapter for the shared behaviour suite. */
export interface BrokerHarness {
  /** Adapter name shown in the test title. */
  readonly name: string;
  /** Prepares shared resources (e.g. a nats-server); run once per suite. */
  setup(): Promise<void>;
  /** Creates and starts a broker; it is closed by {@link BrokerHarness.teardown}. */
  create(options?: HarnessBrokerOptions): Promise<Broker>;
  /** Closes every broker created and the shared resources. */
  teardown(): Promise<void>;
  /** Whether listeners run before `publish` resolves (embedded) or shortly after (jetstream). */
  readonly synchronousDelivery: boolean;
}

/** Harness of the in-process broker. */
export function embeddedHarness(): BrokerHarness {
  const brokers: Broker[] = [];
  return {
    name: 'embedded',
    synchronousDelivery: true,
    async setup() {},
    async create(options = {}) {
      const broker = new EmbeddedBroker(options);
      brokers.push(broker);
      await broker.start();
      return broker;
    },
    async teardown() {
      await Promise.all(brokers.splice(0).map((b) => b.close()));
    },
  };
}
