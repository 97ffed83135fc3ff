import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { testConfig } from './helpers/config.js';
import { waitFor } from './helpers/sse-client.js';

const ENV = 'n9fbf9h3v4fFgH3U3ngWhb';
const REQUEST_TIMEOUT_MS = 300;

let app: FastifyInstance | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await app?.close();
  app = undefined;
});

async function start(h2c: boolean): Promise<number> {
  app = buildApp(
    testConfig({
      h2c,
      keepAliveIntervalMs: 100,
      limits: { maxHeaderBytes: 16_384, requestTimeoutMs: REQUEST_TIMEOUT_MS },
    }),
    { logger: false },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** Connects, sends `bytes` (if any), and records what comes back and when the server closes. */
async function client(port: number, bytes?: string) {
  const socket = connect({ port, host: '127.0.0.1' });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const openedAt = Date.now();
  let text = '';
  let closedAfterMs: number | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (c: string) => {
    text += c;
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closedAfterMs = Date.now() - openedAt;
  });
  if (bytes !== undefined) socket.write(bytes);
  return { text: () => text, closedAfterMs: () => closedAfterMs };
}

describe('connections whose protocol is not known yet (h2c on: the preface is sniffed)', () => {
  it('closes a silent connection and a partial h2 preface after the request timeout, and no stream', async () => {
    const port = await start(true);
    const silent = await client(port);
    const partialPreface = await client(port, 'PRI * HTTP/2.0\r\n');
    const stream = await client(
      port,
      `GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    for (const c of [silent, partialPreface]) {
      const after = await waitFor(() => c.closedAfterMs(), 'the server closing it', 5_000);
      // Never before its time: the deadline counts from the accept.
      expect(after).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
      expect(c.text()).toBe('');
    }
    // The stream's first bytes decided its protocol: it lives on, well past the deadline.
    await waitFor(
      () => (stream.text().match(/: ping/g)?.length ?? 0) >= 8,
      'eight keep-alives on the stream',
    );
    expect(stream.closedAfterMs()).toBeUndefined();
    expect(stream.text()).toMatch(/^HTTP\/1\.1 200 OK/);
  });

  it('keeps checking after a quiet spell: a later silent connection is closed too', async () => {
    const port = await start(true);
    const first = await client(port);
    await waitFor(() => first.closedAfterMs(), 'the first silent connection closed', 5_000);
    const second = await client(port);
    await waitFor(() => second.closedAfterMs(), 'the second silent connection closed', 5_000);
  });
});
