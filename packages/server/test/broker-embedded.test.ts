import { describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../src/broker/embedded.js';
import type { BrokerLogger } from '../src/logger.js';

describe('EmbeddedBroker', () => {
  it('warns at start that it shares nothing with other instances', async () => {
    const warnings: string[] = [];
    const ignore = () => {};
    const logger: BrokerLogger = {
      debug: ignore,
      info: ignore,
      error: ignore,
      warn: (_fields, message) => warnings.push(message ?? ''),
    };
    const broker = new EmbeddedBroker({ logger });
    const states: string[] = [];
    broker.onStateChange((state) => states.push(state));
    expect(broker.state).toBe('starting');
    await broker.start();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not shared with other instances/);
    await broker.close();
    expect(states).toEqual(['ready', 'closed']);
  });

  it('keeps delivering to other listeners when one throws', async () => {
    const broker = new EmbeddedBroker();
    await broker.start();
    const seen: number[] = [];
    broker.onUpdate(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = broker.onUpdate((u) => seen.push(u.updatedAt));
    await broker.publish('env', 1);
    unsubscribe();
    await broker.publish('env', 2);
    expect(seen).toEqual([1]);
    await broker.close();
  });
});
