import { type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { TOKEN, testConfig } from './helpers/config.js';
import { frame, SseClient, waitFor } from './helpers/sse-client.js';

const ENV = 'n9fbf9h3v4fFgH3U3ngWhb';
const ISO = '2024-12-26T16:18:08.760000+00:00';

let nats: NatsServer;
const apps: FastifyInstance[] = [];
const clients: SseClient[] = [];

beforeEach(async () => {
  nats = await startNatsServer();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await nats.stop();
});

/** Builds and starts one instance on the test's NATS; returns its port. */
async function instance(): Promise<{ app: FastifyInstance; port: number }> {
  const app = buildApp(
    testConfig({ nats: { servers: [nats.url], replicas: 1, storage: 'memory' } }),
    { logger: false },
  );
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  // The JetStream broker starts in the background: wait until it is ready.
  await app.realtimeBroker.start();
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { app, port: address.port };
}

async function subscribe(port: number): Promise<SseClient> {
  const client = await SseClient.open(port, ENV);
  clients.push(client);
  await client.until((t) => t.includes('\r\n\r\n'), 'the stream head');
  return client;
}

function publish(port: number, updatedAt: string | number) {
  return fetch(`http://127.0.0.1:${port}/sse/environments/${ENV}/queue-change`, {
    method: 'POST',
    headers: { authorization: `Token ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ updated_at: updatedAt }),
  });
}

describe('two instances on one NATS', () => {
  it('delivers a publish to one instance to the subscribers of both, and to late subscribers at once', async () => {
    const a = await instance();
    const b = await instance();
    const onA = await subscribe(a.port);
    const onB = await subscribe(b.port);
    await waitFor(
      () => a.app.realtimeHub.subscriberCount === 1 && b.app.realtimeHub.subscriberCount === 1,
      'both streams registered',
    );

    const res = await publish(a.port, ISO);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ updated_at: 1735229888.76, result: 'published' });
    await onA.until((t) => t.endsWith(frame('1735229888.76')), 'the update on A');
    await onB.until((t) => t.endsWith(frame('1735229888.76')), 'the update on B');
    expect(onA.body).toBe(frame('1735229888.76'));
    expect(onB.body).toBe(frame('1735229888.76'));

    // A subscriber arriving later, on the other instance, gets it as its first bytes.
    const late = await SseClient.open(b.port, ENV);
    clients.push(late);
    await late.until((t) => t.endsWith(frame('1735229888.76')), 'the initial event');
    expect(late.body).toBe(frame('1735229888.76'));

    // The same update published again through B is a duplicate, delivered nowhere twice.
    const again = await publish(b.port, 1735229888.76);
    expect(((await again.json()) as { result: string }).result).toBe('duplicate');
  });
});

describe('NATS outage', () => {
  it('turns not ready within 2 s, refuses with 503, keeps streams alive, and recovers by itself', async () => {
    const a = await instance();
    const b = await instance();
    const onA = await subscribe(a.port);
    const onB = await subscribe(b.port);
    expect((await fetch(`http://127.0.0.1:${a.port}/readyz`)).status).toBe(200);

    await nats.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${a.port}/readyz`)).status === 503,
      '/readyz 503 after NATS died',
      2000,
    );
    expect(Date.now() - killedAt).toBeLessThan(2000);

    const refusedStream = await fetch(`http://127.0.0.1:${a.port}/sse/environments/${ENV}/stream`);
    expect(refusedStream.status).toBe(503);
    expect(refusedStream.headers.get('retry-after')).toMatch(/^\d+$/);
    const refusedPublish = await publish(a.port, ISO);
    expect(refusedPublish.status).toBe(503);
    expect(refusedPublish.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await refusedPublish.json()) as { error: { code: string } }).error.code).toBe(
      'broker_unavailable',
    );

    // Existing streams stay open and keep getting keep-alives.
    const lengthA = onA.text.length;
    await onA.until(
      (t) => t.length > lengthA && t.endsWith(': ping\n\n'),
      'a keep-alive during the outage',
    );
    expect(onA.isEnded).toBe(false);
    expect(onB.isEnded).toBe(false);

    await nats.restart();
    await waitFor(
      async () =>
        (await fetch(`http://127.0.0.1:${a.port}/readyz`)).status === 200 &&
        (await fetch(`http://127.0.0.1:${b.port}/readyz`)).status === 200,
      'both instances ready again',
      10_000,
    );
    const res = await publish(b.port, 1735229999.5);
    expect(res.status).toBe(200);
    await onA.until((t) => t.endsWith(frame('1735229999.5')), 'delivery on A after recovery');
    await onB.until((t) => t.endsWith(frame('1735229999.5')), 'delivery on B after recovery');
    expect(onA.body.match(/^data: .*$/gm)).toEqual(['data: {"updated_at": 1735229999.5}']);
  });
});
