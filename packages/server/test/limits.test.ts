import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../src/broker/embedded.js';
import { frameworkErrorHandler } from '../src/http/error-handler.js';
import { fastifyLimitOptions } from '../src/http/limits.js';
import { ROUTER_OPTIONS } from '../src/http/server-options.js';
import { flagsmithRealtime } from '../src/plugin.js';
import { AUTH, listen, TOKEN } from './helpers/http-app.js';
import { RawClient } from './helpers/raw-client.js';

const ENV = 'limits_env';
let app: FastifyInstance | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await app?.close();
  app = undefined;
});

/** The plugin on a server with the limits as an app would set them, on a real port. */
async function start(requestTimeoutMs: number, keepAliveIntervalMs = 60_000): Promise<number> {
  const broker = new EmbeddedBroker();
  await broker.start();
  app = Fastify({
    logger: false,
    routerOptions: { ...ROUTER_OPTIONS },
    frameworkErrors: frameworkErrorHandler,
    return503OnClosing: false,
    ...fastifyLimitOptions({ maxHeaderBytes: 16 * 1024, requestTimeoutMs }),
  });
  await app.register(flagsmithRealtime, {
    broker,
    authToken: TOKEN,
    drainWindowMs: 0,
    keepAliveIntervalMs,
  });
  app.addHook('onClose', async () => broker.close());
  return listen(app);
}

async function open(port: number, request: string): Promise<RawClient> {
  const client = await RawClient.open(port, request);
  clients.push(client);
  return client;
}

/** Status line and JSON body of a complete response. */
function parse(text: string): { status: number; body: unknown } {
  const end = text.indexOf('\r\n\r\n');
  return { status: Number(text.slice(9, 12)), body: JSON.parse(text.slice(end + 4)) };
}

async function stillServes(port: number): Promise<void> {
  expect((await fetch(`http://127.0.0.1:${port}/livez`)).status).toBe(200);
}

describe('request limits', () => {
  it('answers a request head over 16 KiB with 431 in the JSON error shape and closes', async () => {
    const port = await start(5_000);
    const big = randomBytes(9 * 1024).toString('hex'); // 18 KiB of header
    const client = await open(
      port,
      `GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\n\r\n`,
    );
    await client.closed;
    const { status, body } = parse(client.text);
    expect(status).toBe(431);
    expect(client.text).toContain('Access-Control-Allow-Origin: *');
    expect(body).toEqual({
      error: { code: 'headers_too_large', message: expect.stringContaining('too large') },
    });
    expect(app?.realtimeHub.subscriberCount).toBe(0);
    await stillServes(port);
  });

  it('accepts a head just under the limit', async () => {
    const port = await start(5_000);
    const res = await fetch(`http://127.0.0.1:${port}/livez`, {
      headers: { 'x-filler': 'a'.repeat(15 * 1024) },
    });
    expect(res.status).toBe(200);
  });

  it('answers a body over the publish limit with 400 before reading it, and nothing is published', async () => {
    const port = await start(5_000);
    const client = await open(
      port,
      `POST /sse/environments/${ENV}/queue-change HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTH}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n{"updated_at": 1',
    );
    await client.until((t) => t.includes('}}'), 'the error response');
    const { status, body } = parse(client.text);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: { code: 'body_too_large' } });
    expect(app?.realtimeBroker.latest(ENV)).toBeUndefined();
    await stillServes(port);
  });

  it('closes a slowloris head with 408 after the request timeout', async () => {
    const port = await start(400);
    const client = await open(port, 'GET /livez HTTP/1.1\r\nHost: x\r\n');
    const started = Date.now();
    const drip = setInterval(() => {
      if (!client.socket.destroyed) client.socket.write(`X-Drip-${Date.now()}: 1\r\n`);
    }, 50);
    try {
      await client.closed;
    } finally {
      clearInterval(drip);
    }
    expect(Date.now() - started).toBeLessThan(3_000);
    const { status, body } = parse(client.text);
    expect(status).toBe(408);
    expect(body).toMatchObject({ error: { code: 'request_timeout' } });
    await stillServes(port);
  });

  it('closes a publish whose body trickles in with 408', async () => {
    const port = await start(400);
    const client = await open(
      port,
      `POST /sse/environments/${ENV}/queue-change HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTH}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{',
    );
    await client.closed;
    expect(client.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(client.text).not.toMatch(/^HTTP\/1\.1 5/);
    await stillServes(port);
  });

  it('never applies the request timeout to a stream once its request was received', async () => {
    const port = await start(200, 100);
    const client = await open(
      port,
      `GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    await client.until((t) => t.startsWith('HTTP/1.1 200 OK'), 'the stream head');
    // Ten request timeouts later (the check runs every 50 ms), the stream is still open and flowing.
    await client.until(
      (t) => (t.match(/: ping/g)?.length ?? 0) >= 15,
      'fifteen keep-alives',
      5_000,
    );
    expect(client.isEnded).toBe(false);
    expect(app?.realtimeHub.subscriberCount).toBe(1);
  });
});
