import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { subscribe } from '@flagsmith-rt/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { addSubscriber, emptyGaps } from '../src/gaps.js';
import { CLIENT_BACKOFF, reconnectDelay } from '../src/reconnect.js';
import { runCli } from './helpers.js';

describe('missed intermediate updates', () => {
  it('counts gaps after the first receipt only, and whether the last arrived', () => {
    const g = emptyGaps(4);
    addSubscriber(g, [true, true, true, true]);
    addSubscriber(g, [false, true, false, true]); // joined at 2, missed 3
    addSubscriber(g, [true, false, true, false]); // missed 2, not the last
    addSubscriber(g, [false, false, false, false]);
    expect(g).toMatchObject({ subscribers: 4, receivedNone: 1, endedWithLast: 2, withGaps: 2 });
    expect(g.missedByUpdate).toEqual([0, 1, 1, 0]);
    expect(g.histogram).toEqual({ 0: 1, 1: 2 });
  });

  // A peer that skips update 2 for every second subscriber: the loadgen must say so.
  it('reports the subscribers a server skipped, through `loadgen fanout`', async () => {
    const streams: ServerResponse[] = [];
    let published = 0;
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/sub/')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': hi\n\n');
        streams.push(res);
        return;
      }
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        published++;
        streams.forEach((s, i) => {
          if (published === 2 && i % 2 === 1) return;
          s.write(`data: ${body}\n\n`);
        });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const out = await runCli([
        'fanout',
        '--target',
        url,
        '--stream-url',
        '{target}/sub/{env}',
        '--publish-url',
        '{target}/pub/{env}',
        '--subscribers',
        '40',
        '--updates',
        '3',
        '--interval',
        '100ms',
        '--settle-timeout',
        '2s',
      ]);
      expect(out.stdout).toContain(
        'Missed intermediate updates: 20 of 40 subscribers missed at least one (update 2: 20); 40 ended with the last update',
      );
    } finally {
      for (const s of streams) s.destroy();
      server.close();
    }
  });
});

describe("reconnect delays mirror @flagsmith-rt/client's", () => {
  afterEach(() => vi.useRealTimers());

  it("match the real client's waits, attempt by attempt, up to the cap", async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.9999);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const delays: number[] = [];
    const sub = subscribe({
      environmentKey: 'env',
      baseUrl: 'http://127.0.0.1:9/',
      fetch: () => Promise.reject(new Error('down')),
      onStateChange: (c) => {
        if (c.state === 'waiting') delays.push(c.delayMs!);
      },
    });
    for (let i = 0; delays.length < 8 && i < 100; i++) await vi.advanceTimersByTimeAsync(31_000);
    sub.close();
    const ours = delays.map((_, attempt) => reconnectDelay(attempt, CLIENT_BACKOFF, () => 0.9999));
    expect(delays.slice(0, 8)).toEqual(ours.slice(0, 8));
    expect(ours.slice(0, 8)).toEqual([999, 1999, 3999, 7999, 15998, 29997, 29997, 29997]);
    vi.restoreAllMocks();
  });
});
