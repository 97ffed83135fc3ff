import { connect, type Socket } from 'node:net';
import { FUZZ_TARGET_KEY, fuzzCase } from '../fuzz/cases.js';
import { sendRaw } from '../fuzz/http.js';
import { Random } from '../fuzz/random.js';
import { MemoryWatch } from '../memory.js';
import { MemoryProbe, probeTotals } from '../memory-probe.js';
import { judgeRounds, type RoundMemory } from '../memory-rounds.js';
import { readStreamState } from '../nats-stream.js';
import { ResultBuilder } from '../result.js';
import { type Scenario, type ScenarioContext, sized } from '../scenario.js';
import { Stack } from '../stack.js';
import { percentile } from '../stats.js';
import { makeCertificates } from '../tls.js';
import { delay, waitFor } from '../wait.js';
import { type H2PhaseResult, h2PhaseTable, runH2Phase } from './h2-phase.js';

/** Connections of each kind running at once in the h2 phase. */
const H2_CONCURRENCY = 24;
/** `KEEPALIVE_INTERVAL` (s) of the h2 phase's instances: a ghost must leave within it. */
const H2_KEEPALIVE_SECONDS = 5;

/** The h2 phase's settings from the environment (see the README). */
function h2PhaseSettings(context: ScenarioContext): {
  h2c: 'on' | 'off' | undefined;
  perKind: number;
  workers: number[];
  tls: boolean;
} {
  const h2c = process.env.CHAOS_H2C || undefined;
  if (h2c !== undefined && h2c !== 'on' && h2c !== 'off') {
    throw new Error(`CHAOS_H2C must be on or off (unset: the runtime's default), got "${h2c}"`);
  }
  const perKind = Number(process.env.CHAOS_H2_PER_KIND ?? sized(context, 5, 1_000));
  const workersList = process.env.CHAOS_H2_WORKERS ?? '1,2';
  const workers = workersList.trim() === '' ? [] : workersList.split(',').map(Number);
  if (!Number.isSafeInteger(perKind) || perKind < 0) {
    throw new Error(`CHAOS_H2_PER_KIND must be a whole number, got "${perKind}"`);
  }
  if (workers.some((w) => !Number.isSafeInteger(w) || w < 1)) {
    throw new Error(`CHAOS_H2_WORKERS must be a comma-separated list of worker counts`);
  }
  const tls = (process.env.CHAOS_H2_TLS ?? 'on') !== 'off';
  return { h2c, perKind, workers, tls };
}

/** `count` benign requests (health checks), 16 at a time. */
async function benignLoad(baseUrl: string, count: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next++ < count) {
        const response = await fetch(`${baseUrl}/livez`).catch(() => undefined);
        await response?.arrayBuffer();
      }
    }),
  );
}

/** Opens `count` slowloris connections: headers trickle in a byte every `intervalMs`, never ending. */
function slowloris(
  port: number,
  count: number,
  intervalMs: number,
): { closedByServer: () => number; stop: () => void } {
  const sockets: Socket[] = [];
  let closed = 0;
  let stopped = false;
  for (let i = 0; i < count; i++) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (!stopped) closed++;
    });
    socket.write(`GET /sse/environments/${FUZZ_TARGET_KEY}/stream HTTP/1.1\r\nHost: x\r\nX-Slow: `);
    sockets.push(socket);
  }
  const timer = setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write('a');
  }, intervalMs);
  return {
    closedByServer: () => closed,
    stop: () => {
      stopped = true;
      clearInterval(timer);
      for (const s of sockets) s.destroy();
    },
  };
}

/**
 * 6. A seeded fuzz run: hostile paths, keys, methods, headers, bodies (up to 10 MB) and tokens,
 * plus slowloris connections. Only 4xx (and 503) may come back for them, nothing may be
 * published, nothing may crash, and memory returns to its baseline.
 */
export const hostileInput: Scenario = {
  id: 'hostile-input',
  title: 'Hostile input (fuzz)',
  async run(context) {
    const b = new ResultBuilder(this.id, this.title, context.mode);
    const total = Number(process.env.CHAOS_FUZZ_REQUESTS ?? sized(context, 10_000, 100_000));
    const concurrency = 48;
    const hugeEvery = 5_000;
    const slowCount = sized(context, 100, 500);
    const h2 = h2PhaseSettings(context);
    const r = b.result;
    r.load = `1 NATS node, 1 instance (default SSE_WORKERS: one worker per CPU, 2); ${total.toLocaleString('en')} fuzz requests (seed ${context.seed}, ${concurrency} concurrent, one connection each, a 10 MB body every ${hugeEvery}) + ${slowCount} slowloris connections`;
    r.load += `; then the h2 phase: ${h2.perKind} raw HTTP/2 connections per kind (${H2_CONCURRENCY} concurrent) against an instance of its own with SSE_WORKERS=${h2.workers.join(' and ')}, H2C=${h2.h2c ?? "the runtime's default"}, KEEPALIVE_INTERVAL=${H2_KEEPALIVE_SECONDS} s${h2.tls ? ', and the same over TLS (ALPN h2, SSE_WORKERS=1)' : ''}`;
    r.faults =
      'hostile paths, keys (wildcards, dots, unicode, 10 KB, percent tricks), methods, headers (huge, duplicated, missing), bodies (bad JSON, nesting, huge numbers, wrong types, 10 MB), tokens (missing, wrong scheme/length, near miss), slowloris; ' +
      'HTTP/2 frames: GOAWAY then HEADERS, DATA/HEADERS/WINDOW_UPDATE on stream 0, SETTINGS edge values, PING/RST_STREAM (rapid reset)/CONTINUATION/PRIORITY floods, frames after a connection error, HEADERS without END_HEADERS held open';
    r.rssBoundMb = sized(context, 500, 600);

    const fuzzRounds = Number(process.env.CHAOS_FUZZ_ROUNDS ?? 3);
    if (!Number.isSafeInteger(fuzzRounds) || fuzzRounds < 1) {
      throw new Error(`CHAOS_FUZZ_ROUNDS must be a whole number from 1, got "${fuzzRounds}"`);
    }
    const probe = new MemoryProbe();
    const stack = await Stack.start({ nats: 'single', instances: 1, serviceEnv: probe.env() });
    const instance = stack.instances[0]!;
    const memory = new MemoryWatch(() => stack.instances).start();
    const loris = slowloris(instance.port, slowCount, 1_000);
    let h2Crashes = 0;
    const lorisOpenedAt = Date.now();
    try {
      // Baseline after a warm-up of benign requests, measured the same way as afterwards.
      await benignLoad(instance.url, 1_000);
      const before = await readStreamState(stack.nodes.map((n) => n.url));
      const roundMemory = async (round: number, requests: number): Promise<RoundMemory> => {
        const readings = await probe.read(instance.pids());
        const memoryNow = { round, requests, ...probeTotals(readings) };
        const perProcess = readings.map((reading) => probeTotals([reading]));
        context.log(`memory after GC: ${JSON.stringify({ ...memoryNow, perProcess })}`);
        return memoryNow;
      };
      const baselineMemory = await roundMemory(0, 0);
      const rng = new Random(context.seed);
      const statuses = new Map<string, number>();
      const unexpected: string[] = [];
      let streams = 0;
      let noAnswer = 0;
      let next = 0;
      const host = `127.0.0.1:${instance.port}`;
      const livez: number[] = [];
      const timings = new Map<string, number[]>();
      const timedOut: string[] = [];
      let unexpectedCount = 0;
      let running = true;
      const livezProbe = (async () => {
        while (running) {
          const started = Date.now();
          const status = await instance.probe('/livez', 5_000);
          livez.push(status === 200 ? Date.now() - started : 5_000);
          await delay(500);
        }
      })();
      const started = Date.now();
      // The fuzz in rounds against the same processes, each followed by a reading after GC:
      // memory that keeps growing round after round is a leak; a step in the first round
      // that later rounds do not add to is memory kept for reuse (see the checks below).
      const rounds: RoundMemory[] = [];
      for (let round = 1; round <= fuzzRounds; round++) {
        const end = Math.round((total * round) / fuzzRounds);
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < end) {
              const index = next++;
              const fuzz = fuzzCase(rng, stack.token, host, index % hugeEvery === hugeEvery - 1);
              const sentAt = Date.now();
              const response = await sendRaw('127.0.0.1', instance.port, fuzz.bytes, 10_000);
              const times = timings.get(fuzz.category) ?? [];
              timings.set(fuzz.category, times);
              times.push(Date.now() - sentAt);
              const key = `${fuzz.category} ${response.status || response.failure}`;
              statuses.set(key, (statuses.get(key) ?? 0) + 1);
              if (response.failure === 'timeout' && timedOut.length < 5) {
                timedOut.push(JSON.stringify(fuzz.bytes.subarray(0, 200).toString('latin1')));
              }
              if (response.stream) streams++;
              if (response.status === 0) noAnswer++;
              const s = response.status;
              // Writing 10 MB to a server that already answered and closed may fail first.
              const hugeRefused =
                s === 0 && fuzz.category === 'body-10MB' && response.failure !== 'timeout';
              const bad =
                (s >= 500 && s !== 503) ||
                (fuzz.targetsPublish && s >= 200 && s < 300 && !response.stream) ||
                (s === 0 && !hugeRefused);
              if (bad && unexpected.length < 20) {
                unexpected.push(
                  `${key}: ${JSON.stringify(fuzz.bytes.subarray(0, 300).toString('latin1'))}`,
                );
              }
              if (bad) unexpectedCount++;
            }
          }),
        );
        rounds.push(await roundMemory(round, next));
      }
      const elapsed = Date.now() - started;
      running = false;
      await livezProbe;
      b.figure('requests', total);
      b.figure('memoryAfterGcByRound', JSON.stringify([baselineMemory, ...rounds]));
      b.figure('requestsPerSecond', total / (elapsed / 1000));
      b.figure('eventStreamsOpened', streams);
      b.figure('noAnswer', noAnswer);
      if (timedOut.length > 0) b.figure('unansweredExamples', timedOut.join(' | '));
      b.figure('livezP99DuringFuzzMs', percentile(livez, 99));
      b.figure(
        'responseMsP50P99ByCategory',
        JSON.stringify(
          Object.fromEntries(
            [...timings].map(([k, v]) => [k, `${percentile(v, 50)}/${percentile(v, 99)}`]),
          ),
        ),
      );
      const byStatus = new Map<string, number>();
      for (const [key, count] of statuses) {
        const status = key.slice(key.indexOf(' ') + 1);
        byStatus.set(status, (byStatus.get(status) ?? 0) + count);
      }
      b.figure('statuses', JSON.stringify(Object.fromEntries([...byStatus].sort())));
      b.figure('statusesByCategory', JSON.stringify(Object.fromEntries([...statuses].sort())));
      b.figure('unexpectedResponses', unexpectedCount);
      b.check(
        unexpected.length === 0,
        `responses other than 4xx/503 to invalid input (first ones): ${unexpected.join(' | ')}`,
      );
      // Partial requests must not be held forever (REQUEST_TIMEOUT, default 10 s).
      await waitFor(
        'the service to close every slowloris connection',
        () => loris.closedByServer() === slowCount,
        { timeoutMs: 45_000, intervalMs: 250 },
      ).catch(() => undefined);
      const slowClosed = loris.closedByServer();
      b.figure(
        'slowlorisClosedByServer',
        `${slowClosed}/${slowCount} within ${Math.round((Date.now() - lorisOpenedAt) / 1000)} s`,
      );
      b.check(
        slowClosed === slowCount,
        `${slowCount - slowClosed} slowloris connections were still held after 45 s`,
      );

      const after = await readStreamState(stack.nodes.map((n) => n.url));
      b.figure('streamLastSeqBefore', before.lastSeq);
      b.figure('streamLastSeqAfter', after.lastSeq);
      b.check(
        after.lastSeq === before.lastSeq,
        `invalid input published ${after.lastSeq - before.lastSeq} messages to the stream`,
      );

      loris.stop();
      // RSS alone does not tell a leak: under the fuzz Node 24 grows each worker's young
      // generation (new_space 16 -> 64 MiB, in some runs 128 MiB, a limit four times Node
      // 20's) and keeps it until a memory-reducing GC, so RSS stays 100-200 MiB up without
      // any request's memory staying alive. The checks use the readings after GC
      // and look for growth that goes on round after round (see judgeRounds, RELIABILITY.md).
      const lastRound = rounds.at(-1)!;
      // Both after a full GC (the probe's), with the pages V8 keeps: the figure the old check used.
      b.figure('rssBaselineMb', baselineMemory.rssMb);
      b.figure('rssAfterMb', lastRound.rssMb);
      b.figure('heapUsedAfterGcBaselineMb', baselineMemory.heapUsedMb);
      b.figure('heapUsedAfterGcMb', lastRound.heapUsedMb);
      b.figure('rssAfterLastResortGcBaselineMb', baselineMemory.lastResortRssMb);
      b.figure('rssAfterLastResortGcMb', lastRound.lastResortRssMb);
      b.figure('rssOutsideV8HeapBaselineMb', baselineMemory.nativeRssMb);
      b.figure('rssOutsideV8HeapMb', lastRound.nativeRssMb);
      for (const failure of judgeRounds(baselineMemory, rounds)) b.check(false, failure);
      // A legitimate publish still works after all that.
      const ok = await fetch(`${instance.url}/sse/environments/${FUZZ_TARGET_KEY}/queue-change`, {
        method: 'POST',
        headers: { Authorization: `Token ${stack.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ updated_at: Date.now() / 1000 }),
      });
      b.check(
        ok.status >= 200 && ok.status < 300,
        `a valid publish after the fuzz got ${ok.status}`,
      );
      r.acknowledged = ok.status < 300 ? 1 : 0;

      // The h2 phase: hostile HTTP/2 connections by the hundred, kind by kind.
      const phases = [
        ...h2.workers.map((workers) => ({ workers, tls: false })),
        ...(h2.tls ? [{ workers: 1, tls: true }] : []),
      ];
      for (const { workers, tls } of h2.perKind > 0 ? phases : []) {
        const certs = tls ? makeCertificates() : undefined;
        const phase = await runH2Phase({
          ...(certs ? { tls: { certFile: certs.certFile, keyFile: certs.keyFile } } : {}),
          natsUrls: stack.nodes.map((n) => n.url),
          token: stack.token,
          workers,
          h2c: h2.h2c,
          perKind: h2.perKind,
          concurrency: H2_CONCURRENCY,
          keepAliveSeconds: H2_KEEPALIVE_SECONDS,
          seed: context.seed + workers,
          streamKey: FUZZ_TARGET_KEY,
          log: context.log,
        }).finally(() => certs?.remove());
        h2Crashes += checkH2Phase(b, phase);
        context.log(
          `h2 phase (${phase.transport}), SSE_WORKERS=${workers}:\n${h2PhaseTable(phase)}`,
        );
      }
    } finally {
      loris.stop();
      r.peakRssMb = memory.stop();
      r.crashes = stack.crashes().length + h2Crashes;
      for (const crash of stack.crashes()) context.log(`CRASH ${crash.name}: ${crash.tail}`);
      await stack.stop();
      probe.remove();
    }
    return b.finish();
  },
};

/** Records the h2 phase's figures and fails on any crash or leak; returns its crashes. */
function checkH2Phase(b: ResultBuilder, phase: H2PhaseResult): number {
  const w = `${phase.workers}w${phase.transport === 'tls' ? 'Tls' : ''}`;
  b.figure(`h2Phase${w}Spoken`, `${phase.spoken} (Node ${phase.node}, H2C=${phase.h2c})`);
  b.figure(
    `h2Phase${w}ByKind`,
    JSON.stringify(
      Object.fromEntries(
        phase.rows.map((row) => [
          row.kind,
          {
            connections: row.connections,
            closedByServer: row.closedByServer,
            crashes: row.crashes,
            leakedFds: row.leakedFds,
            leakedSubscribers: row.leakedSubscribers,
          },
        ]),
      ),
    ),
  );
  let crashes = 0;
  for (const row of phase.rows) {
    crashes += row.crashes;
    const at = `h2 phase (${phase.transport}, SSE_WORKERS=${phase.workers}) ${row.kind}`;
    b.check(row.crashes === 0, `${at}: ${row.crashes} crashes (${row.crashDetails.join(', ')})`);
    b.check(row.leakedFds === 0, `${at}: ${row.leakedFds ?? 'unknown (crash)'} leaked descriptors`);
    b.check(
      row.leakedSubscribers === 0,
      `${at}: ${row.leakedSubscribers ?? 'unknown (crash)'} leaked subscribers`,
    );
    b.check(row.livez, `${at}: /livez did not answer 200`);
    b.check(row.connections > 0 || row.crashes > 0, `${at}: no connection was established`);
  }
  return crashes;
}
