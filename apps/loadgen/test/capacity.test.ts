import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { machineInfo } from '../src/bench/machine.js';
import { type BenchResults, QUICK } from '../src/bench/matrix.js';
import { findBinary } from '../src/bench/processes.js';
import { acceptRatio } from '../src/bench/render/accept.js';
import { benchMarkdown } from '../src/bench/render/markdown.js';
import { runMatrix, type Scenario } from '../src/bench/runner.js';
import { int, ms } from '../src/report/format.js';
import { SSE_MAIN } from './helpers.js';

// Issue #16's scenarios of `pnpm bench`, shrunk to a few hundred subscribers: real nats-server, apps/sse
// and nginx+nchan, each driven by the loadgen command the bench writes down, then their Markdown.
describe('pnpm bench: issue #16 scenarios', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loadgen-capacity-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const natsBinary = findBinary('nats-server', 'NATS_SERVER_BIN');
  const nginxBinary = findBinary('nginx', 'NGINX_BIN');
  const spec = {
    ...QUICK,
    sizes: [200],
    updates: 3,
    intervalMs: 200,
    storm: 200,
    connectHundredK: 300,
    connectHundredKWorkers: 2,
    stormSubscribers: 300,
    fanoutPairs: 1,
    mixRounds: 2,
    connectRounds: 2,
    publishConcurrency: 4,
    publishDurationMs: 300,
    publishEnvs: 5,
    gapsSubscribers: 400,
    gapsWorkers: 4,
    gapsRamp: 400,
    gapsPublishAfter: 100,
  };
  const run = (only: Scenario[]) =>
    runMatrix(
      spec,
      { sseMain: SSE_MAIN, reportsDir: dir, natsBinary, nginxBinary },
      () => {},
      new Set(only),
    );
  const render = (results: BenchResults) =>
    benchMarkdown(results, machineInfo(natsBinary, nginxBinary), spec, '.');

  it('reconnect storm: every subscriber back with the update published after the SIGKILL, ours and nchan', async () => {
    const results = await run(['storm']);
    expect(results.errors).toEqual([]);
    for (const kind of ['ours', 'nchan'] as const) {
      const r = results.storm![kind]!.result;
      expect(r.subscribers.beforeKill).toBe(300);
      // The kill ended the first instance's share; each came back to the survivor.
      const dropped = Object.values(r.subscribers.drops).reduce((a, b) => a + b, 0);
      expect(dropped).toBe(150);
      expect(r.subscribers.reconnects).toBeGreaterThanOrEqual(150);
      expect(r.subscribers.atEnd).toBe(300);
      expect(r.update.delivered).toBe(300);
      expect(r.allBackMs).toBeGreaterThan(0);
      expect(r.allBackAndDeliveredMs).toBeGreaterThanOrEqual(r.update.publishedAfterKillMs);
      expect(r.update.publishStatus).toHaveLength(1);
    }
    const md = render(results);
    expect(md).toContain('### 8. Reconnect storm');
    expect(md).toContain(`| update delivered | 300 / 300 (100 %) | 300 / 300 (100 %) |  |`);
    expect(md).toContain(results.storm!.ours!.command);
    expect(md).toContain('--kill-pid');
  });

  it('publishes overlapping a connect storm over 4 workers: missed intermediate updates per subscriber', async () => {
    const results = await run(['gaps']);
    expect(results.errors).toEqual([]);
    for (const kind of ['ours', 'nchan'] as const) {
      const r = results.gaps![kind]!.result;
      expect(r.subscribers.connected).toBe(400);
      expect(r.gaps!.subscribers).toBe(400);
      // Publishing began with about 100 connected: early updates reached fewer than all.
      expect(r.updates[0]!.delivered).toBeLessThan(400);
      expect(r.updates[r.updates.length - 1]!.delivered).toBe(r.gaps!.endedWithLast);
      expect(r.gaps!.missedByUpdate).toHaveLength(3);
    }
    const md = render(results);
    expect(md).toContain('### 11. Publishes overlapping a connect storm');
    expect(md).toContain(`--publish-after-connected 100`);
    const g = results.gaps!.ours!.result.gaps!;
    expect(md).toContain(`**${int(g.withGaps)}** of ${int(g.subscribers)}`);
  });

  it('connection cost, fan-out pairs and publish mixes, side by side with nchan', async () => {
    const results = await run(['connect', 'connect100k', 'pairs', 'mix']);
    expect(results.errors).toEqual([]);
    const k = results.connectHundredK!;
    for (const r of [k.ours!.result, k.nchan!.result, results.connect.ours!.result]) {
      expect(r.connected).toBe(r.clients);
      expect(r.serverCpuMsPer1000).toBeCloseTo((r.serverCpuMs! * 1000) / r.connected, 6);
      // User-space time is a part of the server's CPU time; the rest is the kernel's.
      expect(r.serverUserCpuMs).toBeGreaterThanOrEqual(0);
      expect(r.serverUserCpuMs).toBeLessThanOrEqual(r.serverCpuMs!);
      expect(r.connectsPerSecond).toBeGreaterThan(0);
    }
    // Target 5 ran twice, the order rotated; each round started its servers afresh.
    expect(results.connect.order).toEqual(['ours', 'nchan']);
    expect(results.connectRounds!.map((r) => r.order)).toEqual([['nchan', 'ours']]);
    const round2 = results.connectRounds![0]!;
    for (const r of [round2.ours!.result, round2.nchan!.result]) expect(r.connected).toBe(200);
    expect(round2.ours!.command).toContain('round 2');
    expect(round2.ours!.result.options.pids).not.toEqual(results.connect.ours!.result.options.pids);
    // SSE_WORKERS=2: the primary's own CPU is a part of the whole tree's.
    expect(k.ours!.result.serverOwnCpuMs[0]).toBeLessThanOrEqual(k.ours!.result.serverCpuMs!);
    expect(k.ours!.command).toContain('--clients 300');
    const pair = results.fanoutPairs![0]!;
    expect(pair.ours!.result.totals.ratio).toBe(1);
    expect(pair.nchan!.result.totals.ratio).toBe(1);
    const mix = results.publishMix!;
    for (const m of [mix.hot, mix.spread]) {
      // Two rounds, the order alternating; every run of ours reports what its writes met.
      expect(m.rounds!.map((r) => r.order)).toEqual([
        ['one', 'workers'],
        ['workers', 'one'],
      ]);
      for (const r of m.rounds!) {
        for (const run of [r.one!, r.workers!]) {
          expect(run.result.failed).toBe(0);
          expect(run.writes!.stored).toBeGreaterThan(0);
          // Every publish was answered after its write or from memory: never more writes than publishes.
          expect(run.writes!.stored + run.writes!.duplicate).toBeLessThanOrEqual(
            run.result.requests,
          );
        }
        expect(r.one!.command).toMatch(/round \d/);
      }
      expect(m.nchan!.result.failed).toBe(0);
      expect(m.nchan!.writes).toBeUndefined();
    }
    expect(mix.hot.rounds![0]!.one!.command).toContain('--envs 1 ');
    expect(mix.spread.rounds![1]!.workers!.command).toContain('--envs 5 ');

    const md = render(results);
    // /proc counts CPU in 10 ms ticks: nchan may spend 0 ticks on 300 connections, and then there is no ratio.
    const ratio = acceptRatio(k.ours!.result, k.nchan!.result);
    expect(md).toContain('### 7. Cost of accepting connections');
    expect(md).toContain('Every round of the 200');
    expect(md).toContain('| 2 | nchan, ours |');
    const o2 = round2.ours!.result;
    expect(md).toContain(`(user ${ms((o2.serverUserCpuMs! * 1000) / o2.connected)})`);
    expect(md).toContain(round2.nchan!.command);
    expect(md).toContain(ratio === undefined ? '| – | not measured |' : `| ${ratio.toFixed(2)}× |`);
    expect(md).toContain('### 9. Fan-out pairs');
    const pr =
      pair.ours!.result.totals.completionMedianMs / pair.nchan!.result.totals.completionMedianMs;
    expect(md).toContain(`Median of the 1 pair ratios: **${pr.toFixed(2)}×**`);
    expect(md).toContain('### 10. Publish mixes');
    const r1 = mix.hot.rounds![0]!;
    const hotRatio = r1.workers!.result.requestsPerSecond / r1.one!.result.requestsPerSecond;
    expect(md).toContain(`| one hot environment | 1 | 1 then 2 |`);
    expect(md).toContain(`| one hot environment | 2 | 2 then 1 |`);
    expect(md).toContain(`| ${hotRatio.toFixed(2)}× |`);
    expect(md).toContain(mix.spread.rounds![1]!.one!.command);
    expect(md).toContain('**Issue #16 goals**');
  });
});
