import { type ChildProcess, spawn } from 'node:child_process';
import {
  type ClientHttp2Session,
  connect as h2connect,
  type IncomingHttpHeaders,
} from 'node:http2';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { listeningUrl } from '../src/instance.js';
import { TOKEN, testConfig } from './helpers/config.js';
import { type SelfSignedCert, selfSignedCert } from './helpers/self-signed.js';
import { frame, SseClient, waitFor } from './helpers/sse-client.js';

const ENV = 'n9fbf9h3v4fFgH3U3ngWhb';
const PATH = `/sse/environments/${ENV}/stream`;

let app: FastifyInstance | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await app?.close();
  app = undefined;
});

let certs: SelfSignedCert;
beforeAll(() => {
  certs = selfSignedCert();
});
afterAll(() => certs.remove());

async function start(tls: boolean): Promise<{ port: number; app: FastifyInstance }> {
  const parsed = parseConfig(
    tls ? { TLS_CERT: certs.cert, TLS_KEY: certs.key } : ({} as Record<string, string>),
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  // No keep-alives during a test, so bodies can be compared exactly.
  app = buildApp(testConfig({ tls: parsed.value.tls, keepAliveIntervalMs: 60_000 }), {
    logger: false,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, app };
}

/** An HTTP/2 stream of the node:http2 client, recording the body. */
async function h2Stream(session: ClientHttp2Session) {
  const stream = session.request({ ':path': PATH, accept: 'text/event-stream' });
  let body = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    body += chunk;
  });
  stream.on('error', () => {});
  const headers = await new Promise<IncomingHttpHeaders>((resolve) =>
    stream.once('response', resolve),
  );
  return { headers, body: () => body };
}

/** curl streaming a URL; resolves its output so far, with the HTTP version it used. */
function curl(args: string[]): { out: () => string; child: ChildProcess } {
  const child = spawn('curl', ['-sS', '-N', '-i', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  cleanups.push(() => child.kill('SIGKILL'));
  return { out: () => out, child };
}

async function publish(base: string, updatedAt: number): Promise<void> {
  const session = h2connect(base, { rejectUnauthorized: false });
  cleanups.push(() => session.destroy());
  const req = session.request({
    ':method': 'POST',
    ':path': `/sse/environments/${ENV}/queue-change`,
    authorization: `Token ${TOKEN}`,
    'content-type': 'application/json',
  });
  req.end(JSON.stringify({ updated_at: updatedAt }));
  const status = await new Promise((resolve) =>
    req.once('response', (h: IncomingHttpHeaders) => resolve(h[':status'])),
  );
  let text = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => {
    text += c;
  });
  await new Promise((r) => req.once('end', r));
  expect(status, text).toBe(200);
  session.close();
}

describe('HTTP/1.1 and HTTP/2 on one port', () => {
  it('cleartext: h2c (prior knowledge) and HTTP/1.1 streams on the same port each get the update', async () => {
    const { port, app } = await start(false);
    const base = `http://127.0.0.1:${port}`;

    const session = h2connect(base);
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    const [a, b] = await Promise.all([h2Stream(session), h2Stream(session)]);
    expect(a.headers[':status']).toBe(200);
    expect(a.headers['content-type']).toBe('text/event-stream');
    expect(a.headers.connection).toBeUndefined();

    const h1 = await SseClient.open(port, ENV);
    cleanups.push(() => h1.close());
    await h1.until((t) => t.startsWith('HTTP/1.1 200 OK\r\n') && t.includes('\r\n\r\n'), 'h1 head');

    const h2cCurl = curl(['--http2-prior-knowledge', `${base}${PATH}`]);
    const h1Curl = curl(['--http1.1', `${base}${PATH}`]);
    // curl prints the head together with the first body bytes: checked after the update.
    // Two h2 streams on one connection, the raw h1 socket, curl h2c, curl h1.1.
    await waitFor(() => app.realtimeHub.subscriberCount === 5, 'five streams registered');

    await publish(base, 1735229888.76);
    const update = frame('1735229888.76');
    await waitFor(() => a.body() === update && b.body() === update, 'both h2 streams updated');
    await h1.until((t) => t.endsWith(update), 'the h1 update');
    await waitFor(() => h2cCurl.out().endsWith(update), `curl h2c update: ${h2cCurl.out()}`);
    await waitFor(() => h1Curl.out().endsWith(update), `curl h1 update: ${h1Curl.out()}`);
    expect(h2cCurl.out()).toMatch(/^HTTP\/2 200 \r\ncontent-type: text\/event-stream\r\n/);
    expect(h1Curl.out()).toMatch(/^HTTP\/1\.1 200 OK\r\nContent-Type: text\/event-stream\r\n/);
  });

  it('TLS: ALPN h2 and http/1.1 on the same port each get the update (node:http2, raw TLS, curl)', async () => {
    const { port, app } = await start(true);
    const base = `https://127.0.0.1:${port}`;

    const session = h2connect(base, { rejectUnauthorized: false });
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    const h2 = await h2Stream(session);
    expect(h2.headers[':status']).toBe(200);
    expect((session.socket as unknown as { alpnProtocol: string }).alpnProtocol).toBe('h2');

    // HTTP/1.1 over TLS: the raw-socket path writes its hand-made head.
    const tls = tlsConnect({
      port,
      host: '127.0.0.1',
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    cleanups.push(() => tls.destroy());
    let h1Text = '';
    tls.on('data', (c: Buffer) => {
      h1Text += c.toString('latin1');
    });
    await new Promise<void>((resolve) => tls.once('secureConnect', () => resolve()));
    expect(tls.alpnProtocol).toBe('http/1.1');
    tls.write(`GET ${PATH} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    await waitFor(() => h1Text.includes('\r\n\r\n'), 'the h1 head over TLS');
    expect(h1Text.startsWith('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n')).toBe(true);

    const h2Curl = curl(['--http2', '-k', `${base}${PATH}`]);
    const h1Curl = curl(['--http1.1', '-k', `${base}${PATH}`]);
    await waitFor(() => app.realtimeHub.subscriberCount === 4, 'four streams registered');

    await publish(base, 1735229890);
    const update = frame('1735229890.0');
    await waitFor(() => h2.body() === update, `the h2 update: ${h2.body()}`);
    // The raw HTTP/1.1 stream is chunked: the frame arrives as one chunk.
    await waitFor(
      () => h1Text.endsWith(`${update.length.toString(16)}\r\n${update}\r\n`),
      'the h1 update over TLS',
    );
    expect(h1Text).toMatch(/\r\nTransfer-Encoding: chunked\r\n/);
    await waitFor(() => h2Curl.out().endsWith(update), `curl h2 update: ${h2Curl.out()}`);
    await waitFor(() => h1Curl.out().endsWith(update), `curl h1 update: ${h1Curl.out()}`);
    expect(h2Curl.out()).toMatch(/^HTTP\/2 200 \r\n/);
    expect(h1Curl.out()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('close drains HTTP/2 streams and ends the sessions (GOAWAY) instead of waiting for clients', async () => {
    const { port, app: running } = await start(false);
    const session = h2connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    await Promise.all([h2Stream(session), h2Stream(session)]);
    await waitFor(() => running.realtimeHub.subscriberCount === 2, 'two streams registered');
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    const closedAt = Date.now();
    await running.close();
    app = undefined;
    await goaway;
    // Well under the 72 s idle timeout a lingering session would have cost.
    expect(Date.now() - closedAt).toBeLessThan(5_000);
    expect(running.realtimeHub.subscriberCount).toBe(0);
  });

  it('closes a cleartext connection that does not show its protocol within the request timeout', async () => {
    const limits = { ...testConfig().limits, requestTimeoutMs: 300 };
    app = buildApp(testConfig({ limits }), { logger: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const served = await SseClient.open(address.port, ENV);
    cleanups.push(() => served.close());
    // A request gets through; connections that stall before their protocol is known do not stay.
    await served.until((t) => t.includes('\r\n\r\n'), 'a stream served');
    const stalls = await Promise.all(
      ['', 'PRI * HTTP/2.0\r\n'].map(
        (bytes) =>
          new Promise<number>((resolve, reject) => {
            const socket = netConnect({ port: address.port, host: '127.0.0.1' }, () => {
              const opened = Date.now();
              if (bytes) socket.write(bytes);
              socket.once('close', () => resolve(Date.now() - opened));
            });
            socket.on('error', reject);
            cleanups.push(() => socket.destroy());
          }),
      ),
    );
    for (const ms of stalls) expect(ms).toBeLessThan(3_000);
    expect(served.isEnded).toBe(false);
  });

  it('announces https:// with TLS and http:// without', () => {
    const tls = { cert: 'c', key: 'k' };
    expect(listeningUrl(testConfig({ tls }), 8443)).toBe('https://127.0.0.1:8443');
    expect(listeningUrl(testConfig({ host: '0.0.0.0' }), 8088)).toBe('http://127.0.0.1:8088');
    expect(listeningUrl(testConfig({ host: '::1' }), 8088)).toBe('http://[::1]:8088');
  });

  it('refuses a TLS_CERT without TLS_KEY, and a key that does not match, naming the variables', () => {
    const alone = parseConfig({ TLS_CERT: certs.cert });
    expect(alone.ok).toBe(false);
    if (!alone.ok) expect(alone.errors.map((e) => e.variable)).toEqual(['TLS_KEY']);
    const swapped = parseConfig({
      TLS_CERT: certs.key,
      TLS_KEY: certs.cert,
    });
    expect(swapped.ok).toBe(false);
    if (!swapped.ok) expect(swapped.errors[0]?.message).toContain('not a usable PEM certificate');
    const missing = parseConfig({
      TLS_CERT: '/nonexistent/cert.pem',
      TLS_KEY: '/nonexistent/key.pem',
    });
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.errors.map((e) => e.variable)).toEqual(['TLS_CERT', 'TLS_KEY']);
  });
});
