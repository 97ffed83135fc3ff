import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTestApp, listen } from './helpers/http-app.js';
import { ManualClock } from './helpers/manual-clock.js';
import { RawClient } from './helpers/raw-client.js';
import { scrape } from './helpers/scrape.js';
import { waitFor } from './helpers/wait-for.js';

const ENV = 'aged_env';
const STAMP = 1_735_229_888.76;
let app: FastifyInstance | undefined;
const clients: RawClient[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of sockets.splice(0)) s.destroy();
  await app?.close();
  app = undefined;
});

async function start(maxStreamAgeMs: number, streamAgeJitter: number) {
  const built = await buildTestApp({
    maxStreamAgeMs,
    streamAgeJitter,
    keepAliveIntervalMs: 60_000,
  });
  app = built.app;
  return { broker: built.broker, port: await listen(built.app) };
}

async function subscribe(port: number): Promise<RawClient> {
  const client = await RawClient.get(port, `/sse/environments/${ENV}/stream`);
  clients.push(client);
  return client;
}

describe('maxStreamAgeMs', () => {
  it('ends a stream within its age less the jitter; the reconnecting client gets the latest again', async () => {
    const { broker, port } = await start(1_000, 0.2);
    await broker.publish(ENV, STAMP);
    const opened = Date.now();
    const first = await subscribe(port);
    await first.until((t) => t.includes(`${STAMP}`), 'the initial event');
    await first.closed;
    const lived = Date.now() - opened;
    // Age × (1 − random × 0.2), checked by a sweep every 200 ms (a quarter of the shortest age).
    expect(lived).toBeGreaterThanOrEqual(800 - 20);
    expect(lived).toBeLessThan(1_000 + 200 + 300);
    // Ended cleanly after the event (FIN, not a reset), so the client saw every byte.
    expect(first.body).toMatch(/data: \{"updated_at": 1735229888\.76\}\nid: 1735229888\.76\n\n$/);

    const second = await subscribe(port);
    await second.until((t) => t.includes(`${STAMP}`), 'the latest again after reconnecting');
    const m = await scrape(port);
    expect(m.value('flagsmith_sse_stream_age_closes_total')).toBe(1);
    expect(m.value('flagsmith_sse_subscribers')).toBe(1);
  });

  it('spreads the ends of streams opened together over the jitter', async () => {
    const { port } = await start(1_000, 0.5);
    const opened = Date.now();
    const streams = await Promise.all(Array.from({ length: 12 }, () => subscribe(port)));
    const ends = await Promise.all(streams.map((s) => s.closed.then(() => Date.now() - opened)));
    for (const end of ends) {
      expect(end).toBeGreaterThanOrEqual(500 - 20);
      expect(end).toBeLessThan(1_000 + 125 + 300);
    }
    // Uniform over 500 ms with a sweep every 125 ms: all in one sweep has odds of ~1e-6.
    expect(Math.max(...ends) - Math.min(...ends)).toBeGreaterThan(100);
    expect(app?.realtimeHub.stats.streamAgeCloses).toBe(12);
  });

  it('destroys an aged stream whose client keeps its side open', async () => {
    const { port } = await start(300, 0);
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('error', () => {});
    sockets.push(socket);
    const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    socket.write(`GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: x\r\n\r\n`);
    socket.resume();
    await ended; // the server sent FIN; this client never answers with its own
    expect(app?.realtimeHub.subscriberCount).toBe(1);
    await waitFor(() => app?.realtimeHub.subscriberCount === 0, 'the half-open stream destroyed');
    expect(app?.realtimeHub.stats.streamAgeCloses).toBe(1);
  });

  it('never ends streams by default', async () => {
    const clock = new ManualClock();
    const built = await buildTestApp({ keepAliveIntervalMs: 60_000, clock: clock.now });
    app = built.app;
    const port = await listen(built.app);
    const client = await subscribe(port);
    await waitFor(() => app?.realtimeHub.subscriberCount === 1, 'the stream');
    clock.advance(365 * 24 * 3600 * 1000);
    // The next sweep sees a year gone: it sends the overdue keep-alive and ends nothing.
    await client.until((t) => t.includes(': ping'), 'a sweep a year later');
    const m = await scrape(port);
    expect(m.value('flagsmith_sse_subscribers')).toBe(1);
    expect(m.value('flagsmith_sse_stream_age_closes_total')).toBe(0);
    expect(client.isEnded).toBe(false);
  });
});
