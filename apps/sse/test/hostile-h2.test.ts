import { readdirSync } from 'node:fs';
import {
  type ClientHttp2Session,
  connect as h2connect,
  type IncomingHttpHeaders,
} from 'node:http2';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { type AppConfig, H2C_SAFE_NODE_MAJOR, parseConfig } from '../src/config.js';
import { TOKEN, testConfig } from './helpers/config.js';
import {
  DATA_ON_STREAM_0,
  GOAWAY,
  getHeaders,
  PREFACE,
  repeat,
  SETTINGS,
  sendAndReset,
} from './helpers/h2-frames.js';
import { mainRunner } from './helpers/process.js';
import { type SelfSignedCert, selfSignedCert } from './helpers/self-signed.js';
import { frame, SseClient, waitFor } from './helpers/sse-client.js';

// Regression tests of issue #11: hostile HTTP/2 frames and HTTP/1 edge cases found by a fuzz.

const ENV = 'n9fbf9h3v4fFgH3U3ngWhb';
const STREAM_PATH = `/sse/environments/${ENV}/stream`;
const MAIN = inject('mainPath');
const { run, stopAll } = mainRunner(MAIN);

let app: FastifyInstance | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await app?.close();
  app = undefined;
  await stopAll();
});

let tls: SelfSignedCert;
beforeAll(() => {
  tls = selfSignedCert();
});
afterAll(() => tls.remove());

async function start(overrides: Partial<AppConfig>): Promise<number> {
  app = buildApp(testConfig(overrides), { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function tlsConfig(): AppConfig['tls'] {
  const parsed = parseConfig({
    TLS_CERT: tls.cert,
    TLS_KEY: tls.key,
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value.tls;
}

/** The `flagsmith_sse_subscribers` gauge, read from /metricsz like an operator would. */
async function subscribersGauge(base: string, insecure = false): Promise<number> {
  const text = insecure
    ? await h2Get(base, '/metricsz')
    : await (await fetch(`${base}/metricsz`)).text();
  const match = /^flagsmith_sse_subscribers (\d+)$/m.exec(text);
  if (!match) throw new Error(`no subscriber gauge in ${text.slice(0, 200)}`);
  return Number(match[1]);
}

/** GET over HTTP/2 (TLS, self-signed) and return the body. */
async function h2Get(base: string, path: string): Promise<string> {
  const session = h2connect(base, { rejectUnauthorized: false });
  session.on('error', () => {});
  try {
    const req = session.request({ ':path': path });
    req.setEncoding('utf8');
    let body = '';
    req.on('data', (c: string) => {
      body += c;
    });
    await new Promise((resolve, reject) => {
      req.once('end', resolve);
      req.once('error', reject);
    });
    return body;
  } finally {
    session.destroy();
  }
}

/** Open descriptors of this process (the in-process server's sockets among them). */
function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Writes `bytes` on a new connection; resolves with everything received and when it closed. */
function rawExchange(
  port: number,
  bytes: string,
  waitMs: number,
): Promise<{ text: string; closedAfterMs: number | undefined }> {
  return new Promise((resolve) => {
    const socket = netConnect({ port, host: '127.0.0.1' }, () => socket.write(bytes));
    const opened = Date.now();
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    socket.on('error', () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedAfterMs: undefined });
    }, waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - opened });
    });
  });
}

describe('issue #11 §1: the Node 20 http2 abort (client GOAWAY, then HEADERS, then reset)', () => {
  it('h2c prior knowledge defaults to on from Node 24 and off below; H2C overrides; bad values are named', () => {
    const noFiles = () => '';
    const on20 = parseConfig({}, noFiles, 2, 20);
    const on24 = parseConfig({}, noFiles, 2, 24);
    expect(on20.ok && on20.value).toMatchObject({ h2c: false, h2cSource: 'runtime' });
    expect(on24.ok && on24.value).toMatchObject({ h2c: true, h2cSource: 'runtime' });
    expect(H2C_SAFE_NODE_MAJOR).toBe(24);
    const forced = parseConfig({ H2C: 'on' }, noFiles, 2, 20);
    expect(forced.ok && forced.value).toMatchObject({ h2c: true, h2cSource: 'configured' });
    const off = parseConfig({ H2C: 'OFF' }, noFiles, 2, 24);
    expect(off.ok && off.value).toMatchObject({ h2c: false, h2cSource: 'configured' });
    const bad = parseConfig({ H2C: 'yes' }, noFiles, 2, 24);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]).toMatchObject({ variable: 'H2C' });
  });

  it('with H2C=off the cleartext port speaks HTTP/1.1 only: the h2 preface gets the JSON 400', async () => {
    const port = await start({ h2c: false });
    const answer = await rawExchange(port, `${PREFACE.toString('latin1')}`, 3_000);
    expect(answer.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer.text).toContain('Access-Control-Allow-Origin: *');
    expect(answer.text).toContain('"code":"bad_request"');
    expect(answer.closedAfterMs).toBeDefined();
  });

  it(`the default configuration of this runtime (Node ${process.versions.node}) survives 1,000 attack connections`, async () => {
    // The process as deployed: `node main.js`, nothing but the port and token set.
    const r = run({ PORT: '0', SSE_AUTHENTICATION_TOKEN: TOKEN });
    const line = await waitFor(
      () =>
        r
          .stdout()
          .split('\n')
          .find((l) => l.includes('"msg":"listening"')),
      `the listening line; ${r.stderr()}`,
    );
    const port = Number(new URL((JSON.parse(line) as { url: string }).url).port);
    let exited = false;
    void r.exited.then(() => {
      exited = true;
    });
    const attack = Buffer.concat([PREFACE, SETTINGS, GOAWAY, getHeaders(1, '/livez')]);
    // Node 20 with h2c on aborts after 600-800 of these at 48 concurrent (measured: 3 of 3 runs).
    const sent = await repeat(
      1_000,
      48,
      () => sendAndReset(port, attack, 250),
      () => exited,
    );
    expect(exited, `the service died after ${sent} connections: ${r.stderr().slice(-300)}`).toBe(
      false,
    );
    expect((await fetch(`http://127.0.0.1:${port}/livez`)).status).toBe(200);
    expect(r.child.exitCode).toBeNull();
  }, 30_000);
});

describe('issue #11 §2: no ghost subscribers, no leaked descriptors, on every transport', () => {
  // Sessions are pinged every quarter of it; an unanswered ping costs the session after 1 s.
  const KEEPALIVE_MS = 1_000;

  it('h2c: streams of sessions wedged by DATA on stream 0 leave the hub within the keep-alive interval, with their fds', async () => {
    const port = await start({ h2c: true, keepAliveIntervalMs: KEEPALIVE_MS });
    const base = `http://127.0.0.1:${port}`;
    const fdsBefore = openFds();
    const ghost = Buffer.concat([PREFACE, SETTINGS, getHeaders(1, STREAM_PATH), DATA_ON_STREAM_0]);
    // The stream registers, then the connection error; the client goes away without a word.
    await repeat(50, 10, () => sendAndReset(port, ghost, 50, false));
    const sentAt = Date.now();
    await waitFor(async () => (await subscribersGauge(base)) === 0, 'the gauge back to 0', 5_000);
    // One interval for the ping round, plus the scrape polling and a loaded machine.
    expect(Date.now() - sentAt).toBeLessThan(KEEPALIVE_MS + 1_500);
    await waitFor(() => openFds() <= fdsBefore + 2, `fds back near ${fdsBefore}: ${openFds()}`);
  });

  it('HTTP/2 over TLS: the same wedged sessions leave the hub and free their fds', async () => {
    const port = await start({ tls: tlsConfig(), keepAliveIntervalMs: KEEPALIVE_MS });
    const base = `https://127.0.0.1:${port}`;
    const fdsBefore = openFds();
    const ghost = Buffer.concat([PREFACE, SETTINGS, getHeaders(1, STREAM_PATH), DATA_ON_STREAM_0]);
    await repeat(20, 10, async () => {
      const socket = tlsConnect({
        port,
        host: '127.0.0.1',
        rejectUnauthorized: false,
        ALPNProtocols: ['h2'],
      });
      socket.on('error', () => {});
      await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
      socket.write(ghost);
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
    });
    const sentAt = Date.now();
    await waitFor(
      async () => (await subscribersGauge(base, true)) === 0,
      'the gauge back to 0',
      5_000,
    );
    expect(Date.now() - sentAt).toBeLessThan(KEEPALIVE_MS + 1_500);
    await waitFor(() => openFds() <= fdsBefore + 2, `fds back near ${fdsBefore}: ${openFds()}`);
  });

  it('HTTP/1.1: a subscriber whose client vanished (RST) leaves the hub', async () => {
    const port = await start({ keepAliveIntervalMs: KEEPALIVE_MS });
    const base = `http://127.0.0.1:${port}`;
    const clients = await Promise.all(Array.from({ length: 10 }, () => SseClient.open(port, ENV)));
    await waitFor(async () => (await subscribersGauge(base)) === 10, 'ten streams');
    for (const c of clients) c.socket.resetAndDestroy();
    const resetAt = Date.now();
    await waitFor(async () => (await subscribersGauge(base)) === 0, 'the gauge back to 0');
    expect(Date.now() - resetAt).toBeLessThan(KEEPALIVE_MS);
  });

  it('a live HTTP/2 stream is kept: it answers the pings and gets its keep-alives and updates', async () => {
    const port = await start({ h2c: true, keepAliveIntervalMs: 300 });
    const base = `http://127.0.0.1:${port}`;
    const session: ClientHttp2Session = h2connect(base);
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    const stream = session.request({ ':path': STREAM_PATH });
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => {
      body += c;
    });
    await new Promise<IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
    // Many ping rounds (every 75 ms, deadline 1 s) and keep-alives (every 300 ms).
    await waitFor(() => body.split(': ping').length > 8, `eight keep-alives: ${body}`);
    expect(app?.realtimeHub.subscriberCount).toBe(1);
    const published = await fetch(`${base}/sse/environments/${ENV}/queue-change`, {
      method: 'POST',
      headers: { authorization: `Token ${TOKEN}` },
      body: '{"updated_at": 1735229888.76}',
    });
    expect(published.status).toBe(200);
    await waitFor(() => body.includes(frame('1735229888.76')), 'the update on the h2 stream');
    expect(stream.closed).toBe(false);
  });
});

describe('issue #11 §3-5: HTTP/1.1 answers', () => {
  it('§3: a complete publish followed by a stray byte is answered with its 2xx, then the connection closes', async () => {
    const port = await start({});
    const subscriber = await SseClient.open(port, ENV);
    cleanups.push(() => subscriber.close());
    await subscriber.until((t) => t.includes('\r\n\r\n'), 'the stream head');
    const body = '{"updated_at": 1735229890.5}';
    const answer = await rawExchange(
      port,
      `POST /sse/environments/${ENV}/queue-change HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}X`,
      3_000,
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer.text).toContain('"result":"published"');
    expect(answer.text).not.toContain('400 Bad Request');
    expect(answer.closedAfterMs).toBeDefined();
    await subscriber.until((t) => t.endsWith(frame('1735229890.5')), 'the published update');
  });

  it('§4: a request without Host gets the JSON 400 with CORS, not Node bare 400', async () => {
    const port = await start({});
    const answer = await rawExchange(port, 'GET /livez HTTP/1.1\r\n\r\n', 3_000);
    expect(answer.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer.text.toLowerCase()).toContain('access-control-allow-origin: *');
    expect(answer.text).toContain(
      '{"error":{"code":"bad_request","message":"The request has no Host header."}}',
    );
    // HTTP/1.0 needs no Host.
    const old = await rawExchange(port, 'GET /livez HTTP/1.0\r\n\r\n', 3_000);
    expect(old.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('§4: "Expect: foo" gets the JSON 417 with CORS, over HTTP/1.1 and HTTP/2', async () => {
    const port = await start({ h2c: true });
    const answer = await rawExchange(
      port,
      'GET /livez HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n',
      3_000,
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n/);
    expect(answer.text.toLowerCase()).toContain('access-control-allow-origin: *');
    expect(answer.text).toContain('"code":"expectation_failed"');

    const session = h2connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    const req = session.request({ ':path': '/livez', expect: 'foo' });
    const headers = await new Promise<IncomingHttpHeaders>((resolve) =>
      req.once('response', resolve),
    );
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      text += c;
    });
    await new Promise((resolve) => req.once('end', resolve));
    expect(headers[':status']).toBe(417);
    expect(headers['access-control-allow-origin']).toBe('*');
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'expectation_failed' } });
  });

  it('§5: an Upgrade request is answered and its connection closed, not held until the request timeout', async () => {
    const port = await start({});
    const answer = await rawExchange(
      port,
      'GET /livez HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nNOT HTTP\r\n\r\n',
      8_000,
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer.closedAfterMs, 'the connection was held').toBeDefined();
    // The request timeout (10 s) would have closed it; this closes with the response.
    expect(answer.closedAfterMs).toBeLessThan(2_000);
  });
});
