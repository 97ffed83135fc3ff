import { type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../src/broker/embedded.js';
import { JetStreamBroker } from '../src/jetstream/broker.js';
import { AUTH, buildTestApp, listen } from './helpers/http-app.js';
import { RawClient } from './helpers/raw-client.js';
import { type Scrape, scrape } from './helpers/scrape.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { waitFor } from './helpers/wait-for.js';

const ENV = 'latency_env';
/** The slow path between instance A and NATS: every byte from NATS arrives this late. */
const DELAY_MS = 400;

let nats: NatsServer;
let proxy: TcpProxy;
const apps: FastifyInstance[] = [];
const clients: RawClient[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  proxy = await TcpProxy.start(nats.port);
});
afterAll(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(apps.splice(0).map((a) => a.close()));
  await proxy?.close();
  await nats?.stop();
});

async function instance(broker: JetStreamBroker | EmbeddedBroker): Promise<number> {
  const { app } = await buildTestApp({ broker });
  apps.push(app);
  return listen(app);
}

async function subscribe(port: number): Promise<RawClient> {
  const client = await RawClient.get(port, `/sse/environments/${ENV}/stream`);
  clients.push(client);
  await client.until((t) => t.includes('\r\n\r\n'), 'the stream head');
  return client;
}

function publish(port: number, seconds: number): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/sse/environments/${ENV}/queue-change`, {
    method: 'POST',
    headers: { authorization: AUTH },
    body: JSON.stringify({ updated_at: seconds }),
  });
}

async function latencyOf(port: number): Promise<Scrape> {
  return waitFor(async () => {
    const m = await scrape(port);
    return m.value('flagsmith_sse_delivery_latency_seconds_count') === 1 && m;
  }, 'one delivery-latency observation');
}

describe('flagsmith_sse_delivery_latency_seconds: from acceptance to the last write', () => {
  it('shows a slow NATS path on the publishing instance, and not on one with a fast path', async () => {
    // A reaches NATS through the slow proxy, B directly.
    const portA = await instance(new JetStreamBroker({ servers: [proxy.url], storage: 'memory' }));
    const portB = await instance(new JetStreamBroker({ servers: [nats.url], storage: 'memory' }));
    const onA = await subscribe(portA);
    const onB = await subscribe(portB);

    proxy.delayFromServerMs = DELAY_MS;
    // The consumer's copy comes even later, so the ack (not the stream) triggers A's fan-out.
    proxy.slowSubject = { prefix: 'flagsmith.environment.', ms: 300 };
    const sentAt = Date.now();
    expect((await publish(portA, 1_700_000_001)).status).toBe(200);
    // The acknowledgement came back through the slow path.
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(DELAY_MS);
    await Promise.all(
      [onA, onB].map((c) => c.until((t) => t.includes('1700000001'), 'the update')),
    );

    // A fanned out on the late ack, and measured from the JetStream message time
    // (read back later): the slow path is in its histogram. Today's code measured
    // from the ack's arrival and saw ~0.
    const a = await latencyOf(portA);
    expect(a.value('flagsmith_sse_delivery_latency_seconds_sum')).toBeGreaterThanOrEqual(
      (DELAY_MS - 50) / 1000,
    );
    expect(a.value('flagsmith_sse_delivery_latency_seconds_bucket{le="0.25"}')).toBe(0);
    // B read it from the stream at once: measured from the JetStream message time.
    const b = await latencyOf(portB);
    expect(b.value('flagsmith_sse_delivery_latency_seconds_bucket{le="0.25"}')).toBe(1);
  });

  it('the embedded broker measures from its accept time', async () => {
    const port = await instance(new EmbeddedBroker());
    await subscribe(port);
    expect((await publish(port, 1_700_000_002)).status).toBe(200);
    const m = await latencyOf(port);
    expect(m.value('flagsmith_sse_delivery_latency_seconds_bucket{le="0.1"}')).toBe(1);
  });
});
