import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectResult } from '../src/connect.js';
import type { FanoutResult } from '../src/fanout.js';
import type { PublishResult } from '../src/publish.js';
import { runCli, type SseProcess, startSse } from './helpers.js';

// The real CLI (dist) against a real apps/sse process, small enough to run in a few seconds:
// if the tool breaks (parsing, workers, IPC, reports), delivery stops being 100 %.
describe('loadgen against apps/sse', () => {
  const token = 'smoke-test-token';
  let sse: SseProcess;
  let dir: string;

  beforeAll(async () => {
    sse = await startSse(token);
    dir = mkdtempSync(join(tmpdir(), 'loadgen-smoke-'));
  });
  afterAll(async () => {
    await sse?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fanout: 200 subscribers over 2 workers and 2 environments get all 3 updates', async () => {
    const json = join(dir, 'fanout.json');
    const html = join(dir, 'fanout.html');
    const run = await runCli([
      'fanout',
      '--target',
      sse.url,
      '--token',
      token,
      '--subscribers',
      '200',
      '--workers',
      '2',
      '--envs',
      '2',
      '--updates',
      '3',
      '--interval',
      '100ms',
      '--ramp',
      '2000',
      '--pid',
      String(sse.pid),
      '--json',
      json,
      '--html',
      html,
      '--strict',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(readFileSync(json, 'utf8')) as FanoutResult;
    expect(result.subscribers.connected).toBe(200);
    expect(result.updates).toHaveLength(3);
    for (const u of result.updates) {
      expect(u.publishStatus).toHaveLength(2);
      expect(u.publishStatus.every((s) => typeof s === 'number' && s >= 200 && s < 300)).toBe(true);
      expect(u.delivered).toBe(200);
      expect(u.latency.count).toBe(200);
      expect(u.completionMs).toBeGreaterThan(0);
    }
    expect(result.totals.ratio).toBe(1);
    expect(
      result.subscribers.duplicate + result.subscribers.unexpected + result.subscribers.unparsable,
    ).toBe(0);
    expect(result.cost?.idle.rssKb).toBeGreaterThan(0);
    expect(run.stdout).toContain('Delivered 600 / 600 (100 %)');
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<svg');
    expect(page).toContain('latency distribution per update');
  });

  it('fanout: a wrong token means nothing is delivered and --strict fails the run', async () => {
    const json = join(dir, 'denied.json');
    const run = await runCli([
      'fanout',
      '--target',
      sse.url,
      '--token',
      'wrong',
      '--subscribers',
      '20',
      '--updates',
      '1',
      '--settle-timeout',
      '300ms',
      '--json',
      json,
      '--strict',
    ]);
    expect(run.code).toBe(1);
    const result = JSON.parse(readFileSync(json, 'utf8')) as FanoutResult;
    expect(result.updates[0]!.publishStatus).toEqual([401]);
    expect(result.totals.delivered).toBe(0);
  });

  /** `loadgen publish` for 1 s on 4 connections with `extra` options; its exit code and result. */
  const publishFor1s = async (name: string, extra: string[]) => {
    const json = join(dir, `${name}.json`);
    const run = await runCli([
      'publish',
      '--target',
      sse.url,
      '--token',
      token,
      '--concurrency',
      '4',
      '--duration',
      '1s',
      ...extra,
      '--json',
      json,
      '--strict',
    ]);
    return { code: run.code, result: JSON.parse(readFileSync(json, 'utf8')) as PublishResult };
  };

  it('publish: every queue-change for a second is answered 2xx, with latency percentiles', async () => {
    const { code, result } = await publishFor1s('publish', ['--envs', '3']);
    expect(code).toBe(0);
    expect(result.requests).toBeGreaterThan(10);
    expect(result.failed).toBe(0);
    expect(Object.keys(result.statuses).every((s) => s.startsWith('2'))).toBe(true);
    expect(result.latency.p99).toBeGreaterThan(0);
  });

  it('publish --rate: never more than the rate allows over the run, on every worker', async () => {
    const { code, result } = await publishFor1s('publish-rate', ['--workers', '2', '--rate', '50']);
    expect(code).toBe(0);
    expect(result.options.ratePerSecond).toBe(50);
    // 4 connections with a slot every 80 ms each: at most 13 slots each in 1 s. Unpaced, the
    // same run answers hundreds (the test above).
    expect(result.requests).toBeGreaterThan(0);
    expect(result.requests).toBeLessThanOrEqual(4 * 13);
    expect(result.failed).toBe(0);
  });

  it('connect: a storm of 300 clients all connect; a closed port is reported by cause', async () => {
    const json = join(dir, 'connect.json');
    const ok = await runCli([
      'connect',
      '--target',
      sse.url,
      '--clients',
      '300',
      '--json',
      json,
      '--strict',
    ]);
    expect(ok.code).toBe(0);
    const result = JSON.parse(readFileSync(json, 'utf8')) as ConnectResult;
    expect(result.connected).toBe(300);
    expect(result.timeToAllMs).toBeGreaterThan(0);

    const refused = await runCli([
      'connect',
      '--target',
      'http://127.0.0.1:1',
      '--clients',
      '5',
      '--json',
      json,
    ]);
    expect(refused.code).toBe(0);
    expect((JSON.parse(readFileSync(json, 'utf8')) as ConnectResult).failures).toEqual({
      ECONNREFUSED: 5,
    });
  });

  it('refuses a target outside 127.0.0.0/8', async () => {
    const run = await runCli(['connect', '--target', 'http://10.0.0.1:80', '--clients', '1']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('only loopback targets');
  });
});
