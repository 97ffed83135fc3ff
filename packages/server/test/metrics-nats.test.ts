import { type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamBroker } from '../src/jetstream/broker.js';
import { AUTH, buildTestApp, listen } from './helpers/http-app.js';
import { RawClient } from './helpers/raw-client.js';
import { type Scrape, scrape } from './helpers/scrape.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { waitFor } from './helpers/wait-for.js';

const ENV = 'metrics_nats_env';
const OPERATIONS = [
  'connect',
  'publish',
  'create_jetstream',
  'create_consumer',
  'pull',
  'read',
  'ack',
];

let nats: NatsServer;
let app: FastifyInstance;
let port: number;
const clients: RawClient[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  // The plugin subscribes to the broker's errors itself (Broker.onError).
  const broker = new JetStreamBroker({ servers: [nats.url], storage: 'memory' });
  ({ app } = await buildTestApp({ broker }));
  port = await listen(app);
});

afterAll(async () => {
  for (const c of clients.splice(0)) c.close();
  await app?.close();
  await nats?.stop();
});

const natsErrors = (m: Scrape) =>
  OPERATIONS.reduce(
    (sum, op) => sum + m.value(`flagsmith_sse_nats_errors_total{operation="${op}"}`),
    0,
  );

async function scrapeUntil(check: (m: Scrape) => boolean, what: string, timeoutMs = 5_000) {
  return waitFor(
    async () => {
      const m = await scrape(port);
      return check(m) && m;
    },
    what,
    timeoutMs,
  );
}

function publish(seconds: number) {
  return fetch(`http://127.0.0.1:${port}/sse/environments/${ENV}/queue-change`, {
    method: 'POST',
    headers: { authorization: AUTH },
    body: JSON.stringify({ updated_at: seconds }),
  });
}

describe('/metricsz with a real nats-server', () => {
  it('observes the delivery latency of a JetStream update and follows a NATS outage and recovery', async () => {
    let m = await scrape(port);
    expect(m.value('flagsmith_sse_nats_connected')).toBe(1);
    expect(natsErrors(m)).toBe(0);

    const client = await RawClient.get(port, `/sse/environments/${ENV}/stream`);
    clients.push(client);
    await waitFor(() => app.realtimeHub.subscriberCount === 1, 'the stream');
    expect((await publish(1_700_000_001)).status).toBe(200);
    await client.until((t) => t.includes('1700000001'), 'the update through JetStream');
    m = await scrapeUntil(
      (s) => s.value('flagsmith_sse_delivery_latency_seconds_count') === 1,
      'one latency observation',
    );
    // Stored by JetStream, then written here: well under the top bucket on one machine.
    expect(m.value('flagsmith_sse_delivery_latency_seconds_bucket{le="1"}')).toBe(1);
    expect(m.value('flagsmith_sse_delivery_latency_seconds_sum')).toBeGreaterThanOrEqual(0);
    expect(m.value('flagsmith_sse_publishes_total{result="published"}')).toBe(1);
    // One write, stored; the same timestamp again is answered from memory, with no write.
    expect((await publish(1_700_000_001)).status).toBe(200);
    m = await scrape(port);
    expect(m.value('flagsmith_sse_publishes_total{result="duplicate"}')).toBe(1);
    expect(m.value('flagsmith_sse_nats_writes_total{result="stored"}')).toBe(1);
    expect(m.value('flagsmith_sse_nats_writes_total{result="duplicate"}')).toBe(0);
    expect(m.value('flagsmith_sse_nats_writes_total{result="conflict"}')).toBe(0);
    expect(m.value('flagsmith_sse_nats_read_backs_total')).toBe(0);

    await nats.kill('SIGKILL');
    m = await scrapeUntil((s) => s.value('flagsmith_sse_nats_connected') === 0, 'disconnected');
    expect((await publish(1_700_000_002)).status).toBe(503);
    const refused = await RawClient.get(port, `/sse/environments/${ENV}/stream`);
    clients.push(refused);
    await refused.until((t) => t.includes('\r\n\r\n'), 'a response');
    expect(refused.text).toMatch(/^HTTP\/1\.1 503 /);
    m = await scrapeUntil((s) => natsErrors(s) > 0, 'a NATS error counted', 15_000);
    expect(m.value('flagsmith_sse_nats_errors_total{operation="connect"}')).toBeGreaterThanOrEqual(
      1,
    );
    expect(m.value('flagsmith_sse_publishes_total{result="unavailable"}')).toBe(1);
    expect(m.value('flagsmith_sse_shed_total{reason="unavailable"}')).toBe(1);
    expect(m.value('flagsmith_sse_subscribers')).toBe(1); // the open stream stays open

    await nats.restart();
    await scrapeUntil((s) => s.value('flagsmith_sse_nats_connected') === 1, 'reconnected', 15_000);
  });

  it('counts updates another instance wrote while this one was cut off, and a newer one replaced', async () => {
    const own = await startNatsServer();
    const proxy = await TcpProxy.start(own.port);
    const cut = await buildTestApp({
      broker: new JetStreamBroker({
        servers: [proxy.url],
        storage: 'file',
        reconnectTimeWaitMs: 200,
      }),
    });
    const other = new JetStreamBroker({ servers: [own.url], storage: 'file' });
    try {
      const cutPort = await listen(cut.app);
      await other.start();
      await waitFor(() => cut.app.realtimeBroker.state === 'ready', 'the cut instance is ready');
      const env = 'metrics_coalesced_env';
      const client = await RawClient.get(cutPort, `/sse/environments/${env}/stream`);
      clients.push(client);
      expect(await other.publish(env, 1_700_000_001)).toBe('published');
      await client.until((t) => t.includes('1700000001'), 'the first update');
      let m = await scrape(cutPort);
      expect(m.value('flagsmith_sse_updates_coalesced_total')).toBe(0);

      proxy.down();
      await waitFor(() => cut.app.realtimeBroker.state === 'unavailable', 'the cut is noticed');
      // One message per subject: 2 is replaced by 3 before the cut instance can read it.
      expect(await other.publish(env, 1_700_000_002)).toBe('published');
      expect(await other.publish(env, 1_700_000_003)).toBe('published');
      proxy.up();
      await client.until(
        (t) => t.includes('1700000003'),
        'the newest update after the cut',
        10_000,
      );
      expect(client.text).not.toContain('1700000002');
      m = await scrape(cutPort);
      expect(m.value('flagsmith_sse_updates_coalesced_total')).toBe(1);
    } finally {
      await cut.app.close();
      await other.close();
      await proxy.close();
      await own.stop();
    }
  });
});
