import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, BrokerErrorListener } from '../src/broker/broker.js';
import { EmbeddedBroker } from '../src/broker/embedded.js';
import { AUTH, buildTestApp, listen, SwitchableBroker } from './helpers/http-app.js';
import { RawClient } from './helpers/raw-client.js';
import { type Scrape, scrape } from './helpers/scrape.js';
import { type ServerSide, serverSides } from './helpers/server-streams.js';
import { waitFor } from './helpers/wait-for.js';

const ENV = 'metrics_env';
const OTHER = 'metrics_other';
const BASE = 1_700_000_000;

let app: FastifyInstance | undefined;
const closers: Array<{ destroy(): void }> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c.destroy();
  await app?.close();
  app = undefined;
});

async function start(options: Parameters<typeof buildTestApp>[0] = {}) {
  const built = await buildTestApp(options);
  app = built.app;
  return { app: built.app, broker: built.broker, port: await listen(built.app) };
}

async function subscribe(port: number, environment = ENV): Promise<RawClient> {
  const client = await RawClient.get(port, `/sse/environments/${environment}/stream`);
  closers.push(client.socket);
  await client.until((t) => t.startsWith('HTTP/1.1 '), 'a response head');
  return client;
}

function publish(port: number, body: string, environment = ENV, auth = AUTH) {
  return fetch(`http://127.0.0.1:${port}/sse/environments/${environment}/queue-change`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body,
  });
}

const stamp = (seconds: number) => JSON.stringify({ updated_at: seconds });
const writes = (m: Scrape, message: string) =>
  m.value(`flagsmith_sse_http_writes_total{message="${message}"}`);
const errors = (m: Scrape, message: string) =>
  m.value(`flagsmith_sse_http_errors_total{message="${message}"}`);
const publishes = (m: Scrape, result: string) =>
  m.value(`flagsmith_sse_publishes_total{result="${result}"}`);

/** Waits until a fresh scrape satisfies `check`, returning it. */
async function scrapeUntil(port: number, check: (m: Scrape) => boolean, what: string) {
  return waitFor(async () => {
    const m = await scrape(port);
    return check(m) && m;
  }, what);
}

describe('GET /metricsz', () => {
  it('exports every metric of the contract with its type, every label value from 0, and process metrics', async () => {
    const { port } = await start();
    const m = await scrape(port);
    const types: Record<string, string> = {
      flagsmith_sse_subscribers: 'gauge',
      flagsmith_sse_subscribers_total: 'counter',
      flagsmith_sse_http_writes_total: 'counter',
      flagsmith_sse_http_errors_total: 'counter',
      flagsmith_sse_nats_errors_total: 'counter',
      flagsmith_sse_nats_connected: 'gauge',
      flagsmith_sse_delivery_latency_seconds: 'histogram',
      flagsmith_sse_publishes_total: 'counter',
      flagsmith_sse_slow_subscribers_dropped_total: 'counter',
      flagsmith_sse_environments: 'gauge',
      flagsmith_sse_shed_total: 'counter',
      flagsmith_sse_stream_age_closes_total: 'counter',
      flagsmith_sse_updates_coalesced_total: 'counter',
    };
    for (const [name, type] of Object.entries(types)) expect(m.type(name), name).toBe(type);
    expect(m.value('flagsmith_sse_subscribers')).toBe(0);
    expect(m.value('flagsmith_sse_subscribers_total')).toBe(0);
    for (const message of ['keepalive', 'data']) {
      expect(writes(m, message)).toBe(0);
      expect(errors(m, message)).toBe(0);
    }
    expect(errors(m, 'healthcheck')).toBe(0);
    for (const op of [
      'connect',
      'publish',
      'create_jetstream',
      'create_consumer',
      'pull',
      'read',
      'ack',
    ]) {
      expect(m.value(`flagsmith_sse_nats_errors_total{operation="${op}"}`)).toBe(0);
    }
    for (const result of [
      'published',
      'duplicate',
      'stale',
      'invalid',
      'unauthorized',
      'unavailable',
    ]) {
      expect(publishes(m, result)).toBe(0);
    }
    for (const size of ['1', '2-10', '11-100', '101-1000', '1001+']) {
      expect(m.value(`flagsmith_sse_environments{subscribers="${size}"}`)).toBe(0);
    }
    for (const reason of ['max_subscribers', 'unavailable']) {
      expect(m.value(`flagsmith_sse_shed_total{reason="${reason}"}`)).toBe(0);
    }
    expect(m.value('flagsmith_sse_nats_connected')).toBe(1); // the embedded broker
    expect(m.value('flagsmith_sse_delivery_latency_seconds_bucket{le="0.001"}')).toBe(0);
    expect(m.value('flagsmith_sse_delivery_latency_seconds_bucket{le="+Inf"}')).toBe(0);
    expect(m.value('flagsmith_sse_stream_age_closes_total')).toBe(0);
    expect(m.value('flagsmith_sse_updates_coalesced_total')).toBe(0);
    expect(m.value('flagsmith_sse_slow_subscribers_dropped_total')).toBe(0);
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_open_fds',
      'process_max_fds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(m.type(name), name).toBeDefined();
    }
  });

  it('follows subscribers: gauge and total up on connect, gauge down on disconnect, environments by size', async () => {
    const { port } = await start();
    const a = await subscribe(port);
    let m = await scrapeUntil(
      port,
      (s) => s.value('flagsmith_sse_subscribers') === 1,
      '1 subscriber',
    );
    expect(m.value('flagsmith_sse_subscribers_total')).toBe(1);
    expect(m.value('flagsmith_sse_environments{subscribers="1"}')).toBe(1);

    await subscribe(port);
    await subscribe(port, OTHER);
    m = await scrapeUntil(port, (s) => s.value('flagsmith_sse_subscribers') === 3, '3 subscribers');
    expect(m.value('flagsmith_sse_subscribers_total')).toBe(3);
    expect(m.value('flagsmith_sse_environments{subscribers="1"}')).toBe(1); // OTHER
    expect(m.value('flagsmith_sse_environments{subscribers="2-10"}')).toBe(1); // ENV

    a.close();
    m = await scrapeUntil(port, (s) => s.value('flagsmith_sse_subscribers') === 2, 'back to 2');
    expect(m.value('flagsmith_sse_subscribers_total')).toBe(3);
    expect(m.value('flagsmith_sse_environments{subscribers="1"}')).toBe(2);
    expect(m.value('flagsmith_sse_environments{subscribers="2-10"}')).toBe(0);
  });

  it('counts publishes by result, one data write per subscriber per update, one latency observation per fan-out', async () => {
    const broker = new SwitchableBroker();
    const { port } = await start({ broker });
    const clients = [await subscribe(port), await subscribe(port)];
    await scrapeUntil(port, (s) => s.value('flagsmith_sse_subscribers') === 2, '2 subscribers');

    expect((await publish(port, stamp(BASE + 10))).status).toBe(200);
    for (const c of clients) await c.until((t) => t.includes(`${BASE + 10}`), 'the update');
    expect((await publish(port, stamp(BASE + 10))).status).toBe(200); // duplicate
    expect((await publish(port, stamp(BASE + 1))).status).toBe(200); // stale
    expect((await publish(port, '{"updated_at": "yesterday"}')).status).toBe(400);
    expect((await publish(port, stamp(BASE + 11), 'bad%20key')).status).toBe(400);
    expect((await publish(port, 'x'.repeat(5000))).status).toBe(400); // over the body limit
    expect((await publish(port, stamp(BASE + 12), ENV, 'Token wrong')).status).toBe(401);
    expect((await publish(port, stamp(BASE + 13), 'bad%20key', 'Token wrong')).status).toBe(401);
    // An empty key: no route matches, and it is still a refused publish.
    expect((await publish(port, stamp(BASE + 13), '')).status).toBe(400);
    expect((await publish(port, stamp(BASE + 13), '', 'Token wrong')).status).toBe(401);
    // Not a publish at all: not counted.
    expect((await publish(port, stamp(BASE + 13), 'x/y')).status).toBe(404);
    broker.force('unavailable');
    expect((await publish(port, stamp(BASE + 14))).status).toBe(503);
    broker.force(undefined);

    const m = await scrape(port);
    expect(publishes(m, 'published')).toBe(1);
    expect(publishes(m, 'duplicate')).toBe(1);
    expect(publishes(m, 'stale')).toBe(1);
    expect(publishes(m, 'invalid')).toBe(4);
    expect(publishes(m, 'unauthorized')).toBe(3);
    expect(publishes(m, 'unavailable')).toBe(1);
    expect(writes(m, 'data')).toBe(2);
    expect(m.value('flagsmith_sse_delivery_latency_seconds_count')).toBe(1);
    expect(m.value('flagsmith_sse_delivery_latency_seconds_bucket{le="+Inf"}')).toBe(1);

    // A new subscriber's initial event is a data write too.
    await subscribe(port);
    expect(writes(await scrape(port), 'data')).toBe(3);
    // Latency samples are observed once: the next scrape has no new ones.
    expect((await scrape(port)).value('flagsmith_sse_delivery_latency_seconds_count')).toBe(1);
  });

  it('counts keep-alives and probe responses as writes', async () => {
    const { port } = await start({ keepAliveIntervalMs: 100 });
    const client = await subscribe(port);
    await client.until((t) => (t.match(/: ping/g)?.length ?? 0) >= 2, 'two pings');
    const m1 = await scrape(port);
    expect(writes(m1, 'keepalive')).toBeGreaterThanOrEqual(2);

    expect((await fetch(`http://127.0.0.1:${port}/livez`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    const m2 = await scrapeUntil(port, (s) => writes(s, 'healthcheck') === 2, 'two probe writes');
    expect(errors(m2, 'healthcheck')).toBe(0);
    expect(writes(m2, 'keepalive')).toBeGreaterThanOrEqual(writes(m1, 'keepalive'));
  });

  it('counts a client resetting its connection as one write error, under what it was written last', async () => {
    const { broker, port } = await start({ keepAliveIntervalMs: 60_000 });
    const dataClient = await subscribe(port);
    await broker.publish(ENV, BASE + 1);
    await dataClient.until((t) => t.includes(`${BASE + 1}`), 'the update');
    dataClient.socket.resetAndDestroy();
    let m = await scrapeUntil(port, (s) => errors(s, 'data') === 1, 'one data write error');
    expect(errors(m, 'keepalive')).toBe(0);
    expect(m.value('flagsmith_sse_subscribers')).toBe(0);

    await app?.close();
    const second = await start({ keepAliveIntervalMs: 100 });
    const pinged = await subscribe(second.port, OTHER);
    await pinged.until((t) => t.includes(': ping'), 'a keep-alive');
    pinged.socket.resetAndDestroy();
    m = await scrapeUntil(second.port, (s) => errors(s, 'keepalive') === 1, 'one keep-alive error');
    expect(errors(m, 'data')).toBe(0);
  });

  it('counts a subscriber dropped for not reading', async () => {
    const { broker, port } = await start({
      slowSubscriberTimeoutMs: 1000,
      keepAliveIntervalMs: 60_000,
    });
    const sides = serverSides(app!);
    const stalled = await stalledClient(port);
    await waitFor(() => app?.realtimeHub.subscriberCount === 1, 'the stalled stream');
    await publishUntilBlocked(broker, sides);
    expect((await scrape(port)).value('flagsmith_sse_slow_subscribers_dropped_total')).toBe(0);
    const m = await scrapeUntil(
      port,
      (s) => s.value('flagsmith_sse_subscribers') === 0,
      'the stalled stream dropped',
    );
    expect(m.value('flagsmith_sse_slow_subscribers_dropped_total')).toBe(1);
    expect(stalled.socket.destroyed).toBe(false); // the server dropped it, not the client
  });

  it('counts refused subscriptions by reason', async () => {
    const broker = new SwitchableBroker();
    const { port } = await start({ broker, maxSubscribers: 1 });
    await subscribe(port);
    const refused = await subscribe(port);
    expect(refused.text).toMatch(/^HTTP\/1\.1 503 /);
    broker.force('unavailable');
    const unavailable = await subscribe(port, OTHER);
    expect(unavailable.text).toMatch(/^HTTP\/1\.1 503 /);
    let m = await scrape(port);
    expect(m.value('flagsmith_sse_shed_total{reason="max_subscribers"}')).toBe(1);
    expect(m.value('flagsmith_sse_shed_total{reason="unavailable"}')).toBe(1);
    expect(m.value('flagsmith_sse_nats_connected')).toBe(0);
    expect(m.value('flagsmith_sse_subscribers_total')).toBe(1);
    broker.force(undefined);
    m = await scrape(port);
    expect(m.value('flagsmith_sse_nats_connected')).toBe(1);
  });

  it("counts the broker's failed operations by name, reported through Broker.onError", async () => {
    const broker = new FailingBroker();
    const { port } = await start({ broker });
    broker.fail('connect');
    broker.fail('connect');
    broker.fail('read');
    broker.fail('no_such_operation'); // not exported: the series are fixed
    const m = await scrape(port);
    expect(m.value('flagsmith_sse_nats_errors_total{operation="connect"}')).toBe(2);
    expect(m.value('flagsmith_sse_nats_errors_total{operation="read"}')).toBe(1);
    expect(m.value('flagsmith_sse_nats_errors_total{operation="publish"}')).toBe(0);
    expect(m.text).not.toContain('no_such_operation');
    // The plugin stops listening when it closes.
    await app?.close();
    app = undefined;
    expect(broker.listeners).toBe(0);
  });

  it('gives each app its own registry', async () => {
    const first = await start();
    const other = await buildTestApp();
    try {
      const otherPort = await listen(other.app);
      await subscribe(first.port);
      await scrapeUntil(
        first.port,
        (s) => s.value('flagsmith_sse_subscribers') === 1,
        'first app: 1',
      );
      expect((await scrape(otherPort)).value('flagsmith_sse_subscribers')).toBe(0);
      expect(first.app.realtimeMetrics).not.toBe(other.app.realtimeMetrics);
    } finally {
      await other.app.close();
    }
  });

  it("builds the registry without serving it with metrics: 'registry'", async () => {
    const { app, port } = await start({ metrics: 'registry' });
    await subscribe(port);
    await waitFor(() => app.realtimeHub.subscriberCount === 1, 'the stream');
    expect(await app.realtimeMetrics?.metrics()).toMatch(/^flagsmith_sse_subscribers 1$/m);
    expect((await fetch(`http://127.0.0.1:${port}/metricsz`)).status).toBe(404);
  });

  it('is not served, and no registry exists, with metrics: false', async () => {
    const { app, port } = await start({ metrics: false });
    expect(app.realtimeMetrics).toBeUndefined();
    const res = await fetch(`http://127.0.0.1:${port}/metricsz`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { code: 'not_found', message: 'No route GET /metricsz.' },
    });
  });
});

/** An embedded broker that reports failed operations when told to, as JetStream's does. */
class FailingBroker extends EmbeddedBroker {
  readonly #errors = new Set<BrokerErrorListener>();

  get listeners(): number {
    return this.#errors.size;
  }

  onError(listener: BrokerErrorListener): () => void {
    this.#errors.add(listener);
    return () => this.#errors.delete(listener);
  }

  fail(operation: string): void {
    for (const listener of this.#errors) listener(operation, new Error(`${operation} failed`));
  }
}

/** A client that sends the request and then never reads: its receive window fills up. */
async function stalledClient(port: number): Promise<{ socket: Socket }> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.pause();
  socket.write(`GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: x\r\n\r\n`);
  closers.push(socket);
  return { socket };
}

/** Publishes increasing timestamps until the stalled subscriber's socket (server side) refuses writes. */
async function publishUntilBlocked(broker: Broker, sides: { blocked(): ServerSide[] }) {
  let n = 0;
  while (sides.blocked().length === 0) {
    for (let i = 0; i < 500; i++) await broker.publish(ENV, BASE + ++n);
    await new Promise((resolve) => setImmediate(resolve));
    if (n > 400_000) throw new Error('the stalled subscriber never blocked');
  }
}
