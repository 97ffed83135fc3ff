import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startNatsServer } from '@flagsmith-rt/nats-launcher';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { type AppConfig, parseConfig } from '../src/config.js';
import { testConfig } from './helpers/config.js';
import { type SelfSignedCert, selfSignedCert } from './helpers/self-signed.js';
import { waitFor } from './helpers/sse-client.js';

const ENV = 'operations_env';
const apps: FastifyInstance[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function instance(
  overrides: Partial<AppConfig> = {},
): Promise<{ app: FastifyInstance; port: number }> {
  const app = buildApp(testConfig(overrides), { logger: false });
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { app, port: address.port };
}

/** Sends raw bytes (over TLS with `tls`) and collects the answer until the server closes the connection. */
function raw(port: number, request: string, drip?: string, tls = false) {
  const socket: Socket = tls
    ? tlsConnect({
        port,
        host: '127.0.0.1',
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
      })
    : connect({ port, host: '127.0.0.1' });
  cleanups.push(() => socket.destroy());
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  socket.write(request);
  const timer = drip ? setInterval(() => !socket.destroyed && socket.write(drip), 50) : undefined;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    text: () => Buffer.concat(chunks).toString('latin1'),
    closed: closed.finally(() => clearInterval(timer)),
  };
}

describe('operations configuration', () => {
  it('parses METRICS_ENABLED, MAX_STREAM_AGE, MAX_HEADER_SIZE and REQUEST_TIMEOUT, with defaults', () => {
    const defaults = parseConfig({});
    expect(defaults.ok && defaults.value).toMatchObject({
      metricsEnabled: true,
      maxStreamAgeMs: 0,
      limits: { maxHeaderBytes: 16384, requestTimeoutMs: 10_000 },
    });
    const set = parseConfig({
      METRICS_ENABLED: 'False',
      MAX_STREAM_AGE: '3600',
      MAX_HEADER_SIZE: '32768',
      REQUEST_TIMEOUT: '2.5',
    });
    expect(set.ok && set.value).toMatchObject({
      metricsEnabled: false,
      maxStreamAgeMs: 3_600_000,
      limits: { maxHeaderBytes: 32768, requestTimeoutMs: 2500 },
    });
  });

  it('names each invalid variable', () => {
    const result = parseConfig({
      METRICS_ENABLED: 'yes',
      MAX_STREAM_AGE: '-1',
      MAX_HEADER_SIZE: '10',
      REQUEST_TIMEOUT: '0',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.variable).sort()).toEqual([
      'MAX_HEADER_SIZE',
      'MAX_STREAM_AGE',
      'METRICS_ENABLED',
      'REQUEST_TIMEOUT',
    ]);
  });
});

describe('refusal and stream-age configuration (REFUSAL.md)', () => {
  it('parses REFUSAL_HOLD_MS and REFUSAL_HOLD_MAX, with defaults of 1000', () => {
    const defaults = parseConfig({});
    expect(defaults.ok && defaults.value).toMatchObject({
      refusalHoldMs: 1000,
      refusalHoldMax: 1000,
    });
    const set = parseConfig({ REFUSAL_HOLD_MS: '0', REFUSAL_HOLD_MAX: '50' });
    expect(set.ok && set.value).toMatchObject({ refusalHoldMs: 0, refusalHoldMax: 50 });
    const bad = parseConfig({ REFUSAL_HOLD_MS: '1.5', REFUSAL_HOLD_MAX: '0' });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.errors.map((e) => e.variable).sort()).toEqual([
      'REFUSAL_HOLD_MAX',
      'REFUSAL_HOLD_MS',
    ]);
  });

  it('refuses a MAX_STREAM_AGE under 1.25 s, which would reconnect a no-backoff SDK more than once a second', () => {
    const short = parseConfig({ MAX_STREAM_AGE: '1' });
    expect(short.ok).toBe(false);
    if (short.ok) return;
    expect(short.errors).toEqual([
      expect.objectContaining({
        variable: 'MAX_STREAM_AGE',
        message: expect.stringContaining('1.25'),
      }),
    ]);
    const shortest = parseConfig({ MAX_STREAM_AGE: '1.25' });
    expect(shortest.ok && shortest.value.maxStreamAgeMs).toBe(1250);
  });
});

describe('the service', () => {
  it('serves /metricsz by default and nothing there with METRICS_ENABLED=false', async () => {
    const on = await instance();
    const res = await fetch(`http://127.0.0.1:${on.port}/metricsz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toContain('flagsmith_sse_subscribers 0');
    const off = await instance({ metricsEnabled: false });
    expect((await fetch(`http://127.0.0.1:${off.port}/metricsz`)).status).toBe(404);
  });

  it('answers an oversized head with 431 and a slowloris with 408 in the JSON shape, and keeps serving', async () => {
    const { port } = await instance({ limits: { maxHeaderBytes: 16384, requestTimeoutMs: 300 } });
    const big = raw(
      port,
      `GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: x\r\nX-Big: ${randomBytes(9000).toString('hex')}\r\n\r\n`,
    );
    await big.closed;
    expect(big.text()).toMatch(/^HTTP\/1\.1 431 [\s\S]*\{"error":\{"code":"headers_too_large"/);
    const slow = raw(port, 'GET /livez HTTP/1.1\r\nHost: x\r\n', 'X-Drip: 1\r\n');
    await slow.closed;
    expect(slow.text()).toMatch(/^HTTP\/1\.1 408 [\s\S]*\{"error":\{"code":"request_timeout"/);
    expect((await fetch(`http://127.0.0.1:${port}/livez`)).status).toBe(200);
  });

  it('never applies REQUEST_TIMEOUT to a stream whose request was received', async () => {
    const { app, port } = await instance({
      keepAliveIntervalMs: 100,
      limits: { maxHeaderBytes: 16384, requestTimeoutMs: 200 },
    });
    const stream = raw(port, `GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: x\r\n\r\n`);
    // Six request timeouts (checked every 50 ms) pass while the stream keeps flowing.
    await waitFor(
      () => (stream.text().match(/: ping/g)?.length ?? 0) >= 12,
      'twelve keep-alives',
      5_000,
    );
    expect(stream.text()).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(stream.socket.destroyed).toBe(false);
    expect(app.realtimeHub.subscriberCount).toBe(1);
  });

  it('sheds streams beyond MAX_SUBSCRIBERS with 503 + Retry-After, and admits again once one closes', async () => {
    const parsed = parseConfig({ MAX_SUBSCRIBERS: '2' });
    if (!parsed.ok) throw new Error('config');
    const { app, port } = await instance({ maxSubscribers: parsed.value.maxSubscribers });
    const path = `GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: x\r\n\r\n`;
    const first = raw(port, path);
    raw(port, path);
    await waitFor(() => first.text().startsWith('HTTP/1.1 200 OK'), 'the first stream');
    await waitFor(() => app.realtimeHub.subscriberCount === 2, 'both slots taken');
    const shed = await fetch(`http://127.0.0.1:${port}/sse/environments/${ENV}/stream`);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('5');
    expect(await shed.json()).toMatchObject({ error: { code: 'too_many_subscribers' } });
    first.socket.destroy();
    const admitted = raw(port, path);
    await waitFor(() => admitted.text().startsWith('HTTP/1.1 200 OK'), 'admitted after one closed');
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metricsz`)).text();
    expect(metrics).toMatch(/flagsmith_sse_shed_total\{reason="max_subscribers"\} [1-9]/);
  });

  it('ends streams at MAX_STREAM_AGE', async () => {
    const { app, port } = await instance({ maxStreamAgeMs: 300 });
    const stream = raw(port, `GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: x\r\n\r\n`);
    await stream.closed;
    expect(stream.text()).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(app.realtimeHub.stats.streamAgeCloses).toBe(1);
  });

  it('counts NATS errors from the broker it builds', async () => {
    const nats = await startNatsServer();
    cleanups.push(() => nats.stop());
    const { port } = await instance({
      nats: { servers: [nats.url], replicas: 1, storage: 'memory' },
    });
    await nats.kill('SIGKILL');
    await waitFor(async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metricsz`)).text();
      return (
        text.includes('flagsmith_sse_nats_connected 0') &&
        /flagsmith_sse_nats_errors_total\{operation="connect"\} [1-9]/.test(text)
      );
    }, 'nats_connected 0 and a connect error');
  });
});

describe('the limits over HTTPS (TLS_CERT/TLS_KEY, HTTP/1.1 by ALPN)', () => {
  let tls: SelfSignedCert;
  beforeAll(() => {
    tls = selfSignedCert();
  });
  afterAll(() => tls.remove());

  it('431 for a head over MAX_HEADER_SIZE, 408 for a slowloris, and streams outlive the timeout', async () => {
    const parsed = parseConfig({
      TLS_CERT: tls.cert,
      TLS_KEY: tls.key,
      MAX_HEADER_SIZE: '4096',
      REQUEST_TIMEOUT: '0.3',
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const { port } = await instance({ ...parsed.value, port: 0, keepAliveIntervalMs: 100 });
    // 8 KiB: under Node's default 16 KiB, so only the configured limit refuses it.
    const big = raw(
      port,
      `GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8192)}\r\n\r\n`,
      undefined,
      true,
    );
    await big.closed;
    expect(big.text()).toMatch(/^HTTP\/1\.1 431 [\s\S]*"headers_too_large"/);
    const slow = raw(port, 'GET /livez HTTP/1.1\r\nHost: x\r\n', 'X-Drip: 1\r\n', true);
    await slow.closed;
    expect(slow.text()).toMatch(/^HTTP\/1\.1 408 [\s\S]*"request_timeout"/);
    const stream = raw(
      port,
      `GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: x\r\n\r\n`,
      undefined,
      true,
    );
    await waitFor(
      () => (stream.text().match(/: ping/g)?.length ?? 0) >= 10,
      'ten keep-alives over TLS',
    );
    expect(stream.text()).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(stream.socket.destroyed).toBe(false);
  });
});
