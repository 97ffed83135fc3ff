import type { Broker, BrokerUpdate } from '../../src/broker/broker.js';

/** Records every update a broker delivers to its listeners. */
export function recordUpdates(broker: Broker): BrokerUpdate[] {
  const updates: BrokerUpdate[] = [];
  broker.onUpdate((update) => updates.push(update));
  return updates;
}

/** The timestamps delivered for one environment, in delivery order. */
export function timestampsOf(updates: readonly BrokerUpdate[], environment: string): number[] {
  return updates.filter((u) => u.environment === environment).map((u) => u.updatedAt);
}

/** Whether each value is strictly greater than the one before. */
export function strictlyIncreasing(values: readonly number[]): boolean {
  return values.every((value, i) => i === 0 || value > (values[i - 1] as number));
}
