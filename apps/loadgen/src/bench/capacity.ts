import type { ConnectResult } from '../connect.js';
import type { FanoutResult } from '../fanout.js';
import type { PublishResult } from '../publish.js';
import type { StormResult } from '../storm.js';
import type {
  BenchResults,
  Contender,
  MatrixSpec,
  MixRound,
  MixRun,
  NatsWrites,
  Pair,
  PublishMix,
} from './matrix.js';
import { type RunningServer, startNchan, startSse } from './processes.js';
import { type BenchPaths, loadgen } from './run-loadgen.js';
import type { Scenario } from './runner.js';
import { NCHAN, OURS, type ServerKind } from './scenarios.js';

/** What the runs of issue #16 share with the rest of the matrix. */
export interface CapacityContext {
  spec: MatrixSpec;
  paths: BenchPaths;
  log: (line: string) => void;
  /** The publish token every `apps/sse` gets. */
  token: string;
  /** The run's nats-server. */
  nats: RunningServer;
  /** Filled in as the runs end. */
  results: BenchResults;
  /** Runs `fn`, recording a failure under `what` instead of throwing. */
  attempt: <T>(what: string, fn: () => Promise<T>) => Promise<T | undefined>;
}

/**
 * The scenarios of issue #16, each side by side with nginx+nchan: the cost of
 * accepting connections at 100k, a reconnect storm after a SIGKILL,
 * alternating fan-out pairs, publish mixes with 1 and N workers, and
 * publishes overlapping a connect storm (missed intermediate updates).
 */
export async function runCapacity(
  ctx: CapacityContext,
  only: ReadonlySet<Scenario>,
): Promise<void> {
  const { spec, results } = ctx;
  if (only.has('connect100k')) {
    const n = spec.connectHundredKWorkers;
    results.connectHundredK = { workers: n };
    for (const kind of [OURS, NCHAN]) {
      results.connectHundredK[kind.name] = await ctx.attempt(`connect100k ${kind.name}`, () =>
        withServers(ctx, kind, 1, n, ([s]) =>
          loadgen<ConnectResult>(
            ctx.paths,
            `connect-${spec.connectHundredK}-${kind.name}`,
            [
              'connect',
              ...kind.args([s!.url]),
              '--clients',
              String(spec.connectHundredK),
              '--workers',
              String(Math.max(n, Math.ceil(spec.connectHundredK / 19_000))),
              '--connect-timeout',
              '60s',
              '--pid',
              String(s!.pid),
              '--label',
              `${kind.name}, ${spec.connectHundredK} at once on ${n} workers`,
            ],
            ctx.log,
          ),
        ),
      );
    }
  }

  if (only.has('storm')) {
    results.storm = {};
    for (const kind of [OURS, NCHAN]) {
      results.storm[kind.name] = await ctx.attempt(`storm ${kind.name}`, () =>
        withServers(ctx, kind, 2, 1, ([killed, survivor]) =>
          loadgen<StormResult>(
            ctx.paths,
            `storm-${spec.stormSubscribers}-${kind.name}`,
            [
              'storm',
              ...kind.args([killed!.url, survivor!.url]),
              '--subscribers',
              String(spec.stormSubscribers),
              '--ramp',
              String(spec.rampPerSecond),
              '--kill-pid',
              String(killed!.pid),
              '--pid',
              String(survivor!.pid),
              '--label',
              `${kind.name}, ${spec.stormSubscribers} over 2 instances, one killed`,
            ],
            ctx.log,
          ),
        ),
      );
    }
  }

  if (only.has('pairs')) {
    const n = spec.sizes[spec.sizes.length - 1]!;
    const contenders = pairContenders(ctx.paths.baselineMain !== undefined);
    results.fanoutPairs = [];
    for (let i = 0; i < spec.fanoutPairs; i++) {
      const order = pairOrder(contenders, i);
      const pair: Pair<FanoutResult> & { order: Contender[] } = { order };
      for (const who of order) {
        const kind = who === 'nchan' ? NCHAN : OURS;
        const main = who === 'baseline' ? ctx.paths.baselineMain : undefined;
        pair[who] = await ctx.attempt(`pair ${i + 1} ${who}`, () =>
          withServers(
            ctx,
            kind,
            1,
            1,
            ([s]) =>
              loadgen<FanoutResult>(
                ctx.paths,
                `pair-${i + 1}-${n}-${who}`,
                [
                  'fanout',
                  ...kind.args([s!.url]),
                  ...fanoutArgs(spec, n),
                  '--pid',
                  String(s!.pid),
                  '--label',
                  `${who === 'baseline' ? `baseline ${ctx.results.baseline?.label ?? ''}` : who}, ${n} subscribers, pair ${i + 1}`,
                ],
                ctx.log,
              ),
            main,
          ),
        );
      }
      results.fanoutPairs.push(pair);
    }
  }

  if (only.has('mix')) {
    const w = spec.mixWorkers;
    const mix = { workers: w, hot: {}, spread: {}, spreadEnvs: spec.publishEnvs };
    results.publishMix = mix;
    for (const [name, envs] of [
      ['hot', 1],
      ['spread', spec.publishEnvs],
    ] as const) {
      const runs: PublishMix = mix[name];
      const where = envs === 1 ? 'one hot environment' : `${envs} environments`;
      const publish = (
        kind: ServerKind,
        workers: number,
        file: string,
        label: string,
      ): Promise<MixRun | undefined> =>
        ctx.attempt(`mix ${name} ${file}`, () =>
          withServers(ctx, kind, 1, workers, async ([s]) => {
            const run = await loadgen<PublishResult>(
              ctx.paths,
              `mix-${name}-${file}`,
              [
                'publish',
                ...kind.args([s!.url]),
                '--concurrency',
                String(spec.publishConcurrency),
                '--duration',
                `${spec.publishDurationMs}ms`,
                '--envs',
                String(envs),
                '--pid',
                String(s!.pid),
                ...(kind === OURS ? ['--pid', String(ctx.nats.pid)] : []),
                '--label',
                label,
              ],
              ctx.log,
            );
            return kind === OURS ? { ...run, writes: await natsWrites(s!.url) } : run;
          }),
        );
      // 1 process and N workers alternate which goes first, so drift in the machine's load
      // favours neither; every round is kept.
      runs.rounds = [];
      for (let i = 0; i < spec.mixRounds; i++) {
        const order: MixRound['order'] = i % 2 === 0 ? ['one', 'workers'] : ['workers', 'one'];
        const round: MixRound = { order };
        for (const slot of order) {
          const workers = slot === 'one' ? 1 : w;
          round[slot] = await publish(
            OURS,
            workers,
            `${slot}-${i + 1}`,
            `ours, ${where}, ${workers} worker(s), round ${i + 1}`,
          );
        }
        runs.rounds.push(round);
      }
      runs.nchan = await publish(NCHAN, 1, 'nchan', `nchan, ${where}, 1 worker(s)`);
    }
  }

  if (only.has('gaps')) {
    const w = spec.gapsWorkers;
    results.gaps = { workers: w };
    for (const kind of [OURS, NCHAN]) {
      results.gaps[kind.name] = await ctx.attempt(`gaps ${kind.name}`, () =>
        withServers(ctx, kind, 1, w, ([s]) =>
          loadgen<FanoutResult>(
            ctx.paths,
            `gaps-${spec.gapsSubscribers}-${kind.name}`,
            [
              'fanout',
              ...kind.args([s!.url]),
              '--subscribers',
              String(spec.gapsSubscribers),
              '--workers',
              String(Math.max(w, Math.ceil(spec.gapsSubscribers / 19_000))),
              '--updates',
              String(spec.updates),
              '--interval',
              `${spec.intervalMs}ms`,
              '--ramp',
              String(spec.gapsRamp),
              '--publish-after-connected',
              String(spec.gapsPublishAfter),
              '--connect-timeout',
              '60s',
              '--settle-timeout',
              '20s',
              '--pid',
              String(s!.pid),
              '--label',
              `${kind.name}, ${spec.gapsSubscribers} connecting over ${w} workers while publishing`,
            ],
            ctx.log,
          ),
        ),
      );
    }
  }
}

/** Who the pairs measure: ours and nchan, and the baseline first when there is one. */
export function pairContenders(withBaseline: boolean): Contender[] {
  return withBaseline ? ['baseline', 'ours', 'nchan'] : ['ours', 'nchan'];
}

/**
 * The order of pair `i` (from 0): the contenders rotated by `i`, so that each goes first
 * equally often and drift in the machine's load favours none (two: ours first, then nchan
 * first; three: baseline, ours, nchan, then ours, nchan, baseline, …).
 */
export function pairOrder(contenders: readonly Contender[], i: number): Contender[] {
  const k = i % contenders.length;
  return [...contenders.slice(k), ...contenders.slice(0, k)];
}

/** The fan-out options of target 1 at `n` subscribers. */
function fanoutArgs(spec: MatrixSpec, n: number): string[] {
  return [
    '--subscribers',
    String(n),
    '--updates',
    String(spec.updates),
    '--interval',
    `${spec.intervalMs}ms`,
    '--ramp',
    String(spec.rampPerSecond),
  ];
}

/**
 * Starts `count` instances of a server, each with `workers` processes (ours:
 * `SSE_WORKERS` on the run's NATS; nchan: nginx workers on one `reuseport`
 * port), runs `fn`, stops them all. `main` runs another build of ours (the baseline).
 */
async function withServers<T>(
  ctx: CapacityContext,
  kind: ServerKind,
  count: number,
  workers: number,
  fn: (servers: RunningServer[]) => Promise<T>,
  main: string = ctx.paths.sseMain,
): Promise<T> {
  const servers: RunningServer[] = [];
  try {
    for (let i = 0; i < count; i++)
      servers.push(
        kind === OURS
          ? await startSse({
              main,
              node: ctx.paths.sseNode,
              token: ctx.token,
              natsUrl: ctx.nats.url,
              extraEnv: { SSE_WORKERS: String(workers) },
            })
          : await startNchan(ctx.paths.nginxBinary, workers),
      );
    return await fn(servers);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/**
 * What the writes of the `apps/sse` at `url` met in JetStream, from its `/metricsz`
 * (`flagsmith_sse_nats_writes_total` and `flagsmith_sse_nats_read_backs_total`; with
 * workers, the sum over all of them). `undefined` when the metrics cannot be read.
 */
export async function natsWrites(url: string): Promise<NatsWrites | undefined> {
  let text: string;
  try {
    const response = await fetch(`${url}/metricsz`);
    if (!response.ok) return undefined;
    text = await response.text();
  } catch {
    return undefined;
  }
  const value = (pattern: RegExp): number | undefined => {
    const match = pattern.exec(text);
    return match === null ? undefined : Number(match[1]);
  };
  const stored = value(/^flagsmith_sse_nats_writes_total\{result="stored"\} (\S+)$/m);
  const duplicate = value(/^flagsmith_sse_nats_writes_total\{result="duplicate"\} (\S+)$/m);
  const conflict = value(/^flagsmith_sse_nats_writes_total\{result="conflict"\} (\S+)$/m);
  const readBacks = value(/^flagsmith_sse_nats_read_backs_total (\S+)$/m);
  if (stored === undefined || duplicate === undefined || conflict === undefined) return undefined;
  return { stored, duplicate, conflict, readBacks: readBacks ?? 0 };
}
