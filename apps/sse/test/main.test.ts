import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startNatsServer } from '@flagsmith-rt/nats-launcher';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { mainRunner, type Running } from './helpers/process.js';
import { frame, SseClient, waitFor } from './helpers/sse-client.js';

const MAIN = inject('mainPath');

const { run, stopAll } = mainRunner(MAIN);
afterEach(stopAll);

async function listening(r: Running): Promise<{ url: string; port: number }> {
  const line = await waitFor(
    () =>
      r
        .stdout()
        .split('\n')
        .find((l) => l.includes('"msg":"listening"')),
    `the listening line; stdout ${r.stdout()} stderr ${r.stderr()}`,
  );
  const parsed = JSON.parse(line) as { url: string; port: number };
  return { url: parsed.url, port: Number(new URL(parsed.url).port) };
}

describe('the service process', () => {
  it('announces its URL, prints a generated token once, serves, and exits 0 on SIGTERM', async () => {
    const r = run({ PORT: '0', DRAIN_WINDOW: '0.3' });
    const { url, port } = await listening(r);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const token = /Authorization: Token (\S+)/.exec(r.stderr())?.[1];
    expect(token).toBeDefined();

    const stream = await SseClient.open(port, 'abc');
    await stream.until((t) => t.includes('\r\n\r\n'), 'the head');
    const res = await fetch(`${url}/sse/environments/abc/queue-change`, {
      method: 'POST',
      headers: { authorization: `Token ${token}` },
      body: '{"updated_at":"2024-12-26T16:18:08.760000+00:00"}',
    });
    expect(res.status).toBe(200);
    await stream.until((t) => t.endsWith(frame('1735229888.76')), 'the update');
    const wrong = await fetch(`${url}/sse/environments/abc/queue-change`, {
      method: 'POST',
      headers: { authorization: 'Token not-the-token-but-logged?' },
      body: '{}',
    });
    expect(wrong.status).toBe(401);

    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    await waitFor(() => stream.isEnded, 'the stream closed by the shutdown');
    // The secret appears once on stderr and never in the JSON log.
    expect(r.stderr().split(token!).length - 1).toBe(1);
    expect(r.stdout()).not.toContain(token!);
    expect(r.stdout()).not.toContain('not-the-token-but-logged');
    for (const line of r.stdout().trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('listens with a backlog of 4096, capped by net.core.somaxconn (Node defaults to 511)', async () => {
    const r = run({ PORT: '0', SSE_AUTHENTICATION_TOKEN: 'backlog-token' });
    const { port } = await listening(r);
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    // For a listening socket, ss shows the accept backlog in the Send-Q column.
    const row = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
    const sendQ = Number(row.trim().split(/\s+/)[2]);
    expect(sendQ).toBe(Math.min(4096, somaxconn));
  });

  it('exits 1 listing every configuration error', async () => {
    const r = run({ PORT: 'eighty', KEEPALIVE_INTERVAL: '-1', STREAM_STORAGE: 'disk' });
    expect(await r.exited).toBe(1);
    expect(r.stderr()).toContain('PORT');
    expect(r.stderr()).toContain('KEEPALIVE_INTERVAL');
    expect(r.stderr()).toContain('STREAM_STORAGE');
  });

  it('runs on NATS with a configured token and drains on SIGTERM: streams end across the window, exit 0', async () => {
    await using nats = await startNatsServer();
    const r = run({
      PORT: '0',
      NATS_URL: nats.url,
      STREAM_STORAGE: 'memory',
      SSE_AUTHENTICATION_TOKEN: 'configured-secret',
      DRAIN_WINDOW: '0.6',
    });
    const { url, port } = await listening(r);
    expect(r.stderr()).not.toContain('configured-secret');
    expect(r.stdout()).toContain('"broker":"jetstream"');
    const streams = await Promise.all(Array.from({ length: 6 }, () => SseClient.open(port, 'abc')));
    await Promise.all(streams.map((s) => s.until((t) => t.includes('\r\n\r\n'), 'the head')));
    const res = await fetch(`${url}/sse/environments/abc/queue-change`, {
      method: 'POST',
      headers: { authorization: 'Token configured-secret' },
      body: '{"updated_at": 1735229888.76}',
    });
    expect(res.status).toBe(200);
    await Promise.all(
      streams.map((s) => s.until((t) => t.endsWith(frame('1735229888.76')), 'the update')),
    );

    const signalledAt = Date.now();
    r.child.kill('SIGTERM');
    const endedAt = await Promise.all(
      streams.map(async (s) => {
        await waitFor(() => s.isEnded, 'the stream ended by the drain');
        return Date.now() - signalledAt;
      }),
    );
    expect(await r.exited).toBe(0);
    expect(Math.max(...endedAt) - Math.min(...endedAt)).toBeGreaterThanOrEqual(300);
    expect(r.stdout()).not.toContain('configured-secret');
  });
});
