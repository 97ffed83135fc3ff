import { connect, type Socket } from 'node:net';
import { getDefaultHighWaterMark } from 'node:stream';
import { encodeChunk, encodeUpdateFrame } from '@flagsmith-rt/protocol';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../src/broker/broker.js';
import { buildTestApp, listen } from './helpers/http-app.js';
import { RawClient } from './helpers/raw-client.js';
import { scrape } from './helpers/scrape.js';
import { type ServerSide, serverSides } from './helpers/server-streams.js';
import { waitFor } from './helpers/wait-for.js';

const ENV = 'backpressure';
const BASE = 1_700_000_000;

let app: FastifyInstance | undefined;
const sockets: Array<{ destroy(): void }> = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await app?.close();
  app = undefined;
});

/** A client that sends the request and then never reads: its receive window fills up. */
async function stalledClient(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.pause();
  socket.write(`GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: x\r\n\r\n`);
  sockets.push(socket);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed };
}

/** Publishes increasing timestamps until the stalled subscriber's socket (server side) refuses writes. */
async function publishUntilBlocked(
  broker: Broker,
  sides: { blocked(): ServerSide[] },
): Promise<number> {
  let n = 0;
  while (sides.blocked().length === 0) {
    for (let i = 0; i < 500; i++) await broker.publish(ENV, BASE + ++n);
    // Let the healthy client read between batches.
    await new Promise((resolve) => setImmediate(resolve));
    if (n > 400_000) throw new Error('the stalled subscriber never blocked');
  }
  return n;
}

/** The app (no keep-alives), its hub, the server's side of each connection, and its port. */
async function start(slowSubscriberTimeoutMs: number) {
  const built = await buildTestApp({ slowSubscriberTimeoutMs, keepAliveIntervalMs: 60_000 });
  app = built.app;
  const sides = serverSides(app);
  return { built, hub: app.realtimeHub, sides, port: await listen(app) };
}

function timestampsIn(body: string): number[] {
  return [...body.matchAll(/^data: \{"updated_at": ([\d.]+)\}$/gm)].map((m) => Number(m[1]));
}

describe('a subscriber that stops reading', () => {
  it('keeps one pending timestamp, is dropped after the timeout, and does not hold back others', async () => {
    const { built, hub, sides, port } = await start(1000);
    const healthy = await RawClient.get(port, `/sse/environments/${ENV}/stream`);
    sockets.push(healthy.socket);
    const stalled = await stalledClient(port);
    await waitFor(() => hub.subscriberCount === 2, 'two streams');

    const blockedAfter = await publishUntilBlocked(built.broker, sides);
    const [blocked] = sides.blocked();
    const queuedWhenBlocked = blocked!.writableLength;
    // Bounded by the socket's high-water mark plus one frame (16 KiB on Node 20, 64 KiB from Node 22).
    expect(queuedWhenBlocked).toBeLessThanOrEqual(getDefaultHighWaterMark(false) + 128);

    let last = blockedAfter;
    const dataWrites = async () =>
      (await scrape(port)).value('flagsmith_sse_http_writes_total{message="data"}');
    const before = await dataWrites();
    for (let i = 0; i < 2000; i++) await built.broker.publish(ENV, BASE + ++last);
    // Nothing more was written or queued for it: the hub keeps only the newest timestamp
    // (delivered once the socket drains, as the next test shows), not 2,000 frames.
    expect(await dataWrites()).toBe(before + 2000); // the healthy stream's
    expect(sides.blocked()).toEqual([blocked]);
    expect(blocked!.writableLength).toBe(queuedWhenBlocked);

    await waitFor(() => hub.subscriberCount === 1, 'the stalled stream removed', 5000);
    expect(hub.stats.slowSubscribersDropped).toBe(1);
    // Once it reads again it finds the connection closed.
    stalled.socket.resume();
    await stalled.closed;

    const text = await healthy.until(
      (t) => t.includes(`${BASE + last}.0\n`),
      'every update',
      10_000,
    );
    const expected = Array.from({ length: last }, (_, i) => BASE + i + 1);
    expect(timestampsIn(text)).toEqual(expected);
    expect(healthy.isEnded).toBe(false);
  }, 60_000);

  it('gets the newest missed update once it reads again before the timeout', async () => {
    const { built, hub, sides, port } = await start(30_000);
    const stalled = await stalledClient(port);
    await waitFor(() => hub.subscriberCount === 1, 'one stream');
    let last = await publishUntilBlocked(built.broker, sides);
    for (let i = 0; i < 100; i++) await built.broker.publish(ENV, BASE + ++last);

    const chunks: Buffer[] = [];
    stalled.socket.on('data', (c: Buffer) => chunks.push(c));
    stalled.socket.resume();
    const text = await waitFor(() => {
      const t = Buffer.concat(chunks).toString('latin1');
      // The frame's chunk ends with CRLF after the frame.
      return (
        t.endsWith(`data: {"updated_at": ${BASE + last}.0}\nid: ${BASE + last}.0\n\n\r\n`) && t
      );
    }, 'the newest update after the backlog');
    const seen = timestampsIn(text);
    // The backlog arrives in order, then the newest pending one; the ones in between were skipped.
    expect(seen.at(-1)).toBe(BASE + last);
    expect(seen.at(-2)).toBeLessThan(BASE + last - 100);
    // Unblocked, with nothing pending: the next update is written at once, and alone.
    expect(sides.blocked()).toEqual([]);
    const settled = Buffer.concat(chunks).length;
    await built.broker.publish(ENV, BASE + last + 1);
    const chunk = Buffer.from(encodeChunk(encodeUpdateFrame(BASE + last + 1, { id: true })));
    const after = () => Buffer.concat(chunks).subarray(settled);
    await waitFor(() => after().length >= chunk.length, 'the next update');
    expect(after().toString('latin1')).toBe(chunk.toString('latin1'));
    expect(hub.stats.slowSubscribersDropped).toBe(0);
  }, 60_000);
});
