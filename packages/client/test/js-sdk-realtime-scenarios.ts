// The official `flagsmith` SDK's own real-time mode (`realtime: true`, `eventSourceUrl` at our
// service), written once and registered per runtime (Node, Chromium): a real apps/sse on a real
// nats-server for the stream, the fake Flagsmith API for the flags.
//
// What the SDK does (flagsmith-core.ts, setupRealtime): it opens
// `eventSourceUrl + 'sse/environments/' + key + '/stream'` with `reconnecting-eventsource` around
// the global `EventSource`, listens for `environment_updated` only, and calls getFlags() when the
// data's `updated_at` is greater than `this.timestamp` (the X-Flagsmith-Document-Updated-At of
// its last flags response), unless a fetch is in flight. On an error the wrapper closes the
// EventSource and opens a new one after a random 0-3 s.
import {
  FAKE_FEATURE_NAME,
  type FlagsmithApiFake,
  startFlagsmithApiFake,
} from '@flagsmith-rt/flagsmith-api-fake';
import { type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RealtimeConfig, RealtimeSnapshot } from './harness/js-sdk-realtime.js';
import { type SseProcess, startSse } from './support/sse-server.js';
import { waitFor } from './support/wait.js';
import { startWireProxy, type WireProxy } from './support/wire-proxy.js';

/** How the tests drive SDK instances living in some runtime. */
export interface RealtimeRuntime {
  start(config: RealtimeConfig): Promise<number>;
  snapshot(id: number): Promise<RealtimeSnapshot>;
  close(id: number): Promise<void>;
}

const T0 = 1_735_229_888.76;
const T1 = 1_735_229_999.5;
const T2 = 1_735_230_111.25;
const T3 = 1_735_230_222.125;
/**
 * How long a wire control waits for a refetch that must not come. A refetch on the real wire
 * reaches the fake API within tens of milliseconds of the publish.
 */
const NO_REFETCH_WAIT_MS = 2_000;

let keyCounter = 0;
const newKey = (): string => `jssdk_${Date.now().toString(36)}_${keyCounter++}`;

/** The SDK concatenates `eventSourceUrl + 'sse/…'`, so the base must end with a slash. */
const withSlash = (url: string): string => (url.endsWith('/') ? url : `${url}/`);

/** One sample of the service's `/metricsz`. */
async function metric(sse: SseProcess, sample: string): Promise<number> {
  const text = await (await fetch(`${sse.url.replace(/\/$/, '')}/metricsz`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  if (line === undefined) throw new Error(`no sample ${sample} in /metricsz`);
  return Number(line.slice(sample.length + 1));
}

/** Registers the SDK real-time tests against the runtime returned by `runtime()`. */
export function describeSdkRealtime(name: string, runtime: () => RealtimeRuntime): void {
  describe(`the flagsmith SDK's own realtime mode (${name})`, () => {
    let nats: NatsServer;
    let sse: SseProcess;
    const cleanups: Array<() => Promise<void>> = [];

    const api = async (updatedAt: number): Promise<FlagsmithApiFake> => {
      const fake = await startFlagsmithApiFake({ environmentKey: newKey(), updatedAt });
      cleanups.push(() => fake.close());
      return fake;
    };
    const until = (id: number, what: string, check: (s: RealtimeSnapshot) => boolean) =>
      waitFor(what, async () => {
        const s = await runtime().snapshot(id);
        return check(s) ? s : undefined;
      });

    /** Starts an SDK on `fake` with `eventSourceUrl` and waits for its stream to open. */
    const startSdk = async (fake: FlagsmithApiFake, eventSourceUrl: string) => {
      const id = await runtime().start({
        api: fake.url,
        environmentKey: fake.environmentKey,
        eventSourceUrl,
        feature: FAKE_FEATURE_NAME,
      });
      cleanups.push(() => runtime().close(id));
      const s = await until(id, 'the SDK stream to open', (s) => s.readyState === 1);
      expect(s.streamUrl).toBe(`${eventSourceUrl}sse/environments/${fake.environmentKey}/stream`);
      // init() fetched the flags once; their X-Flagsmith-Document-Updated-At is the baseline.
      expect(fake.fetches('flags')).toBe(1);
      expect(s.value).toBe(String(fake.updatedAt));
      expect(s.timestamp).toBe(fake.updatedAt);
      return id;
    };

    /** Publishes a newer `updatedAt` (served by the fake from now on) and waits for the refetch. */
    const expectRefetch = async (
      id: number,
      fake: FlagsmithApiFake,
      through: SseProcess,
      updatedAt: number,
      timeoutMs = 5_000,
    ): Promise<RealtimeSnapshot> => {
      const before = fake.fetches('flags');
      const events = (await runtime().snapshot(id)).events.length;
      fake.setUpdatedAt(updatedAt);
      await through.publish(fake.environmentKey, updatedAt);
      await fake.waitForFetches('flags', before + 1, timeoutMs);
      const s = await until(
        id,
        `the SDK to hold ${updatedAt}`,
        (s) => s.value === String(updatedAt),
      );
      expect(s.events.slice(events)).toEqual([{ updatedAt, fetching: true }]);
      expect(s.timestamp).toBe(updatedAt);
      expect(fake.fetches('flags')).toBe(before + 1);
      return s;
    };

    beforeAll(async () => {
      nats = await startNatsServer();
      // A short keep-alive, so that every test also sees keep-alives between its events.
      sse = await startSse({ natsUrl: nats.url, keepaliveSeconds: 0.1 });
    });

    afterAll(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      await sse?.stop();
      await nats?.stop();
    });

    it('refetches after a newer timestamp, and not after an older or an equal one', async () => {
      const fake = await api(T0);
      const id = await startSdk(fake, withSlash(sse.url));
      // Older than the SDK's baseline, then equal to it: each reaches the SDK's listener (in
      // order, on one stream), and neither starts a fetch.
      await sse.publish(fake.environmentKey, T0 - 10.5);
      await until(id, 'the older event', (s) => s.events.length === 1);
      await sse.publish(fake.environmentKey, T0);
      let s = await until(id, 'the equal event', (s) => s.events.length === 2);
      expect(s.events).toEqual([
        { updatedAt: T0 - 10.5, fetching: false },
        { updatedAt: T0, fetching: false },
      ]);
      expect(fake.fetches('flags')).toBe(1);
      // Newer: one refetch, and the SDK's API shows the new flags.
      s = await expectRefetch(id, fake, sse, T1);
      expect(s.changes).toBe(2);
      expect(s.opens).toBe(1);
      expect(s.errors).toBe(0);
    });

    it('keep-alives cause no refetch and no reconnect', async () => {
      const fake = await api(T0);
      const id = await startSdk(fake, withSlash(sse.url));
      const sample = 'flagsmith_sse_http_writes_total{message="keepalive"}';
      const start = await metric(sse, sample);
      await waitFor('twenty keep-alives', async () => (await metric(sse, sample)) >= start + 20);
      let s = await runtime().snapshot(id);
      expect(s.events).toEqual([]);
      expect(s.opens).toBe(1);
      expect(s.errors).toBe(0);
      // A fetch started by a keep-alive could still be on its way: the next update's refetch must
      // be the only one since init().
      s = await expectRefetch(id, fake, sse, T1);
      expect(fake.fetches('flags')).toBe(2);
      expect(s.opens).toBe(1);
    });

    it('drops an update that arrives while its flags fetch is in flight (what our client fixes)', async () => {
      const fake = await api(T0);
      const id = await startSdk(fake, withSlash(sse.url));
      const release = fake.hold('flags');
      fake.setUpdatedAt(T1);
      await sse.publish(fake.environmentKey, T1);
      await waitFor('the SDK flags request', () => fake.held('flags') === 1);
      // The environment changes again while the answer made at T1 is on its way.
      fake.setUpdatedAt(T2);
      await sse.publish(fake.environmentKey, T2);
      let s = await until(id, 'the second event', (s) => s.events.length === 2);
      expect(s.events).toEqual([
        { updatedAt: T1, fetching: true },
        { updatedAt: T2, fetching: true },
      ]);
      release();
      s = await until(id, 'the held answer', (s) => s.value === String(T1));
      expect(s.timestamp).toBe(T1);
      // T2 was announced but never fetched: the SDK keeps T1's flags until the next update, and
      // that one's refetch is the only fetch since (a follow-up fetch would make it two).
      expect(fake.fetches('flags')).toBe(2);
      await expectRefetch(id, fake, sse, T3);
      expect(fake.fetches('flags')).toBe(3);
    });

    it('gets the next update after a restart of apps/sse', async () => {
      const own = await startSse({ natsUrl: nats.url, keepaliveSeconds: 0.1 });
      cleanups.push(() => own.stop());
      const fake = await api(T0);
      const id = await startSdk(fake, withSlash(own.url));
      await expectRefetch(id, fake, own, T1);
      await own.kill('SIGKILL');
      await until(id, 'the SDK to see the stream fail', (s) => s.errors >= 1);
      await own.restart(); // same port, same NATS
      await until(id, 'the SDK to reconnect', (s) => s.opens >= 2 && s.readyState === 1);
      const s = await expectRefetch(id, fake, own, T2);
      // The wrapper reconnects with `?lastEventId=<T1>` (the service sends `id:` lines), so the new
      // process, which has T1 from JetStream, sends no initial event: T1 and T2 only.
      expect(s.events).toEqual([
        { updatedAt: T1, fetching: true },
        { updatedAt: T2, fetching: true },
      ]);
      expect(fake.fetches('flags')).toBe(3);
    }, 60_000);

    describe('on a wire rewritten by a proxy (checks of the checks)', () => {
      const throughProxy = async (rewrite: (text: string) => string) => {
        const proxy: WireProxy = await startWireProxy(sse.url, rewrite);
        cleanups.push(() => proxy.stop());
        const fake = await api(T0);
        const id = await startSdk(fake, proxy.url);
        return { proxy, fake, id };
      };

      it.each([
        [
          'another event name',
          (t: string) => t.replaceAll('environment_updated', 'environment-updated'),
        ],
        ['no event: line', (t: string) => t.replaceAll('event: environment_updated\n', '')],
      ])(
        'does not refetch with %s (the refetch check fails)',
        async (_name, rewrite) => {
          const { proxy, fake, id } = await throughProxy(rewrite);
          // The same check that passes on the real wire fails here...
          await expect(expectRefetch(id, fake, sse, T1, NO_REFETCH_WAIT_MS)).rejects.toThrow(
            'flags was fetched 1 times',
          );
          // ...although the rewritten event did reach the SDK's EventSource.
          expect(proxy.forwarded()).toContain(`"updated_at": ${T1}`);
          const s = await runtime().snapshot(id);
          expect(s.events).toEqual([]);
          expect(s.value).toBe(String(T0));
        },
        30_000,
      );

      it('ignores keep-alives that carry data: (message events, not environment_updated)', async () => {
        const { proxy, fake, id } = await throughProxy((t) =>
          t.replaceAll(': ping\n\n', 'data: ping\n\n'),
        );
        await waitFor('ten rewritten keep-alives', () => {
          const count = proxy.forwarded().split('data: ping\n\n').length - 1;
          return count >= 10;
        });
        const s = await expectRefetch(id, fake, sse, T1);
        expect(s.events).toEqual([{ updatedAt: T1, fetching: true }]);
        expect(s.opens).toBe(1);
        expect(s.errors).toBe(0);
      });

      it('refetches with an integer timestamp (the JavaScript SDK compares numbers)', async () => {
        // The service always writes a fraction (`1735230000.0`); the proxy strips it.
        const { proxy, fake, id } = await throughProxy((t) => t.replace(/(\d)\.0\}/g, '$1}'));
        await expectRefetch(id, fake, sse, 1_735_230_000);
        expect(proxy.forwarded()).toContain('"updated_at": 1735230000}');
      });
    });
  });
}
