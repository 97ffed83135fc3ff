import { createServer, type Server, type Socket } from 'node:net';
import { encodeChunk, encodeUpdateFrame } from '@flagsmith-rt/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../src/broker/embedded.js';
import { http1ResponseHead, pendingHttp1Stream } from '../src/fanout/http1-sink.js';
import { Hub } from '../src/fanout/hub.js';
import { Stats } from '../src/fanout/stats.js';
import { ManualClock } from './helpers/manual-clock.js';
import { RawClient } from './helpers/raw-client.js';

// The opening write of an HTTP/1 stream (head + first frames) is built once and reused while
// the second and the first frames stay the same. Whatever is reused, every stream must still
// get exactly its own head and initial event, byte for byte.
describe('the opening write of HTTP/1 streams', () => {
  const broker = new EmbeddedBroker();
  // Half a second into a second: the clock below crosses into the next one when told to.
  const clock = new ManualClock(Date.UTC(2026, 11, 3, 10, 0, 0, 500));
  const hub = new Hub({
    broker,
    stats: new Stats(),
    eventIds: true,
    retryMs: 2000,
    keepAliveIntervalMs: 60_000,
    slowSubscriberTimeoutMs: 60_000,
    clock: clock.now,
  });
  const clients: RawClient[] = [];
  /** How the next connection is taken over: environment and framing. */
  const next: Array<{ environment: string; chunked: boolean }> = [];
  let server: Server;
  let port: number;

  beforeAll(async () => {
    await broker.start();
    hub.start();
    server = createServer((socket: Socket) => {
      socket.once('data', () => {
        const { environment, chunked } = next.shift()!;
        hub.subscribe(pendingHttp1Stream(socket, chunked), environment, undefined);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address !== null ? address.port : 0;
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    hub.stop();
    await broker.close();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Opens one stream and resolves with every byte of its opening write. */
  async function open(environment: string, chunked: boolean): Promise<string> {
    next.push({ environment, chunked });
    const client = await RawClient.open(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    clients.push(client);
    const want = expected(environment, chunked).length;
    await client.until(() => client.raw.length >= want, `the opening write of ${environment}`);
    return client.raw;
  }

  /** What a stream of `environment` must receive first, at the clock's time. */
  function expected(environment: string, chunked: boolean): string {
    const latest = broker.latest(environment)!;
    const retry = 'retry: 2000\n\n';
    const event = Buffer.from(encodeUpdateFrame(latest, { id: true })).toString('latin1');
    const frame = (text: string) =>
      chunked ? Buffer.from(encodeChunk(Buffer.from(text, 'latin1'))).toString('latin1') : text;
    return http1ResponseHead(new Date(clock.now()), chunked) + frame(retry) + frame(event);
  }

  it('gives each stream its own environment, framing, second and latest timestamp', async () => {
    await broker.publish('env_one', 1_700_000_001.5);
    await broker.publish('env_two', 1_700_000_002.25);

    // Same second: alternating environments and framings, each exactly its own.
    const first = await open('env_one', true);
    expect(first).toBe(expected('env_one', true));
    expect(first).toContain('data: {"updated_at": 1700000001.5}');
    expect(await open('env_two', true)).toBe(expected('env_two', true));
    expect(await open('env_one', false)).toBe(expected('env_one', false));
    expect(await open('env_one', true)).toBe(first);
    expect(await open('env_two', false)).toBe(expected('env_two', false));

    // The next second: a new Date, the same event.
    clock.advance(600);
    const later = await open('env_one', true);
    expect(later).toBe(expected('env_one', true));
    expect(later).not.toBe(first);
    expect(later.replace(/^Date: .*$/m, '')).toBe(first.replace(/^Date: .*$/m, ''));

    // A newer update: the streams opened after it start with it.
    await broker.publish('env_one', 1_700_000_003);
    const newer = await open('env_one', true);
    expect(newer).toBe(expected('env_one', true));
    expect(newer).toContain('data: {"updated_at": 1700000003');
  });
});
