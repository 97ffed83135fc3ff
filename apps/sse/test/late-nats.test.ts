import { request } from 'node:http';
import { getFreePort, type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { logLine, mainRunner, type Running } from './helpers/process.js';
import { frame, SseClient, waitFor } from './helpers/sse-client.js';

const MAIN = inject('mainPath');
const ENV = 'n9fbf9h3v4fFgH3U3ngWhb';
const TOKEN = 'late-nats-token';
/** The promise of issue #13: ready within 2 s of NATS becoming reachable. */
const READY_WITHIN_MS = 2_000;
const NOT_YET = /NATS is not reachable yet; this instance keeps retrying/;

const { run, stopAll } = mainRunner(MAIN);
const clients: SseClient[] = [];
let nats: NatsServer | undefined;
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await stopAll();
  await nats?.stop();
  nats = undefined;
});

/** One request over a new TCP connection (so with workers successive calls reach different ones). */
function call(
  port: number,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { authorization: `Token ${TOKEN}` };
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Starts main on a NATS URL where nothing listens yet; resolves once /livez answers. */
async function startBeforeNats(
  env: Record<string, string> = {},
): Promise<{ r: Running; port: number; natsPort: number }> {
  const natsPort = await getFreePort();
  const port = await getFreePort();
  const r = run({
    PORT: String(port),
    HOST: '127.0.0.1',
    NATS_URL: `nats://127.0.0.1:${natsPort}`,
    SSE_AUTHENTICATION_TOKEN: TOKEN,
    // With NATS_URL the default is one worker per CPU: "one process" must say so.
    SSE_WORKERS: '1',
    ...env,
  });
  // Listening at once: /livez answers while NATS is not there (today's code refused connections).
  await waitFor(
    () =>
      call(port, 'GET', '/livez').then(
        (res) => res.status === 200,
        () => false,
      ),
    `/livez 200 before NATS is up; stdout ${r.stdout()}`,
  );
  await logLine(r, (l) => String(l.msg).startsWith('accepting connections'), 'the line saying so');
  return { r, port, natsPort };
}

/** The refusals while NATS was never reached: probes answer, streams and publishes get 503. */
async function expectRefusals(port: number): Promise<void> {
  expect((await call(port, 'GET', '/livez')).status).toBe(200);
  const ready = await call(port, 'GET', '/readyz');
  expect(ready.status).toBe(503);
  expect(JSON.parse(ready.body).error.message).toMatch(NOT_YET);
  const stream = await call(port, 'GET', `/sse/environments/${ENV}/stream`);
  const publish = await call(
    port,
    'POST',
    `/sse/environments/${ENV}/queue-change`,
    '{"updated_at": 1}',
  );
  for (const res of [stream, publish]) {
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(JSON.parse(res.body).error).toEqual({
      code: 'broker_unavailable',
      message: expect.stringMatching(NOT_YET),
    });
  }
}

/** Starts nats-server on `natsPort`; resolves with when it was healthy and when /readyz turned 200. */
async function natsComesUp(
  port: number,
  natsPort: number,
  ready: () => Promise<boolean>,
): Promise<{ spawnToReadyMs: number; healthyToReadyMs: number }> {
  const spawnedAt = Date.now();
  nats = await startNatsServer({ port: natsPort });
  const healthyAt = Date.now();
  await waitFor(ready, 'ready after NATS came up', 10_000);
  const readyAt = Date.now();
  expect(port).toBeGreaterThan(0);
  return { spawnToReadyMs: readyAt - spawnedAt, healthyToReadyMs: readyAt - healthyAt };
}

/** A stream opened now receives an update published now. */
async function expectDelivery(port: number, updatedAt: string): Promise<void> {
  const client = await SseClient.open(port, ENV);
  clients.push(client);
  await client.until((t) => t.includes('\r\n\r\n'), 'the stream head');
  expect(client.text).toMatch(/^HTTP\/1\.1 200 /);
  const body = `{"updated_at": ${updatedAt}}`;
  expect((await call(port, 'POST', `/sse/environments/${ENV}/queue-change`, body)).status).toBe(
    200,
  );
  await client.until((t) => t.includes(frame(updatedAt)), 'the update on the stream');
}

const retryLines = (r: Running) =>
  r.logs().filter((l) => String(l.msg).startsWith('NATS not reachable yet'));

describe('NATS not there at start', () => {
  it('one process: listens at once, refuses with 503, ready within 2 s of NATS coming up', async () => {
    const { r, port, natsPort } = await startBeforeNats();
    await expectRefusals(port);
    // Still retrying, not exited: wait for a few attempts' worth of time to pass.
    await waitFor(() => r.logs().some((l) => l.attempt === 1), 'the first retry line');
    expect(r.child.exitCode).toBeNull();
    const figures = await natsComesUp(
      port,
      natsPort,
      async () => (await call(port, 'GET', '/readyz')).status === 200,
    );
    console.info(
      `late NATS, one process: ready ${figures.healthyToReadyMs} ms after NATS was healthy (${figures.spawnToReadyMs} ms after it was spawned)`,
    );
    expect(figures.healthyToReadyMs).toBeLessThan(READY_WITHIN_MS);
    await logLine(r, (l) => l.msg === 'listening', 'the listening line once ready');
    // The stream settings were checked (created) and the consumer follows it.
    expect(r.logs().some((l) => l.msg === 'Created the JetStream stream')).toBe(true);
    await expectDelivery(port, '1735229888.5');
    expect(retryLines(r)).toHaveLength(1);
  }, 30_000);

  it('SSE_WORKERS=2: every worker waits (none exits), all ready within 2 s of NATS coming up', async () => {
    const { r, port, natsPort } = await startBeforeNats({ SSE_WORKERS: '2' });
    await waitFor(() => retryLines(r).length === 2, 'both workers retrying');
    // Every request lands on either worker: both refuse alike.
    for (let i = 0; i < 4; i++) await expectRefusals(port);
    const figures = await natsComesUp(port, natsPort, async () =>
      r.logs().some((l) => l.msg === 'listening'),
    );
    console.info(
      `late NATS, SSE_WORKERS=2: both workers ready ${figures.healthyToReadyMs} ms after NATS was healthy (${figures.spawnToReadyMs} ms after it was spawned)`,
    );
    expect(figures.healthyToReadyMs).toBeLessThan(READY_WITHIN_MS);
    for (let i = 0; i < 4; i++) expect((await call(port, 'GET', '/readyz')).status).toBe(200);
    expect(r.logs().some((l) => l.msg === 'worker failed during start; stopping')).toBe(false);
    expect(r.logs().filter((l) => l.msg === 'worker started')).toHaveLength(2);
    await expectDelivery(port, '1735229889.5');
    await expectDelivery(port, '1735229890.5');
    // One line per worker at the first failure, not one per attempt.
    expect(retryLines(r)).toHaveLength(2);
  }, 30_000);

  it('NATS 30 s late: the backoff stays bounded (ready within 2 s), two log lines in 30 s', async () => {
    const { r, port, natsPort } = await startBeforeNats();
    const startedAt = Date.now();
    await waitFor(
      () => Date.now() - startedAt >= 30_000 && retryLines(r).length >= 2,
      '30 s of NATS missing',
      35_000,
    );
    await expectRefusals(port);
    const figures = await natsComesUp(
      port,
      natsPort,
      async () => (await call(port, 'GET', '/readyz')).status === 200,
    );
    console.info(
      `late NATS by 30 s, one process: ready ${figures.healthyToReadyMs} ms after NATS was healthy`,
    );
    expect(figures.healthyToReadyMs).toBeLessThan(READY_WITHIN_MS);
    await expectDelivery(port, '1735229891.5');
    // About one attempt a second was made, yet it logged once at first and once 30 s later.
    const lines = retryLines(r);
    expect(lines).toHaveLength(2);
    expect(Number(lines[1]!.attempt)).toBeGreaterThan(20);
    expect(
      r.logs().some((l) => l.msg === 'Connected to NATS' && Number(l.failedAttempts) > 20),
    ).toBe(true);
  }, 60_000);

  it('a configuration error still exits 1 at start: stream settings that differ (one process and workers)', async () => {
    nats = await startNatsServer();
    // A first instance creates the stream in memory...
    const first = run({
      PORT: '0',
      NATS_URL: nats.url,
      SSE_WORKERS: '1',
      STREAM_STORAGE: 'memory',
      SSE_AUTHENTICATION_TOKEN: TOKEN,
    });
    await logLine(first, (l) => l.msg === 'listening', 'the first instance ready');
    // ...so one configured for file storage finds other settings, says which, and exits.
    for (const workers of ['1', '2']) {
      const wrong = run({
        PORT: '0',
        NATS_URL: nats.url,
        SSE_WORKERS: workers,
        STREAM_STORAGE: 'file',
        SSE_AUTHENTICATION_TOKEN: TOKEN,
      });
      expect(await wrong.exited).toBe(1);
      expect(wrong.stdout()).toContain('exists with different settings');
      expect(wrong.logs().some((l) => l.msg === 'listening')).toBe(false);
    }
  }, 30_000);
});
