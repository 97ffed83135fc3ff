import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type IncomingHttpHeaders,
} from 'node:http2';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../src/broker/broker.js';
import { EmbeddedBroker } from '../src/broker/embedded.js';
import { frameworkErrorHandler } from '../src/http/error-handler.js';
import { ROUTER_OPTIONS } from '../src/http/server-options.js';
import type { FlagsmithRealtimeOptions } from '../src/options.js';
import { flagsmithRealtime } from '../src/plugin.js';
import { TOKEN } from './helpers/http-app.js';
import { serverSides } from './helpers/server-streams.js';
import { waitFor } from './helpers/wait-for.js';

const ENV = 'n9fbf9h3v4fFgH3U3ngWhb';
const frame = (t: string) => `event: environment_updated\ndata: {"updated_at": ${t}}\nid: ${t}\n\n`;

let app: FastifyInstance | undefined;
const sessions: ClientHttp2Session[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy();
  await app?.close();
  app = undefined;
});

/** The plugin on a cleartext HTTP/2 (prior knowledge) Fastify server. */
async function startH2(options: Partial<FlagsmithRealtimeOptions> = {}) {
  const broker: Broker = options.broker ?? new EmbeddedBroker();
  await broker.start();
  // The plugin's types are HTTP/1's; at run time the same handlers serve HTTP/2.
  const server = Fastify({
    http2: true,
    logger: false,
    routerOptions: { ...ROUTER_OPTIONS },
    frameworkErrors: frameworkErrorHandler,
    return503OnClosing: false,
  } as unknown as FastifyServerOptions);
  await server.register(flagsmithRealtime, {
    authToken: TOKEN,
    drainWindowMs: 0,
    ...options,
    broker,
  });
  server.addHook('onClose', async () => broker.close());
  const sides = serverSides(server);
  await server.listen({ port: 0, host: '127.0.0.1' });
  app = server;
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { broker, hub: app.realtimeHub, port: address.port, sides };
}

function session(port: number): ClientHttp2Session {
  const s = connect(`http://127.0.0.1:${port}`);
  s.on('error', () => {});
  sessions.push(s);
  return s;
}

interface H2Stream {
  stream: ClientHttp2Stream;
  headers: Promise<IncomingHttpHeaders>;
  text: () => string;
  ended: () => boolean;
}

function get(s: ClientHttp2Session, path: string, extra: Record<string, string> = {}): H2Stream {
  const stream = s.request({ ':path': path, ...extra });
  let text = '';
  let ended = false;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text += chunk;
  });
  stream.on('error', () => {});
  stream.on('close', () => {
    ended = true;
  });
  const headers = new Promise<IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
  return { stream, headers, text: () => text, ended: () => ended };
}

describe('streams over HTTP/2', () => {
  it('answers :status 200 with the SSE headers and no Connection field, then writes each update', async () => {
    const { broker, hub, port } = await startH2();
    await broker.publish(ENV, 1735229888.76);
    const s = get(session(port), `/sse/environments/${ENV}/stream`);
    const headers = await s.headers;
    expect(headers[':status']).toBe(200);
    expect(headers['content-type']).toBe('text/event-stream');
    expect(headers['cache-control']).toBe('no-cache');
    expect(headers['x-accel-buffering']).toBe('no');
    expect(headers['access-control-allow-origin']).toBe('*');
    expect(headers.connection).toBeUndefined();
    expect(headers['content-length']).toBeUndefined();
    // The latest of the hour is the initial event.
    await waitFor(() => s.text() === frame('1735229888.76'), `the initial event; got ${s.text()}`);
    await waitFor(() => hub.subscriberCount === 1, 'the stream registered');

    await broker.publish(ENV, 1735229890);
    await waitFor(
      () => s.text() === frame('1735229888.76') + frame('1735229890.0'),
      `the update; got ${s.text()}`,
    );
  });

  it('multiplexes many streams over one connection, each getting only its environment', async () => {
    const { broker, hub, port } = await startH2();
    const conn = session(port);
    const streams = Array.from({ length: 20 }, (_, i) =>
      get(conn, `/sse/environments/env-${i % 2}/stream`),
    );
    await Promise.all(streams.map((s) => s.headers));
    await waitFor(() => hub.subscriberCount === 20, '20 streams on one connection');

    await broker.publish('env-1', 1735229900);
    for (const [i, s] of streams.entries()) {
      if (i % 2 === 1) await waitFor(() => s.text() === frame('1735229900.0'), 'env-1 update');
    }
    expect(streams.filter((_, i) => i % 2 === 0).every((s) => s.text() === '')).toBe(true);

    // Cancelling one stream removes only that subscriber; the connection and the others stay.
    streams[1]?.stream.close(constants.NGHTTP2_CANCEL);
    await waitFor(() => hub.subscriberCount === 19, 'the cancelled stream removed');
    await broker.publish('env-1', 1735229901);
    await waitFor(() => streams[3]?.text().endsWith(frame('1735229901.0')), 'the next update');
    expect(conn.closed).toBe(false);
  });

  it('skips the initial event for a Last-Event-ID at least as new, as over HTTP/1.1', async () => {
    const { broker, hub, port } = await startH2({ retryMs: 2000 });
    await broker.publish(ENV, 1735229888.76);
    const s = get(session(port), `/sse/environments/${ENV}/stream`, {
      'last-event-id': '1735229888.76',
    });
    await s.headers;
    await waitFor(() => s.text() === 'retry: 2000\n\n', `only retry:; got ${s.text()}`);
    await waitFor(() => hub.subscriberCount === 1, 'registered');
  });

  it('errors stay JSON over HTTP/2 (bad key 400, not ready 503)', async () => {
    const { port } = await startH2();
    const s = get(session(port), '/sse/environments/bad%20key/stream');
    expect((await s.headers)[':status']).toBe(400);
    await waitFor(() => s.ended(), 'the error body');
    expect(JSON.parse(s.text())).toMatchObject({ error: { code: expect.any(String) } });
  });

  it('drops an HTTP/2 subscriber that stops reading, without touching the others', async () => {
    const { broker, hub, port, sides } = await startH2({ slowSubscriberTimeoutMs: 200 });
    const conn = session(port);
    const healthy = get(session(port), `/sse/environments/${ENV}/stream`);
    const stalled = get(conn, `/sse/environments/${ENV}/stream`);
    await Promise.all([healthy.headers, stalled.headers]);
    stalled.stream.pause();
    await waitFor(() => hub.subscriberCount === 2, 'both registered');

    let n = 0;
    while (sides.blocked().length === 0) {
      for (let i = 0; i < 200; i++) await broker.publish(ENV, 1_700_000_000 + ++n);
      await new Promise((resolve) => setImmediate(resolve));
      if (n > 20_000) throw new Error('the stalled stream never blocked');
    }
    await waitFor(() => hub.stats.slowSubscribersDropped === 1, 'the stalled stream dropped');
    await waitFor(() => hub.subscriberCount === 1, 'only the healthy stream left');
    // The reset reaches the client once it reads what was buffered before it.
    stalled.stream.resume();
    await waitFor(() => stalled.ended(), 'the stalled stream reset');
    await broker.publish(ENV, 1_800_000_000);
    await waitFor(() => healthy.text().endsWith(frame('1800000000.0')), 'the healthy one updated');
  });

  it('drain ends HTTP/2 streams with END_STREAM', async () => {
    const { hub, port } = await startH2();
    const s = get(session(port), `/sse/environments/${ENV}/stream`);
    await s.headers;
    await waitFor(() => hub.subscriberCount === 1, 'registered');
    const ended = new Promise<void>((resolve) => s.stream.once('end', resolve));
    await hub.drain(0);
    await ended;
    expect(s.stream.rstCode).toBe(constants.NGHTTP2_NO_ERROR);
    expect(hub.subscriberCount).toBe(0);
  });
});
