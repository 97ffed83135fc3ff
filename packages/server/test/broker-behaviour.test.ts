import { randomUUID } from 'node:crypto';
import { LATEST_TTL_MS } from '@flagsmith-rt/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerUnavailableError } from '../src/broker/broker.js';
import { type BrokerHarness, embeddedHarness } from './helpers/broker-harness.js';
import { jetstreamHarness } from './helpers/jetstream-harness.js';
import { ManualClock } from './helpers/manual-clock.js';
import { recordUpdates, strictlyIncreasing, timestampsOf } from './helpers/recorder.js';
import { waitFor } from './helpers/wait-for.js';

const harnesses: BrokerHarness[] = [embeddedHarness(), jetstreamHarness()];

/** A fresh environment key per test, so tests sharing one NATS never see each other. */
function newEnvironment(): string {
  return `env_${randomUUID().replaceAll('-', '')}`;
}

describe.each(harnesses)('$name broker', (harness) => {
  beforeAll(() => harness.setup());
  afterAll(() => harness.teardown());

  it('is ready after start and delivers a publish to its listeners', async () => {
    const broker = await harness.create();
    expect(broker.state).toBe('ready');
    const updates = recordUpdates(broker);
    const env = newEnvironment();
    expect(await broker.publish(env, 1735229888.76)).toBe('published');
    if (harness.synchronousDelivery) expect(updates).toHaveLength(1);
    await waitFor(() => updates.length === 1, 'the update reaches the listener');
    expect(updates[0]).toMatchObject({ environment: env, updatedAt: 1735229888.76 });
    // JetStream fans out a local publish on its ack, before it knows the message time (onStored).
    expect(['number', 'undefined']).toContain(typeof updates[0]?.storedAt);
    if (harness.synchronousDelivery) expect(updates[0]?.storedAt).toBeTypeOf('number');
    expect(broker.latest(env)).toBe(1735229888.76);
    expect(broker.latest(newEnvironment())).toBeUndefined();
  });

  it('delivers the same environment and timestamp once and answers duplicate', async () => {
    const broker = await harness.create();
    const updates = recordUpdates(broker);
    const env = newEnvironment();
    expect(await broker.publish(env, 100.5)).toBe('published');
    expect(await broker.publish(env, 100.5)).toBe('duplicate');
    const [a, b] = await Promise.all([broker.publish(env, 101), broker.publish(env, 101)]);
    expect([a, b].sort()).toEqual(['duplicate', 'published']);
    await waitFor(() => broker.latest(env) === 101, 'latest is 101');
    expect(timestampsOf(updates, env)).toEqual([100.5, 101]);
  });

  it('accepts an older timestamp as stale without fanning it out', async () => {
    const broker = await harness.create();
    const updates = recordUpdates(broker);
    const env = newEnvironment();
    expect(await broker.publish(env, 200)).toBe('published');
    expect(await broker.publish(env, 150)).toBe('stale');
    expect(await broker.publish(env, 300)).toBe('published');
    await waitFor(() => timestampsOf(updates, env).length === 2, 'two updates delivered');
    expect(timestampsOf(updates, env)).toEqual([200, 300]);
    expect(broker.latest(env)).toBe(300);
  });

  it('forgets the latest an hour after it was stored (by the injected clock)', async () => {
    const clock = new ManualClock();
    const broker = await harness.create({ now: clock.now });
    const env = newEnvironment();
    await broker.publish(env, 400);
    await waitFor(() => broker.latest(env) === 400, 'latest is 400');
    clock.advance(LATEST_TTL_MS - 60_000);
    expect(broker.latest(env)).toBe(400);
    clock.advance(120_000);
    expect(broker.latest(env)).toBeUndefined();
  });

  it('ends on the maximum of concurrent publishes in random order, delivering a strictly increasing sequence', async () => {
    const broker = await harness.create();
    const updates = recordUpdates(broker);
    const env = newEnvironment();
    const values = Array.from({ length: 200 }, (_, i) => 1_700_000_000 + i + 0.25);
    const shuffled = [...values].sort(() => Math.random() - 0.5);
    const outcomes = await Promise.all(shuffled.map((v) => broker.publish(env, v)));
    const max = values[values.length - 1] as number;
    expect(outcomes.filter((o) => o === 'published').length).toBeGreaterThanOrEqual(1);
    expect(outcomes.every((o) => o === 'published' || o === 'stale')).toBe(true);
    await waitFor(() => broker.latest(env) === max, 'latest reaches the maximum');
    await waitFor(() => timestampsOf(updates, env).at(-1) === max, 'the maximum is delivered');
    const delivered = timestampsOf(updates, env);
    expect(strictlyIncreasing(delivered)).toBe(true);
  });

  it('rejects publishes after close with BrokerUnavailableError', async () => {
    const broker = await harness.create();
    await broker.close();
    await broker.close();
    expect(broker.state).toBe('closed');
    await expect(broker.publish(newEnvironment(), 1)).rejects.toBeInstanceOf(
      BrokerUnavailableError,
    );
  });
});
