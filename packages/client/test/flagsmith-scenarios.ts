// The Flagsmith bridge with the real `flagsmith` SDK, written once and registered per runtime
// (Node, Chromium): a real apps/sse for the stream, a fake Flagsmith API for the flags.
import {
  FAKE_FEATURE_NAME,
  type FlagsmithApiFake,
  startFlagsmithApiFake,
} from '@flagsmith-rt/flagsmith-api-fake';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeConfig, BridgeSnapshot } from './harness/flagsmith-bridge.js';
import { type SseProcess, startSse } from './support/sse-server.js';
import { waitFor } from './support/wait.js';

/** How the tests drive bridges living in some runtime. */
export interface BridgeRuntime {
  start(config: BridgeConfig): Promise<number>;
  snapshot(id: number): Promise<BridgeSnapshot>;
  close(id: number): Promise<void>;
}

let keyCounter = 0;
const newKey = (): string => `bridge_${Date.now().toString(36)}_${keyCounter++}`;

/** Registers the bridge tests against the runtime returned by `runtime()`. */
export function describeFlagsmithBridge(name: string, runtime: () => BridgeRuntime): void {
  describe(`connectFlagsmith with the real flagsmith SDK (${name})`, () => {
    let sse: SseProcess;
    const apis: FlagsmithApiFake[] = [];
    const api = async (updatedAt: number): Promise<FlagsmithApiFake> => {
      const fake = await startFlagsmithApiFake({ environmentKey: newKey(), updatedAt });
      apis.push(fake);
      return fake;
    };
    const until = (id: number, what: string, check: (s: BridgeSnapshot) => boolean) =>
      waitFor(what, async () => {
        const s = await runtime().snapshot(id);
        return check(s) ? s : undefined;
      });

    beforeAll(async () => {
      sse = await startSse();
    });

    afterAll(async () => {
      await Promise.all(apis.map((fake) => fake.close()));
      await sse?.stop();
    });

    it('refetches the SDK flags on a newer timestamp only, with the key and baseline read from the SDK', async () => {
      const t0 = 1_735_229_888.76;
      const t1 = 1_735_229_999.5;
      const fake = await api(t0);
      const id = await runtime().start({
        api: fake.url,
        environmentKey: fake.environmentKey,
        baseUrl: sse.url,
        feature: FAKE_FEATURE_NAME,
      });
      let s = await until(id, 'the stream to open', (s) => s.state === 'open' || !!s.thrown);
      expect(s.thrown).toBeUndefined();
      // init() fetched the flags once; its X-Flagsmith-Document-Updated-At is the baseline.
      expect(s.value).toBe(String(t0));
      expect(s.updatedAt).toBe(t0);
      expect(fake.fetches('flags')).toBe(1);

      await sse.publish(fake.environmentKey, t0); // equal to the baseline: no fetch
      fake.setUpdatedAt(t1);
      await sse.publish(fake.environmentKey, t1);
      s = await until(id, 'the newer update', (s) => s.updates.length > 0);
      expect(s.updates).toEqual([t1]);
      expect(s.value).toBe(String(t1));
      expect(s.updatedAt).toBe(t1);
      expect(fake.fetches('flags')).toBe(2);
      await runtime().close(id);
      expect((await runtime().snapshot(id)).state).toBe('closed');
    });

    it('refuses, with a typed error, an SDK that flagsmith.init() has not configured yet', async () => {
      const fake = await api(1_735_229_888.76);
      const id = await runtime().start({
        api: fake.url,
        environmentKey: fake.environmentKey,
        baseUrl: sse.url,
        feature: FAKE_FEATURE_NAME,
        beforeInit: true,
      });
      const s = await runtime().snapshot(id);
      expect(s.thrown).toMatchObject({
        name: 'ConfigurationError',
        code: 'invalid_environment_key',
      });
      expect(s.thrown?.message).toContain('flagsmith.init');
      expect(s.state).toBeUndefined();
    });
  });
}
