import { request } from 'node:http';
import { createServer } from 'node:net';
import { startNatsServer } from '@flagsmith-rt/nats-launcher';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { runtimeHasReusePort } from '../src/config.js';
import { RestartBackoff } from '../src/restart-backoff.js';
import { logLine, mainRunner } from './helpers/process.js';
import { frame, publishOnce, SseClient, waitFor } from './helpers/sse-client.js';

const MAIN = inject('mainPath');
const ENV = 'n9fbf9h3v4fFgH3U3ngWhb';

const { run, stopAll } = mainRunner(MAIN);
const clients: SseClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await stopAll();
});

/** GETs a path over a new TCP connection (so successive calls reach different workers). */
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function open(port: number, count: number): Promise<SseClient[]> {
  const opened = await Promise.all(Array.from({ length: count }, () => SseClient.open(port, ENV)));
  clients.push(...opened);
  await Promise.all(opened.map((s) => s.until((t) => t.includes('\r\n\r\n'), 'the head')));
  return opened;
}

/** Waits until every stream has either closed or received `updatedAt`; returns the open ones. */
async function settle(streams: SseClient[], updatedAt: string): Promise<SseClient[]> {
  await waitFor(
    () => streams.every((s) => s.isEnded || s.body.endsWith(frame(updatedAt))),
    `every stream closed or updated to ${updatedAt}`,
  );
  return streams.filter((s) => !s.isEnded);
}

const isMsg = (msg: string) => (line: Record<string, unknown>) => line.msg === msg;

describe('SSE_WORKERS: several processes on one port', () => {
  it('serves from both workers on one port, restarts a SIGKILLed worker whose clients reconnect, and drains all on SIGTERM', async () => {
    await using nats = await startNatsServer();
    const r = run({
      PORT: '0',
      NATS_URL: nats.url,
      STREAM_STORAGE: 'memory',
      SSE_WORKERS: '2',
      DRAIN_WINDOW: '0.2',
      KEEPALIVE_INTERVAL: '60',
    });
    const ready = await logLine(r, isMsg('listening'), 'the listening line');
    const port = Number(new URL(String(ready.url)).port);
    const [pidA, pidB] = ready.workerPids as number[];
    expect(ready).toMatchObject({ broker: 'jetstream', workers: 2, pid: r.child.pid });
    expect(new Set([pidA, pidB, r.child.pid]).size).toBe(3);

    // The generated token is printed once, by the primary, and every worker accepts it
    // (new connections reach either worker).
    const token = /Authorization: Token (\S+)/.exec(r.stderr())?.[1] ?? '';
    expect(r.stderr().split(token).length - 1).toBe(1);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await publishOnce(port, token, ENV, 1735229000 + i));
    expect(statuses).toEqual([200, 200, 200, 200]);

    const first = await open(port, 8);
    expect(await publishOnce(port, token, ENV, 1735229100)).toBe(200);
    expect(await settle(first, '1735229100.0')).toHaveLength(8);

    // Whichever worker a scrape reaches, /metricsz describes the instance: all 8 streams.
    for (let i = 0; i < 3; i++) {
      const scrape = await get(port, '/metricsz');
      expect(scrape.status).toBe(200);
      expect(sample(scrape.body, 'flagsmith_sse_subscribers')).toBe(8);
      expect(sample(scrape.body, 'flagsmith_sse_nats_connected')).toBe(1);
      expect(sample(scrape.body, 'flagsmith_sse_publishes_total{result="published"}')).toBe(5);
    }

    // Kill worker A: exactly its streams close; the others (on B) keep receiving.
    process.kill(pidA as number, 'SIGKILL');
    await logLine(
      r,
      (l) => l.msg === 'worker exited; restarting' && l.workerPid === pidA,
      'the exit of worker A',
    );
    await waitFor(() => first.some((s) => s.isEnded), 'the streams of worker A closed');
    expect(await publishOnce(port, token, ENV, 1735229200)).toBe(200);
    const onB = await settle(first, '1735229200.0');
    const closed = first.filter((s) => s.isEnded);
    expect(closed.length).toBeGreaterThan(0);
    expect(onB.length).toBeGreaterThan(0);

    // A comes back as a new process, and A's clients reconnect and get the latest at once.
    const restarted = await logLine(
      r,
      (l) => l.msg === 'worker listening' && l.worker === 0 && l.workerPid !== pidA,
      'the restarted worker listening',
    );
    expect(
      r.logs().some((l) => l.msg === 'worker started' && l.workerPid === restarted.workerPid),
    ).toBe(true);
    const reconnected = await open(port, closed.length + 4);
    await waitFor(
      () => reconnected.every((s) => s.body === frame('1735229200.0')),
      'the reconnected streams got the latest as their initial event',
    );

    // The restarted worker serves streams: kill B, and the streams on A' live on.
    process.kill(pidB as number, 'SIGKILL');
    await logLine(
      r,
      (l) => l.msg === 'worker exited; restarting' && l.workerPid === pidB,
      'the exit of worker B',
    );
    await waitFor(() => onB.every((s) => s.isEnded), 'the streams of worker B closed');
    expect(await publishOnce(port, token, ENV, 1735229300)).toBe(200);
    const onRestarted = await settle(reconnected, '1735229300.0');
    expect(onRestarted.length).toBeGreaterThan(0);
    expect(onRestarted.length).toBeLessThan(reconnected.length);

    // SIGTERM: the primary forwards it, every worker drains, exit 0, one listening line in all.
    await logLine(
      r,
      (l) => l.msg === 'worker listening' && l.worker === 1 && l.workerPid !== pidB,
      'worker B back',
    );
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    await waitFor(() => clients.every((s) => s.isEnded), 'every stream closed by the drain');
    expect(r.logs().filter((l) => l.msg === 'listening')).toHaveLength(1);
    expect(r.logs().filter((l) => l.msg === 'worker stopped')).toHaveLength(2);
    expect(r.stdout()).not.toContain(token);
  }, 60_000);

  it('exits 1 when the workers cannot start (port taken)', async () => {
    await using nats = await startNatsServer();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const taken = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const r = run({
        PORT: String(taken),
        NATS_URL: nats.url,
        SSE_WORKERS: '2',
        SSE_AUTHENTICATION_TOKEN: 't',
      });
      expect(await r.exited).toBe(1);
      // With reusePort the primary finds the port taken before forking; else a worker does.
      const failure = runtimeHasReusePort()
        ? 'could not start'
        : 'worker failed during start; stopping';
      expect(r.logs().some((l) => l.msg === failure)).toBe(true);
      expect(r.logs().some((l) => l.msg === 'listening')).toBe(false);
    } finally {
      blocker.close();
    }
  });

  it('refuses SSE_WORKERS=2 with the embedded broker; unset, runs one process and says why', async () => {
    const refused = run({ PORT: '0', SSE_WORKERS: '2' });
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toContain('config error: SSE_WORKERS: SSE_WORKERS=2 needs NATS_URL');

    const single = run({ PORT: '0', SSE_AUTHENTICATION_TOKEN: 't' });
    const ready = await logLine(single, isMsg('listening'), 'the listening line');
    expect(ready.pid).toBe(single.child.pid);
    expect(single.stdout()).toContain('SSE_WORKERS defaults to 1 without NATS_URL');
    expect(single.logs().some((l) => l.msg === 'starting workers')).toBe(false);
    single.child.kill('SIGTERM');
    expect(await single.exited).toBe(0);
  });
});

describe('RestartBackoff', () => {
  it('restarts a long-lived worker at once and doubles the delay of a crash loop up to 30 s', () => {
    const backoff = new RestartBackoff();
    expect(backoff.next(60_000)).toBe(0);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map(() => backoff.next(100))).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
    expect(backoff.next(10_000)).toBe(0);
    expect(backoff.next(100)).toBe(250);
  });
});
