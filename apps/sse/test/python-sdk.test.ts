import { type FlagsmithApiFake, startFlagsmithApiFake } from '@flagsmith-rt/flagsmith-api-fake';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/sse-client.js';
import { type PythonSdk, startPythonSdk } from './sdk/python-sdk.js';
import { type Service, startService, stopServices } from './sdk/service.js';

// The official Flagsmith Python SDK (6.x, real-time mode) against the built service and a fake
// Flagsmith API. The SDK refetches its environment document when a stream event's updated_at is
// newer than the document's (flagsmith.py, handle_stream_event), reads the stream in 128-byte
// blocks (streaming_manager.py: sseclient over `for chunk in response`), and treats any event
// with data as an update (mappers.py, map_sse_event_to_stream_event).

const U0 = 1735229888.76;
/** How soon after a publish is acknowledged the SDK must have refetched (issue #12). */
const REFETCH_WITHIN_MS = 1_000;

let api: FlagsmithApiFake | undefined;
let sdk: PythonSdk | undefined;

afterEach(async () => {
  await sdk?.stop();
  sdk = undefined;
  await stopServices();
  await api?.close();
  api = undefined;
});

async function setUp(env: Record<string, string>, options: { publishFirst?: number } = {}) {
  api = await startFlagsmithApiFake({ updatedAt: U0 });
  const service = await startService(env);
  if (options.publishFirst !== undefined) {
    expect(await service.publish(api.environmentKey, options.publishFirst)).toBe(200);
  }
  sdk = await startPythonSdk(api, service.url);
  await streamOpen(service);
  expect(api.fetches('environmentDocument')).toBe(1);
  return { api, service, sdk };
}

async function streamOpen(service: Service): Promise<void> {
  await waitFor(
    async () => (await service.metric('flagsmith_sse_subscribers')) === 1,
    `the SDK's stream to open; stderr ${sdk?.stderr()}`,
    10_000,
  );
}

/**
 * Publishes `updatedAt` (with the fake returning `documentAt` from then on) and returns how long
 * after the publish was acknowledged the SDK fetched its document.
 */
async function refetchDelayMs(service: Service, updatedAt: number, documentAt = updatedAt) {
  const a = api as FlagsmithApiFake;
  const before = a.fetches('environmentDocument');
  a.setUpdatedAt(documentAt);
  expect(await service.publish(a.environmentKey, updatedAt)).toBe(200);
  const acknowledged = performance.now();
  // Waited on generously, so that a late refetch is measured, not only reported as missing.
  await a.waitForFetches('environmentDocument', before + 1, 20_000).catch(() => undefined);
  const at = a.fetchTimes('environmentDocument')[before];
  return at === undefined ? Number.POSITIVE_INFINITY : Math.max(0, at - acknowledged);
}

describe.each([
  ['a short keep-alive (0.5 s)', { KEEPALIVE_INTERVAL: '0.5' }],
  ['the default keep-alive (15 s)', {}],
])('the Python SDK with %s', (_name, env) => {
  it('refetches within 1 s of a newer timestamp, and not after an equal or an older one', async () => {
    const { service } = await setUp(env);
    const u1 = U0 + 10.25;
    const u2 = U0 + 20.5;
    // Newer: the SDK refetches and gets a document already at u2.
    const delay = await refetchDelayMs(service, u1, u2);
    expect(delay, `refetch ${delay.toFixed(0)} ms after the publish`).toBeLessThan(
      REFETCH_WITHIN_MS,
    );
    await sdk!.waitForHandled(u1);
    // Older than the SDK's document (but newer than the service's latest, so it is sent): no fetch.
    expect(await service.publish(api!.environmentKey, U0 + 15.125)).toBe(200);
    // Equal to the SDK's document, fractional part included: no fetch.
    expect(await service.publish(api!.environmentKey, u2)).toBe(200);
    await sdk!.waitForHandled(u2);
    expect(sdk!.handled()).toEqual([u1, U0 + 15.125, u2]);
    expect(api!.fetches('environmentDocument')).toBe(2);
    // And the next newer one is fetched at once again.
    const next = await refetchDelayMs(service, U0 + 30);
    expect(next).toBeLessThan(REFETCH_WITHIN_MS);
    expect(sdk!.streamRequests()).toHaveLength(1);
  }, 60_000);
});

describe('the Python SDK and the stream', () => {
  it('keep-alives cause no refetch and no reconnect', async () => {
    const { service } = await setUp({ KEEPALIVE_INTERVAL: '0.1' });
    await waitFor(
      async () =>
        (await service.metric('flagsmith_sse_http_writes_total{message="keepalive"}')) >= 20,
      'twenty keep-alives',
      10_000,
    );
    expect(sdk!.handled()).toEqual([]);
    expect(api!.fetches('environmentDocument')).toBe(1);
    expect(sdk!.streamRequests()).toHaveLength(1);
    expect(sdk!.stderr()).not.toContain('Error');
  });

  it('takes an initial event equal to its document (the float of an ISO timestamp) as no news', async () => {
    // The service has U0 when the SDK connects: the initial event carries it, as 1735229888.76.
    const { service } = await setUp({ KEEPALIVE_INTERVAL: '0.5' }, { publishFirst: U0 });
    await sdk!.waitForHandled(U0);
    expect(api!.fetches('environmentDocument')).toBe(1);
    expect(await refetchDelayMs(service, U0 + 1)).toBeLessThan(REFETCH_WITHIN_MS);
  });

  it('gets the next update after a restart of the service', async () => {
    const { service } = await setUp({ KEEPALIVE_INTERVAL: '0.5', DRAIN_WINDOW: '0' });
    service.running.child.kill('SIGTERM');
    expect(await service.running.exited).toBe(0);
    // Same port, new process: what a restart behind a fixed address looks like to the SDK.
    const restarted = await startService({
      PORT: String(service.port),
      KEEPALIVE_INTERVAL: '0.5',
    });
    await streamOpen(restarted);
    expect(sdk!.streamRequests().length).toBeGreaterThanOrEqual(2);
    const delay = await refetchDelayMs(restarted, U0 + 5);
    expect(delay).toBeLessThan(REFETCH_WITHIN_MS);
    expect(api!.fetches('environmentDocument')).toBe(2);
  }, 60_000);
});
