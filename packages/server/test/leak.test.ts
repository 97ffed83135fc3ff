import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTestApp, listen } from './helpers/http-app.js';
import { waitFor } from './helpers/wait-for.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let app: FastifyInstance | undefined;
afterAll(async () => {
  await app?.close();
});

/** Opens a stream, waits for its head, closes it from the client side. */
function cycle(port: number, environment: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.on('error', reject);
    socket.on('connect', () =>
      socket.write(`GET /sse/environments/${environment}/stream HTTP/1.1\r\nHost: x\r\n\r\n`),
    );
    socket.once('data', () => socket.destroy());
    socket.on('close', () => resolve());
  });
}

async function cycles(port: number, count: number, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await cycle(port, `env-${i % 1000}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return process.memoryUsage().heapUsed;
}

describe('open/close cycles', () => {
  it('returns to zero subscribers and the baseline heap after 10,000 streams', async () => {
    const built = await buildTestApp({ keepAliveIntervalMs: 60_000 });
    app = built.app;
    const hub = app.realtimeHub;
    const port = await listen(app);
    // Warm up: JIT, pools and Fastify's internals reach their steady size.
    await cycles(port, 1000, 20);
    await waitFor(() => hub.subscriberCount === 0, 'no streams after warm-up');
    const baseline = await settledHeap();

    await cycles(port, 10_000, 20);
    await waitFor(() => hub.subscriberCount === 0, 'no streams after 10,000 cycles');
    expect(hub.environmentCount).toBe(0);
    expect(hub.stats.subscribersTotal).toBe(11_000);
    const after = await settledHeap();
    // A leaked subscriber keeps its socket and request (several KB each):
    // 10,000 of them would add tens of MB.
    expect(after - baseline).toBeLessThan(3 * 1024 * 1024);
  }, 60_000);
});
