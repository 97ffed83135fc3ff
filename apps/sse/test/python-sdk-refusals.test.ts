import { type FlagsmithApiFake, startFlagsmithApiFake } from '@flagsmith-rt/flagsmith-api-fake';
import { type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import { afterEach, describe, expect, it } from 'vitest';
import { SseClient, waitFor } from './helpers/sse-client.js';
import { type PythonSdk, startPythonSdk } from './sdk/python-sdk.js';
import { type Service, startService, stopServices } from './sdk/service.js';

// The Flagsmith Python SDK reconnects at once whenever a stream response ends without an
// exception (streaming_manager.py, EventStreamManager.run), and a 503 with a JSON body is such a
// response; it waits 1 s only after an exception. REFUSAL.md: every refusal is held, so that
// this costs at most about one request per second per client.

const U0 = 1735229888.76;
/** The most stream requests per second one SDK may make while it is refused (issue #12). */
const MAX_RATE = 1.5;
/**
 * The hold under test. FLAGSMITH_RT_REFUSAL_HOLD_MS=0 shows the rate without it (the code
 * before the hold): `FLAGSMITH_RT_REFUSAL_HOLD_MS=0 pnpm --filter @flagsmith-rt/sse exec vitest
 * run test/python-sdk-refusals.test.ts` (the tests then fail, naming the rate).
 */
const HOLD_ENV = process.env.FLAGSMITH_RT_REFUSAL_HOLD_MS;
const HOLD: Record<string, string> = HOLD_ENV === undefined ? {} : { REFUSAL_HOLD_MS: HOLD_ENV };

let api: FlagsmithApiFake | undefined;
let sdk: PythonSdk | undefined;
let nats: NatsServer | undefined;
const streams: SseClient[] = [];

afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  await sdk?.stop();
  sdk = undefined;
  await stopServices();
  await nats?.stop();
  nats = undefined;
  await api?.close();
  api = undefined;
});

/** Stream requests the SDK made per second from `fromS` (its clock) until now, over `seconds`. */
async function rateOver(s: PythonSdk, seconds: number, fromIndex: number): Promise<number> {
  const first = s.streamRequests()[fromIndex];
  if (first === undefined) throw new Error('no stream request to measure from');
  await waitFor(
    () =>
      (s.streamRequests().at(-1) ?? 0) - first >= seconds ||
      s.streamRequests().length - fromIndex > 200 * seconds,
    `${seconds} s of stream requests`,
    (seconds + 10) * 1000,
  );
  const window = s.streamRequests().slice(fromIndex);
  const span = Math.max((window.at(-1) ?? first) - first, 0.001);
  return (window.length - 1) / span;
}

/** Opens `count` raw streams of another environment and waits until `total` streams are open. */
async function openStreams(service: Service, count: number, total = count): Promise<void> {
  for (let i = 0; i < count; i++) streams.push(await SseClient.open(service.port, 'other-env'));
  await waitFor(
    async () => (await service.metric('flagsmith_sse_subscribers')) === total,
    `${total} streams`,
  );
}

describe('a no-backoff SDK against refused streams', () => {
  it('while NATS is down: at most ~1 request/s, and the next update once NATS is back', async () => {
    nats = await startNatsServer();
    api = await startFlagsmithApiFake({ updatedAt: U0 });
    const service = await startService({ NATS_URL: nats.url, ...HOLD });
    await nats.kill();
    await waitFor(
      async () => (await fetch(`${service.url}/readyz`)).status === 503,
      'readiness to turn 503',
      15_000,
    );
    sdk = await startPythonSdk(api, service.url);
    const rate = await rateOver(sdk, 3, 0);
    console.info(`python sdk, NATS down: ${rate.toFixed(1)} stream requests/s`);
    expect(rate, `${rate.toFixed(1)} stream requests/s`).toBeLessThanOrEqual(MAX_RATE);

    await nats.start();
    await waitFor(
      async () => (await service.metric('flagsmith_sse_subscribers')) === 1,
      'the SDK stream once NATS is back',
      20_000,
    );
    api.setUpdatedAt(U0 + 1);
    expect(await service.publish(api.environmentKey, U0 + 1)).toBe(200);
    await api.waitForFetches('environmentDocument', 2, 5_000);
  }, 60_000);

  it('at MAX_SUBSCRIBERS: at most ~1 request/s', async () => {
    api = await startFlagsmithApiFake({ updatedAt: U0 });
    const service = await startService({ MAX_SUBSCRIBERS: '1', ...HOLD });
    await openStreams(service, 1);
    sdk = await startPythonSdk(api, service.url);
    const rate = await rateOver(sdk, 3, 0);
    console.info(`python sdk, MAX_SUBSCRIBERS: ${rate.toFixed(1)} stream requests/s`);
    expect(rate, `${rate.toFixed(1)} stream requests/s`).toBeLessThanOrEqual(MAX_RATE);
  }, 60_000);

  it('during a drain: at most ~1 request/s until the service has gone', async () => {
    api = await startFlagsmithApiFake({ updatedAt: U0 });
    const service = await startService({ DRAIN_WINDOW: '4', ...HOLD });
    sdk = await startPythonSdk(api, service.url);
    // Other clients keep the drain busy across its window, as on a loaded instance.
    await waitFor(
      async () => (await service.metric('flagsmith_sse_subscribers')) === 1,
      'the SDK stream',
    );
    await openStreams(service, 40, 41);
    const before = sdk.streamRequests().length;
    service.running.child.kill('SIGTERM');
    await waitFor(() => sdk!.streamRequests().length > before, 'the SDK to reconnect', 10_000);
    const startedAt = sdk.streamRequests()[before]!;
    expect(await service.running.exited).toBe(0);
    const during = sdk.streamRequests().slice(before);
    const span = Math.max((during.at(-1) ?? startedAt) - startedAt, 1);
    const rate = during.length / span;
    console.info(
      `python sdk, drain: ${during.length} stream requests in ${span.toFixed(1)} s (${rate.toFixed(1)}/s)`,
    );
    expect(rate, `${during.length} stream requests in ${span.toFixed(1)} s`).toBeLessThanOrEqual(
      MAX_RATE,
    );
  }, 60_000);

  it('at the shortest MAX_STREAM_AGE (1.25 s): at most ~1 request/s, and no refetch', async () => {
    api = await startFlagsmithApiFake({ updatedAt: U0 });
    const service = await startService({ MAX_STREAM_AGE: '1.25', KEEPALIVE_INTERVAL: '0.5' });
    // Each reconnect gets the latest as its initial event, equal to the SDK's document.
    expect(await service.publish(api.environmentKey, U0)).toBe(200);
    sdk = await startPythonSdk(api, service.url);
    const rate = await rateOver(sdk, 4, 0);
    console.info(`python sdk, MAX_STREAM_AGE=1.25: ${rate.toFixed(2)} stream requests/s`);
    expect(sdk.streamRequests().length).toBeGreaterThanOrEqual(3);
    expect(rate).toBeLessThanOrEqual(1.05);
    expect(api.fetches('environmentDocument')).toBe(1);
  }, 60_000);
});
