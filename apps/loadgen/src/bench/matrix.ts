import type { ConnectResult } from '../connect.js';
import type { FanoutResult } from '../fanout.js';
import type { PublishResult } from '../publish.js';
import type { StormResult } from '../storm.js';

/** One measured run and the exact command that reproduces it. */
export interface Run<R> {
  /** `pnpm loadgen …` as run (the token comes from the environment). */
  command: string;
  result: R;
  /** Report file names, relative to the reports directory. */
  html: string;
  json: string;
}

/** Everything one `pnpm bench` measured. */
export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  loadBefore: string;
  loadAfter: string;
  /** Fan-out runs by server and subscriber count (target 1 and 6). */
  fanout: { ours: Array<Run<FanoutResult>>; nchan: Array<Run<FanoutResult>> };
  /** The 100k run (target 2), over several `apps/sse` processes on one NATS. */
  hundredK: {
    ours: Run<FanoutResult> | undefined;
    nchan: Run<FanoutResult> | undefined;
    sseProcesses: number;
  };
  /** Publish throughput (target 3). */
  publish: {
    ours: Run<PublishResult> | undefined;
    nchan: Run<PublishResult> | undefined;
    /** `apps/sse` with `SSE_WORKERS` at its default (the CPU count). */
    oursWorkers: Run<PublishResult> | undefined;
    /** A bare node:http handler (no NATS, no validation): the floor of this machine. */
    bare: Run<PublishResult> | undefined;
    /**
     * Bare node:http + one JetStream publish per request, answered on the ack
     * (file storage; no validation, no dedupe/OCC headers): a minimal
     * handler that does what target 3 asks.
     */
    bareJetStream: Run<PublishResult> | undefined;
  };
  /** Connection storm (target 5); `baseline` with `pnpm bench --baseline DIR`. */
  connect: {
    ours: Run<ConnectResult> | undefined;
    nchan: Run<ConnectResult> | undefined;
    baseline?: Run<ConnectResult> | undefined;
    /** Who ran first (absent in runs from before the rounds). */
    order?: Contender[];
  };
  /** Rounds 2 and on of target 5 (round 1 is `connect`), the order rotating; absent with one round. */
  connectRounds?: Array<Pair<ConnectResult> & { order: Contender[] }>;
  /** The other checkout measured as `baseline` (`pnpm bench --baseline DIR`), absent without. */
  baseline?: BaselineInfo;
  /** Runs that failed, with the error. */
  errors: string[];
  // The scenarios of issue #16. Each is present when the run included it, absent in older runs.
  /** Connection cost at 100k: ours `SSE_WORKERS=workers` on one port, nginx with as many workers. */
  connectHundredK?: Pair<ConnectResult> & { workers: number };
  /** Reconnect storm: two instances, one SIGKILLed. */
  storm?: Pair<StormResult>;
  /** Fan-out at the largest size, one process each, in alternating pairs (with the baseline: triples). */
  fanoutPairs?: Array<Pair<FanoutResult> & { order?: Contender[] }>;
  /** `queue-change` with one hot environment and with many, 1 and `workers` processes. */
  publishMix?: { workers: number; hot: PublishMix; spread: PublishMix; spreadEnvs: number };
  /** Publishes overlapping a connect storm: intermediate updates each subscriber missed. */
  gaps?: Pair<FanoutResult> & { workers: number };
}

/** One scenario measured against ours and nchan (and the baseline checkout, when given). */
export interface Pair<R> {
  ours?: Run<R> | undefined;
  nchan?: Run<R> | undefined;
  baseline?: Run<R> | undefined;
}

/** Who a side-by-side run measured: this checkout, nginx+nchan, or the baseline checkout. */
export type Contender = 'ours' | 'nchan' | 'baseline';

/** The checkout `pnpm bench --baseline DIR` compares against. */
export interface BaselineInfo {
  /** The checkout's directory, as given. */
  dir: string;
  /** Its `git describe --always --dirty` (or `unknown`). */
  commit: string;
  /** How tables name it: the directory's name and the commit. */
  label: string;
}

/** What an `apps/sse` run's writes met in JetStream, read from its `/metricsz` at the end. */
export interface NatsWrites {
  stored: number;
  duplicate: number;
  conflict: number;
  readBacks: number;
}

/** A publish run of ours, with what its writes met (absent when `/metricsz` could not be read). */
export type MixRun = Run<PublishResult> & { writes?: NatsWrites | undefined };

/** One round of a publish mix: 1 process and N workers, back to back in `order`. */
export interface MixRound {
  order: Array<'one' | 'workers'>;
  one?: MixRun | undefined;
  workers?: MixRun | undefined;
}

/**
 * One publish mix: alternating rounds of ours with 1 process and with several
 * (`rounds`), and nchan once. Runs from before the rounds have one `one` and
 * one `workers` instead.
 */
export interface PublishMix {
  rounds?: MixRound[];
  one?: Run<PublishResult> | undefined;
  workers?: Run<PublishResult> | undefined;
  /** nchan, once per mix (no `writes`: it has no JetStream). */
  nchan?: MixRun | undefined;
}

/** The standard matrix, or a small one for a quick check. */
export interface MatrixSpec {
  sizes: number[];
  updates: number;
  intervalMs: number;
  rampPerSecond: number;
  hundredK: number;
  hundredKProcesses: number;
  hundredKRamp: number;
  storm: number;
  publishConcurrency: number;
  publishDurationMs: number;
  publishEnvs: number;
  /** Clients of the 100k connect run, and the server processes (ours' `SSE_WORKERS`, nginx workers). */
  connectHundredK: number;
  connectHundredKWorkers: number;
  /** Subscribers of the reconnect storm, over two instances. */
  stormSubscribers: number;
  /** Alternating fan-out pairs at the largest size. */
  fanoutPairs: number;
  /** `SSE_WORKERS` of the publish mixes' N-worker runs. */
  mixWorkers: number;
  /** Rounds of each publish mix (1 process and N workers, the order alternating). */
  mixRounds: number;
  /** Rounds of target 5 (19,000 at once into one process, each contender once per round). */
  connectRounds: number;
  /** The overlap run: subscribers, `SSE_WORKERS` (≥ 4), ramp, and how many connect before the publishes start. */
  gapsSubscribers: number;
  gapsWorkers: number;
  gapsRamp: number;
  gapsPublishAfter: number;
}

/** The matrix of the issue: 1k/5k/10k/19k, 100k, a 19k storm, 10 s of publishes at 64 concurrent. */
export const STANDARD: MatrixSpec = {
  sizes: [1000, 5000, 10_000, 19_000],
  updates: 10,
  intervalMs: 1000,
  rampPerSecond: 5000,
  hundredK: 100_000,
  hundredKProcesses: 6,
  hundredKRamp: 2500,
  storm: 19_000,
  publishConcurrency: 64,
  publishDurationMs: 10_000,
  publishEnvs: 100,
  connectHundredK: 100_000,
  connectHundredKWorkers: 6,
  stormSubscribers: 19_000,
  fanoutPairs: 5,
  mixWorkers: 2,
  mixRounds: 5,
  connectRounds: 5,
  gapsSubscribers: 100_000,
  gapsWorkers: 6,
  gapsRamp: 5000,
  gapsPublishAfter: 40_000,
};

/** A minute-long version to check the machinery. */
export const QUICK: MatrixSpec = {
  sizes: [500, 2000],
  updates: 3,
  intervalMs: 300,
  rampPerSecond: 5000,
  hundredK: 6000,
  hundredKProcesses: 3,
  hundredKRamp: 5000,
  storm: 2000,
  publishConcurrency: 16,
  publishDurationMs: 2000,
  publishEnvs: 10,
  connectHundredK: 3000,
  connectHundredKWorkers: 3,
  stormSubscribers: 1000,
  fanoutPairs: 2,
  mixWorkers: 2,
  mixRounds: 2,
  connectRounds: 1,
  gapsSubscribers: 3000,
  gapsWorkers: 4,
  gapsRamp: 1500,
  gapsPublishAfter: 1000,
};
