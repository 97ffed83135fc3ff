import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTestApp, listen, SwitchableBroker } from './helpers/http-app.js';
import { RawClient } from './helpers/raw-client.js';
import { waitFor } from './helpers/wait-for.js';

// REFUSAL.md: every refused stream is held before it is answered, so that an SDK that
// reconnects at once after a response (the Flagsmith Python SDK) costs ~1 request/s.

const ENV = 'n9fbf9h3v4fFgH3U3ngWhb';
const REQUEST = `GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

let app: FastifyInstance | undefined;
const clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await app?.close();
  app = undefined;
});

async function start(options: Parameters<typeof buildTestApp>[0]) {
  const built = await buildTestApp(options);
  app = built.app;
  return { app: built.app, port: await listen(built.app) };
}

async function open(port: number): Promise<RawClient> {
  const client = await RawClient.open(port, REQUEST);
  clients.push(client);
  return client;
}

/** Sends a stream request and resolves with the raw response and when it came, once the server closed. */
async function refused(port: number): Promise<{ text: string; afterMs: number }> {
  const sent = performance.now();
  const client = await open(port);
  await client.closed;
  return { text: client.text, afterMs: performance.now() - sent };
}

function expectRefusal(text: string, code: string): void {
  expect(text).toMatch(/^HTTP\/1\.1 503 /);
  const head = text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase();
  expect(head).toContain('\r\nretry-after: 5');
  expect(head).toContain('\r\naccess-control-allow-origin: *');
  expect(head).toContain('\r\nconnection: close');
  expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code } });
}

describe('a refused stream is held, then answered', () => {
  it('while the broker is unavailable: 503 broker_unavailable after the hold, then the connection closes', async () => {
    const broker = new SwitchableBroker();
    const { port } = await start({ broker, refusalHoldMs: 400 });
    broker.force('unavailable');
    const { text, afterMs } = await refused(port);
    expectRefusal(text, 'broker_unavailable');
    expect(afterMs).toBeGreaterThanOrEqual(390);
  });

  it('at maxSubscribers: 503 too_many_subscribers after the hold', async () => {
    const { app, port } = await start({ maxSubscribers: 1, refusalHoldMs: 400 });
    await open(port);
    await waitFor(() => app.realtimeHub.subscriberCount === 1, 'one stream');
    const { text, afterMs } = await refused(port);
    expectRefusal(text, 'too_many_subscribers');
    expect(afterMs).toBeGreaterThanOrEqual(390);
  });

  it('during a drain: 503 shutting_down after the hold, and the close is not held up by it', async () => {
    // Six streams ended in batches across 1.5 s: the drain lasts about that long.
    const { app: running, port } = await start({ drainWindowMs: 1_500, refusalHoldMs: 400 });
    const streams = await Promise.all(Array.from({ length: 6 }, () => open(port)));
    await waitFor(() => running.realtimeHub.subscriberCount === 6, 'six streams');
    const closing = running.close();
    await waitFor(() => running.realtimeHub.closing, 'the drain to start');
    const { text, afterMs } = await refused(port);
    expectRefusal(text, 'shutting_down');
    expect(afterMs).toBeGreaterThanOrEqual(390);
    await Promise.all(streams.map((s) => s.closed));
    await closing;
    app = undefined;
  });

  it('costs a client that reconnects at once about one request per second', async () => {
    const broker = new SwitchableBroker();
    const { port } = await start({ broker, refusalHoldMs: 500 });
    broker.force('unavailable');
    const started = performance.now();
    let requests = 0;
    while (performance.now() - started < 2_000) {
      requests++;
      await refused(port);
    }
    // 2 s of no-backoff retries with 500 ms holds: 4 or 5 requests, not thousands.
    expect(requests).toBeLessThanOrEqual(5);
  });
});

describe('the hold is bounded and cleared', () => {
  it('closes the connection unanswered beyond refusalHoldMax', async () => {
    const broker = new SwitchableBroker();
    const { port } = await start({ broker, refusalHoldMs: 5_000, refusalHoldMax: 2 });
    broker.force('unavailable');
    await open(port);
    await open(port);
    const third = await refused(port);
    expect(third.text).toBe('');
    expect(third.afterMs).toBeLessThan(4_000);
  });

  it('frees the slot of a client that leaves during its hold', async () => {
    const broker = new SwitchableBroker();
    const { app, port } = await start({ broker, refusalHoldMs: 600, refusalHoldMax: 1 });
    broker.force('unavailable');
    const leaving = await open(port);
    await waitFor(() => app.realtimeHub.stats.shedUnavailable === 1, 'the first refusal held');
    const beyond = await refused(port);
    expect(beyond.text).toBe('');
    leaving.close();
    await leaving.closed;
    const next = await refused(port);
    expectRefusal(next.text, 'broker_unavailable');
  });

  it('answers every held refusal at once when the app closes', async () => {
    const broker = new SwitchableBroker();
    const { app: running, port } = await start({ broker, refusalHoldMs: 20_000 });
    broker.force('unavailable');
    const held = await open(port);
    await waitFor(() => running.realtimeHub.stats.shedUnavailable === 1, 'the refusal held');
    const closedAt = performance.now();
    await running.close();
    app = undefined;
    await held.closed;
    expect(performance.now() - closedAt).toBeLessThan(5_000);
    expectRefusal(held.text, 'broker_unavailable');
  });

  it('answers at once when refusalHoldMs is 0', async () => {
    const broker = new SwitchableBroker();
    const { port } = await start({ broker, refusalHoldMs: 0 });
    broker.force('unavailable');
    const { text, afterMs } = await refused(port);
    expectRefusal(text, 'broker_unavailable');
    expect(afterMs).toBeLessThan(1_000);
  });
});
