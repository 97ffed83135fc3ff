import { randomBytes } from 'node:crypto';
import type { ConnectResult } from '../connect.js';
import type { FanoutResult } from '../fanout.js';
import type { PublishResult } from '../publish.js';
import { pairContenders, pairOrder, runCapacity } from './capacity.js';
import { loadNow } from './machine.js';
import type { BaselineInfo, BenchResults, Contender, MatrixSpec, Pair } from './matrix.js';
import {
  type RunningServer,
  startBareHttp,
  startBareJetStream,
  startNats,
  startNchan,
  startSse,
} from './processes.js';
import { type BenchPaths, loadgen } from './run-loadgen.js';
import { NCHAN, OURS, type ServerKind } from './scenarios.js';

/** The parts of the matrix, selectable with `--only`. */
export const SCENARIOS = [
  'fanout',
  'connect',
  'publish',
  '100k',
  'connect100k',
  'storm',
  'pairs',
  'mix',
  'gaps',
] as const;
/** One part of the matrix. */
export type Scenario = (typeof SCENARIOS)[number];

/** Runs the matrix against flagsmith-rt and nchan, one server at a time. */
export async function runMatrix(
  spec: MatrixSpec,
  paths: BenchPaths,
  log: (l: string) => void,
  only: ReadonlySet<Scenario> = new Set(SCENARIOS),
  baseline?: BaselineInfo,
): Promise<BenchResults> {
  const token = randomBytes(18).toString('base64url');
  // loadgen reads the publish token from here, so commands never show it.
  process.env.SSE_AUTHENTICATION_TOKEN = token;
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    loadBefore: loadNow(),
    loadAfter: '',
    fanout: { ours: [], nchan: [] },
    hundredK: { ours: undefined, nchan: undefined, sseProcesses: spec.hundredKProcesses },
    publish: {
      ours: undefined,
      nchan: undefined,
      oursWorkers: undefined,
      bare: undefined,
      bareJetStream: undefined,
    },
    connect: { ours: undefined, nchan: undefined },
    errors: [],
    ...(baseline ? { baseline } : {}),
  };
  const nats = await startNats(paths.natsBinary);
  log(`nats-server ${nats.url} (pid ${nats.pid})`);

  const start = async (kind: ServerKind, main = paths.sseMain): Promise<RunningServer> =>
    kind === OURS
      ? // One process, as nchan runs one worker (SSE_WORKERS defaults to the CPU count with NATS).
        startSse({
          main,
          node: paths.sseNode,
          token,
          natsUrl: nats.url,
          extraEnv: { SSE_WORKERS: '1' },
        })
      : startNchan(paths.nginxBinary);

  const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (error) {
      const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
      log(`FAILED ${message}`);
      results.errors.push(message);
      return undefined;
    }
  };

  const withServer = async <T>(
    kind: ServerKind,
    fn: (s: RunningServer) => Promise<T>,
    main?: string,
  ): Promise<T> => {
    const server = await start(kind, main);
    try {
      return await fn(server);
    } finally {
      await server.stop();
    }
  };

  try {
    // Targets 1, 4, 6: fan-out at each size, both servers, a fresh process per run.
    for (const n of only.has('fanout') ? spec.sizes : []) {
      for (const kind of [OURS, NCHAN]) {
        const run = await attempt(`fanout ${n} ${kind.name}`, () =>
          withServer(kind, (s) =>
            loadgen<FanoutResult>(
              paths,
              `fanout-${n}-${kind.name}`,
              [
                'fanout',
                ...kind.args([s.url]),
                '--subscribers',
                String(n),
                '--updates',
                String(spec.updates),
                '--interval',
                `${spec.intervalMs}ms`,
                '--ramp',
                String(spec.rampPerSecond),
                '--pid',
                String(s.pid),
                '--label',
                `${kind.name}, ${n} subscribers`,
              ],
              log,
            ),
          ),
        );
        if (run) results.fanout[kind.name].push(run);
      }
    }

    // Target 5: connection storm against one process (and the baseline build, when given),
    // in `connectRounds` rounds whose order rotates: round 1 is `results.connect`, the others
    // `results.connectRounds`, each with its own reports.
    const contenders = pairContenders(paths.baselineMain !== undefined);
    const connectOnce = (who: Contender, round: number) => {
      const kind = who === 'nchan' ? NCHAN : OURS;
      const main = who === 'baseline' ? paths.baselineMain : undefined;
      const suffix = round === 1 ? '' : `-round-${round}`;
      return attempt(`connect ${who}${suffix}`, () =>
        withServer(
          kind,
          (s) =>
            loadgen<ConnectResult>(
              paths,
              `connect-${spec.storm}-${who}${suffix}`,
              [
                'connect',
                ...kind.args([s.url]),
                '--clients',
                String(spec.storm),
                '--pid',
                String(s.pid),
                '--label',
                `${who === 'baseline' ? `baseline ${baseline?.label ?? ''}` : who}, ${spec.storm} at once${round === 1 ? '' : `, round ${round}`}`,
              ],
              log,
            ),
          main,
        ),
      );
    };
    if (only.has('connect')) {
      if (spec.connectRounds > 1) results.connectRounds = [];
      for (let round = 1; round <= spec.connectRounds; round++) {
        const order = pairOrder(contenders, round - 1);
        const pair: Pair<ConnectResult> & { order: Contender[] } = { order };
        for (const who of order) pair[who] = await connectOnce(who, round);
        if (round === 1) results.connect = { ...pair, ours: pair.ours, nchan: pair.nchan };
        else results.connectRounds?.push(pair);
      }
    }

    // Target 3: publish throughput (ours: JetStream file storage, acked), one process each,
    // then ours with SSE_WORKERS at its default (the CPU count). The bare node:http handler
    // (ours-style URLs, nothing behind them) measures the floor of this machine in the same run;
    // the bare handler with one JetStream publish per request (same nats-server, its own stream)
    // is the floor of what target 3 asks: an ack from JetStream file storage per request.
    const publishers: Array<{
      slot: keyof BenchResults['publish'];
      kind: ServerKind;
      label: string;
      launch: () => Promise<RunningServer>;
      /** Server processes whose CPU is measured. */
      pids: (s: RunningServer) => number[];
    }> = [
      {
        slot: 'ours',
        kind: OURS,
        label: 'ours',
        launch: () => start(OURS),
        pids: (s) => [s.pid, nats.pid],
      },
      {
        slot: 'bare',
        kind: OURS,
        label: 'bare node:http handler',
        launch: startBareHttp,
        pids: (s) => [s.pid],
      },
      {
        slot: 'bareJetStream',
        kind: OURS,
        label: 'bare node:http + JetStream publish',
        launch: () => startBareJetStream(nats.url),
        pids: (s) => [s.pid, nats.pid],
      },
      {
        slot: 'nchan',
        kind: NCHAN,
        label: 'nchan',
        launch: () => start(NCHAN),
        pids: (s) => [s.pid],
      },
      {
        slot: 'oursWorkers',
        kind: OURS,
        label: 'ours, SSE_WORKERS default',
        launch: () =>
          startSse({ main: paths.sseMain, node: paths.sseNode, token, natsUrl: nats.url }),
        pids: (s) => [s.pid, nats.pid],
      },
    ];
    for (const { slot, kind, label, launch, pids } of only.has('publish') ? publishers : []) {
      results.publish[slot] = await attempt(`publish ${slot}`, async () => {
        const s = await launch();
        try {
          return await loadgen<PublishResult>(
            paths,
            `publish-${slot}`,
            [
              'publish',
              ...kind.args([s.url]),
              '--concurrency',
              String(spec.publishConcurrency),
              '--duration',
              `${spec.publishDurationMs}ms`,
              '--envs',
              String(spec.publishEnvs),
              ...pids(s).flatMap((p) => ['--pid', String(p)]),
              '--label',
              `${label}, concurrency ${spec.publishConcurrency}`,
            ],
            log,
          );
        } finally {
          await s.stop();
        }
      });
    }

    // Target 2: 100k over several apps/sse processes on one NATS.
    if (only.has('100k'))
      results.hundredK.ours = await attempt('100k ours', async () => {
        const servers: RunningServer[] = [];
        try {
          for (let i = 0; i < spec.hundredKProcesses; i++) servers.push(await start(OURS));
          return await loadgen<FanoutResult>(
            paths,
            `fanout-${spec.hundredK}-ours`,
            [
              'fanout',
              ...OURS.args(servers.map((s) => s.url)),
              ...hundredKArgs(spec),
              ...servers.flatMap((s) => ['--pid', String(s.pid)]),
              '--label',
              `ours, ${spec.hundredK} subscribers on ${spec.hundredKProcesses} apps/sse processes`,
            ],
            log,
          );
        } finally {
          await Promise.all(servers.map((s) => s.stop()));
        }
      });

    // Target 2 for the peer: nginx with as many workers as we have processes.
    if (only.has('100k'))
      results.hundredK.nchan = await attempt('100k nchan', async () => {
        const server = await startNchan(paths.nginxBinary, spec.hundredKProcesses);
        try {
          return await loadgen<FanoutResult>(
            paths,
            `fanout-${spec.hundredK}-nchan`,
            [
              'fanout',
              ...NCHAN.args([server.url]),
              ...hundredKArgs(spec),
              '--pid',
              String(server.pid),
              '--label',
              `nchan, ${spec.hundredK} subscribers on ${spec.hundredKProcesses} nginx workers`,
            ],
            log,
          );
        } finally {
          await server.stop();
        }
      });

    await runCapacity({ spec, paths, log, token, nats, results, attempt }, only);
  } finally {
    await nats.stop();
  }
  results.finishedAt = new Date().toISOString();
  results.loadAfter = loadNow();
  return results;
}

/** The fan-out options the 100k runs share, so ours and nchan's are measured alike. */
function hundredKArgs(spec: MatrixSpec): string[] {
  return [
    '--subscribers',
    String(spec.hundredK),
    '--workers',
    String(Math.max(spec.hundredKProcesses, Math.ceil(spec.hundredK / 19_000))),
    '--updates',
    String(spec.updates),
    '--interval',
    `${spec.intervalMs}ms`,
    '--ramp',
    String(spec.hundredKRamp),
    '--connect-timeout',
    '60s',
    '--settle-timeout',
    '20s',
  ];
}
