import { type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import { decodeUpdateMessage, STREAM_SETTINGS } from '@flagsmith-rt/protocol';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Broker } from '../../src/broker/broker.js';
import { JetStreamBroker } from '../../src/jetstream/broker.js';
import type { JetStreamBrokerOptions } from '../../src/jetstream/options.js';
import type { BrokerHarness } from './broker-harness.js';

/** Starts a JetStream broker against a nats-server, closing it with the given list. */
export async function startJetStreamBroker(
  servers: string[],
  brokers: Broker[],
  options: Partial<JetStreamBrokerOptions> = {},
): Promise<JetStreamBroker> {
  const broker = new JetStreamBroker({ servers, storage: 'memory', ...options });
  brokers.push(broker);
  await broker.start();
  return broker;
}

/** Harness of the JetStream broker: one real nats-server shared by the suite. */
export function jetstreamHarness(): BrokerHarness {
  const brokers: Broker[] = [];
  let nats: NatsServer | undefined;
  return {
    name: 'jetstream',
    synchronousDelivery: false,
    async setup() {
      nats = await startNatsServer();
    },
    async create(options = {}) {
      if (nats === undefined) throw new Error('setup() has not run');
      return startJetStreamBroker([nats.url], brokers, options);
    },
    async teardown() {
      await Promise.all(brokers.splice(0).map((b) => b.close()));
      await nats?.stop();
    },
  };
}

/** Follows what the stream stores on one subject, in stream order. */
export async function observeStream(url: string, subject: string) {
  const nc = await connect({ servers: url });
  const consumer = await jetstream(nc).consumers.get(STREAM_SETTINGS.name, {
    filter_subjects: subject,
    deliver_policy: DeliverPolicy.New,
  });
  const values: number[] = [];
  const messages = await consumer.consume({
    callback: (msg) => {
      const decoded = decodeUpdateMessage(msg.data);
      if (decoded.ok) values.push(decoded.value);
    },
  });
  return {
    values,
    stop: async () => {
      await messages.close();
      await nc.close();
    },
  };
}
