import type { ConnectResult } from '../connect.js';
import type { FanoutResult } from '../fanout.js';
import type { PublishResult } from '../publish.js';

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
  /** Connection storm (target 5). */
  connect: { ours: Run<ConnectResult> | undefined; nchan: Run<ConnectResult> | undefined };
  /** Runs that failed, with the error. */
  errors: string[];
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
};
