import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectFlagsmith } from '../src/flagsmith.js';
import { type SseProcess, startSse } from './support/sse-server.js';
import { waitFor } from './support/wait.js';

let server: SseProcess;

beforeAll(async () => {
  server = await startSse();
});

afterAll(async () => {
  await server?.stop();
});

it('connectFlagsmith calls getFlags() of a Flagsmith SDK instance for each newer timestamp', async () => {
  // The bridge needs only what the official SDK exposes: getFlags() and environmentID.
  const calls: number[] = [];
  const flagsmith = {
    environmentID: 'bridge_env',
    getFlags: async () => {
      calls.push(Date.now());
    },
  };
  const updates: number[] = [];
  let state = '';
  const subscription = connectFlagsmith(flagsmith, {
    baseUrl: server.url,
    baseline: 1_735_229_000.5,
    onUpdate: (updatedAt) => updates.push(updatedAt),
    onStateChange: (change) => {
      state = change.state;
    },
  });
  await waitFor('open', () => state === 'open');
  await server.publish('bridge_env', 1_735_229_000.5); // equal to the baseline: no fetch
  await server.publish('bridge_env', 1_735_229_001.5);
  await waitFor('update', () => updates.length === 1);
  expect(updates).toEqual([1_735_229_001.5]);
  expect(calls).toHaveLength(1);
  expect(subscription.updatedAt).toBe(1_735_229_001.5);
  subscription.close();
  expect(subscription.state).toBe('closed');
});
