import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { AUTH, buildTestApp, listen, SwitchableBroker } from './helpers/http-app.js';
import { RawClient } from './helpers/raw-client.js';
import { waitFor } from './helpers/wait-for.js';

const ENV = 'n9fbf9h3v4fFgH3U3ngWhb';
const FRAME =
  'event: environment_updated\ndata: {"updated_at": 1735229888.76}\nid: 1735229888.76\n\n';
const HEAD_START =
  'HTTP\\/1\\.1 200 OK\\r\\nContent-Type: text\\/event-stream\\r\\nCache-Control: no-cache\\r\\nX-Accel-Buffering: no\\r\\nAccess-Control-Allow-Origin: \\*\\r\\nDate: [A-Z][a-z]{2}, \\d{2} [A-Z][a-z]{2} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT\\r\\n';
/** The head of an HTTP/1.1 stream: chunked (PROTOCOL.md "The stream"). */
const HEAD_PATTERN = new RegExp(
  `^${HEAD_START}Transfer-Encoding: chunked\\r\\nConnection: close\\r\\n\\r\\n`,
);
/** The head of an HTTP/1.0 stream: close-delimited, no chunked coding in HTTP/1.0. */
const HTTP10_HEAD_PATTERN = new RegExp(`^${HEAD_START}Connection: close\\r\\n\\r\\n`);
/** FRAME as one HTTP/1.1 chunk. */
const FRAME_CHUNK = `${FRAME.length.toString(16)}\r\n${FRAME}\r\n`;

let app: FastifyInstance | undefined;
const clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await app?.close();
  app = undefined;
});

async function start(options: Parameters<typeof buildTestApp>[0] = {}) {
  const built = await buildTestApp(options);
  app = built.app;
  return { app: built.app, broker: built.broker, port: await listen(built.app) };
}

async function subscribe(
  port: number,
  path = `/sse/environments/${ENV}/stream`,
  headers: string[] = [],
) {
  const client = await RawClient.get(port, path, headers);
  clients.push(client);
  return client;
}

async function streamsOpen(count: number): Promise<void> {
  await waitFor(() => app?.realtimeHub.subscriberCount === count, `${count} open streams`);
}

describe('the stream, byte for byte', () => {
  it('writes a chunked head with no length, then each update as one chunk of its exact bytes', async () => {
    const { broker, port } = await start();
    const client = await subscribe(port);
    await client.until((t) => t.includes('\r\n\r\n'), 'the head');
    expect(client.raw).toMatch(HEAD_PATTERN);
    expect(client.raw.toLowerCase()).not.toContain('content-length');
    expect(client.body).toBe('');
    await streamsOpen(1);

    await broker.publish(ENV, 1735229888.76);
    await client.until((t) => t.endsWith(FRAME), 'the update');
    expect(client.raw.slice(client.raw.indexOf('\r\n\r\n') + 4)).toBe(FRAME_CHUNK);
    expect(client.body).toBe(FRAME);
    await broker.publish(ENV, 1735229890);
    await client.until((t) => t.endsWith('1735229890.0\n\n'), 'the second update');
    expect(client.body).toBe(
      `${FRAME}event: environment_updated\ndata: {"updated_at": 1735229890.0}\nid: 1735229890.0\n\n`,
    );
  });

  it('delivers an update published over HTTP to the stream', async () => {
    const { port } = await start();
    const client = await subscribe(port);
    await streamsOpen(1);
    const res = await fetch(`http://127.0.0.1:${port}/sse/environments/${ENV}/queue-change`, {
      method: 'POST',
      headers: { authorization: AUTH },
      body: '{"updated_at":"2024-12-26T16:18:08.760000+00:00"}',
    });
    expect(res.status).toBe(200);
    await client.until((t) => t.endsWith(FRAME), 'the update');
    expect(client.body).toBe(FRAME);
  });

  it('omits id: when eventIds is off', async () => {
    const { broker, port } = await start({ eventIds: false });
    const client = await subscribe(port);
    await streamsOpen(1);
    await broker.publish(ENV, 1735229888.76);
    await client.until((t) => t.endsWith('\n\n') && t.includes('data:'), 'the update');
    expect(client.body).toBe('event: environment_updated\ndata: {"updated_at": 1735229888.76}\n\n');
  });

  it('sends only the environment subscribed to', async () => {
    const { broker, port } = await start();
    const client = await subscribe(port);
    await streamsOpen(1);
    await broker.publish('other-environment', 1735229999);
    await broker.publish(ENV, 1735229888.76);
    await client.until((t) => t.endsWith(FRAME), 'the update');
    expect(client.body).toBe(FRAME);
  });

  it('starts with retry: and the latest timestamp in the first write', async () => {
    const { broker, port } = await start({ retryMs: 2500 });
    await broker.publish(ENV, 1735229888.76);
    const client = await subscribe(port);
    await client.until((t) => t.endsWith(FRAME), 'the initial event');
    expect(client.body).toBe(`retry: 2500\n\n${FRAME}`);
  });

  it('sends no initial event when nothing was published', async () => {
    const { broker, port } = await start({ keepAliveIntervalMs: 100 });
    await broker.publish('other-environment', 1735229999);
    const client = await subscribe(port);
    await client.until((t) => t.includes(': ping'), 'a keep-alive');
    expect(client.body).toBe(': ping\n\n');
  });
});

describe('resuming with Last-Event-ID', () => {
  it.each([
    ['header equal to the latest', ['Last-Event-ID: 1735229888.76'], ''],
    ['query equal to the latest', [], '?lastEventId=1735229888.76'],
    ['header newer than the latest', ['Last-Event-ID: 1735229999.5'], ''],
  ])('skips the initial event: %s', async (_name, headers, query) => {
    const { broker, port } = await start({ keepAliveIntervalMs: 100 });
    await broker.publish(ENV, 1735229888.76);
    const client = await subscribe(port, `/sse/environments/${ENV}/stream${query}`, headers);
    await client.until((t) => t.includes(': ping'), 'a keep-alive');
    expect(client.body).toBe(': ping\n\n');
  });

  it.each([
    ['header older than the latest', ['Last-Event-ID: 1735229000.0'], ''],
    ['query older than the latest', [], '?lastEventId=1735229000'],
    ['header that is not a timestamp', ['Last-Event-ID: abc'], ''],
  ])('sends the initial event: %s', async (_name, headers, query) => {
    const { broker, port } = await start();
    await broker.publish(ENV, 1735229888.76);
    const client = await subscribe(port, `/sse/environments/${ENV}/stream${query}`, headers);
    await client.until((t) => t.endsWith(FRAME), 'the initial event');
    expect(client.body).toBe(FRAME);
  });
});

describe('keep-alive', () => {
  it('writes ": ping" after the configured quiet interval, never data', async () => {
    const { port } = await start({ keepAliveIntervalMs: 100 });
    const client = await subscribe(port);
    await client.until((t) => t.split(': ping\n\n').length > 3, 'three keep-alives', 2000);
    expect(client.body).toMatch(/^(: ping\n\n)+$/);
    // Each keep-alive is its own prebuilt chunk.
    expect(client.raw.slice(client.raw.indexOf('\r\n\r\n') + 4)).toMatch(
      /^(8\r\n: ping\n\n\r\n)+$/,
    );
    expect(app?.realtimeHub.stats.writesKeepalive).toBeGreaterThanOrEqual(3);
  });

  it('sends no keep-alive while updates keep the stream busy', async () => {
    const { broker, port } = await start({ keepAliveIntervalMs: 300 });
    const client = await subscribe(port);
    await streamsOpen(1);
    for (let i = 1; i <= 8; i++) {
      await broker.publish(ENV, 1735229888 + i);
      await client.until((t) => t.includes(`${1735229888 + i}.0\n\n`), `update ${i}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(client.body).not.toContain(': ping');
  });
});

describe('request variants', () => {
  it('serves the doubled leading slash', async () => {
    const { broker, port } = await start();
    await broker.publish(ENV, 1735229888.76);
    const client = await subscribe(port, `//sse/environments/${ENV}/stream`);
    await client.until((t) => t.endsWith(FRAME), 'the initial event');
    expect(client.text).toMatch(HEAD_PATTERN);
  });

  it('tolerates the headers SDKs send and an HTTP/1.0 request', async () => {
    const { broker, port } = await start();
    await broker.publish(ENV, 1735229888.76);
    const client = await RawClient.open(
      port,
      [
        `GET /sse/environments/${ENV}/stream?foo=bar HTTP/1.0`,
        'Accept: application/json, text/event-stream',
        `X-Environment-Key: ${ENV}`,
        'User-Agent: flagsmith-ios',
        'Cache-Control: no-cache',
        'Accept-Encoding: gzip, br',
        '',
        '',
      ].join('\r\n'),
    );
    clients.push(client);
    await client.until((t) => t.endsWith(FRAME), 'the initial event');
    // HTTP/1.0 has no chunked coding: the body is close-delimited, the frame its exact bytes.
    expect(client.raw).toMatch(HTTP10_HEAD_PATTERN);
    expect(client.raw.toLowerCase()).not.toContain('transfer-encoding');
    expect(client.body).toBe(FRAME);
  });

  it('answers 400 to an HTTP/1 request line that claims HTTP/2.0, and opens nothing', async () => {
    const { port } = await start();
    const client = await RawClient.open(
      port,
      `GET /sse/environments/${ENV}/stream HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n`,
    );
    clients.push(client);
    await client.until((t) => t.includes('"bad_request"'), 'a 400 JSON error');
    expect(client.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(app?.realtimeHub.subscriberCount).toBe(0);
  });

  it('answers 400 JSON with CORS to a bad key and opens nothing', async () => {
    const { port } = await start();
    const res = await fetch(`http://127.0.0.1:${port}/sse/environments/bad.key/stream`);
    expect(res.status).toBe(400);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_environment_key' } });
    expect(app?.realtimeHub.subscriberCount).toBe(0);
  });
});

describe('broker availability', () => {
  it('refuses new streams with 503 + Retry-After while existing ones keep their keep-alives', async () => {
    const broker = new SwitchableBroker();
    const { port } = await start({ broker, keepAliveIntervalMs: 100, retryAfterSeconds: 3 });
    const client = await subscribe(port);
    await streamsOpen(1);
    broker.force('unavailable');
    const refused = await fetch(`http://127.0.0.1:${port}/sse/environments/${ENV}/stream`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('3');
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
    // Browsers on other origins can read Retry-After only when it is exposed.
    expect(refused.headers.get('access-control-expose-headers')).toBe('Retry-After');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'broker_unavailable',
    );
    const before = client.text.length;
    await client.until((t) => t.length > before && t.endsWith(': ping\n\n'), 'a keep-alive');
    expect(client.isEnded).toBe(false);
    broker.force(undefined);
    const again = await subscribe(port);
    await again.until((t) => t.includes('200 OK'), 'a stream after recovery');
  });

  it('refuses streams beyond maxSubscribers with 503', async () => {
    const { port } = await start({ maxSubscribers: 2 });
    await subscribe(port);
    await subscribe(port);
    await streamsOpen(2);
    const res = await fetch(`http://127.0.0.1:${port}/sse/environments/${ENV}/stream`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'too_many_subscribers',
    );
  });
});

describe('closing', () => {
  it('removes a subscriber as soon as its client disconnects', async () => {
    const { port } = await start();
    const a = await subscribe(port);
    await subscribe(port);
    await streamsOpen(2);
    a.close();
    await streamsOpen(1);
    expect(app?.realtimeHub.environmentCount).toBe(1);
  });

  it('turns readiness 503 and ends streams spread over the drain window on close', async () => {
    const { port } = await start({ drainWindowMs: 600 });
    const streams = await Promise.all(Array.from({ length: 6 }, () => subscribe(port)));
    await streamsOpen(6);
    const started = Date.now();
    const closing = (app as FastifyInstance).close();
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(503);
    const endedAt: number[] = [];
    await Promise.all(streams.map((s) => s.closed.then(() => endedAt.push(Date.now() - started))));
    await closing;
    app = undefined;
    endedAt.sort((x, y) => x - y);
    // [spec] A graceful end of a chunked body is the last-chunk (RFC 9112 §7.1): a complete response.
    for (const s of streams) expect(s.raw).toMatch(/\r\n\r\n0\r\n\r\n$/);
    // Batches go out across the window, not all at once.
    expect(endedAt[0]).toBeLessThan(200);
    expect(endedAt[endedAt.length - 1]).toBeGreaterThanOrEqual(400);
  });

  it('writes nothing more to a stream it ended, even while the client keeps its side open', async () => {
    const { broker, port } = await start({ drainWindowMs: 0, keepAliveIntervalMs: 50 });
    // allowHalfOpen: the client reads the server's FIN but does not close, so the
    // server-side socket stays registered, ended, until the drain destroys it.
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    const sawEnd = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    socket.write(`GET /sse/environments/${ENV}/stream HTTP/1.1\r\nHost: x\r\n\r\n`);
    await streamsOpen(1);
    const hub = (app as FastifyInstance).realtimeHub;
    const closing = (app as FastifyInstance).close();
    await sawEnd;
    await broker.publish(ENV, 1735229888.76);
    await new Promise((resolve) => setTimeout(resolve, 200)); // several keep-alive sweeps
    socket.end();
    await closing;
    app = undefined;
    expect(hub.stats.writeErrorsData + hub.stats.writeErrorsKeepalive).toBe(0);
    expect(Buffer.concat(received).toString('latin1')).not.toContain('data:');
  });
});
