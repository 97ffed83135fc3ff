import type { GapSummary } from './gaps.js';
import type { ReconnectPolicy } from './reconnect.js';

/** Coordinator → worker: open subscribers. */
export interface SubscribeCommand {
  type: 'subscribe';
  /** Stream URLs; subscriber `j` of this worker uses `urls[(offset + j) % urls.length]`. */
  urls: string[];
  /** Global index of this worker's first subscriber. */
  offset: number;
  /** Subscribers this worker opens. */
  count: number;
  /** Source network (`127.R.W`, see `sourceFor`) to bind sockets in, or undefined to let the kernel choose. */
  sourceNetwork: string | undefined;
  /** New connections per second for this worker; `0` means all at once. */
  ratePerSecond: number;
  /** A subscriber not answered with a response head within this time fails with `timeout`. */
  connectTimeoutMs: number;
  /** Reconnect like `@flagsmith-rt/client` after a stream ends or an attempt fails; without it a closed subscriber stays closed. */
  reconnect?: ReconnectPolicy;
  /** Count events as updates from the first connection on, for publishes that overlap the connect storm. */
  measureFromStart?: boolean;
}

/** Coordinator → worker: events received from now on are updates, not initial events. */
export interface MeasureCommand {
  type: 'measure';
}

/** Coordinator → worker: send the receipts. */
export interface CollectCommand {
  type: 'collect';
  /** The published values in order: with them the worker also sums up each subscriber's gaps. */
  published?: number[];
}

/** Coordinator → worker: count subscribers that have received `value` or a newer one (`reached`). */
export interface WatchCommand {
  type: 'watch';
  value: number;
}

/** Coordinator → worker: run a publish load. */
export interface PublishCommand {
  type: 'publish';
  /** Publish URL template (`{env}`, `{ts}`). */
  urlTemplate: string;
  method: string;
  /** Header lines (`Name: value`). */
  headers: string[];
  /** Body template (`{env}`, `{ts}`). */
  bodyTemplate: string;
  envs: string[];
  /** Keep-alive connections of this worker. */
  concurrency: number;
  durationMs: number;
  /** At most this many requests per second over this worker's connections; 0 for unpaced. */
  ratePerSecond: number;
  /** This worker's index and the number of workers, to make timestamps unique. */
  index: number;
  workers: number;
}

/** Coordinator → worker: close everything and exit. */
export interface CloseCommand {
  type: 'close';
}

/** Every message a worker accepts. */
export type WorkerCommand =
  | SubscribeCommand
  | MeasureCommand
  | CollectCommand
  | WatchCommand
  | PublishCommand
  | CloseCommand;

/** Counters of one worker's subscribers. */
export interface SubscriberCounts {
  attempted: number;
  /** Answered `200` and streaming. */
  connected: number;
  /** Failed before streaming, by cause (`ECONNREFUSED`, `http_503`, `timeout`, …). */
  failures: Record<string, number>;
  /** Closed after streaming had started, by cause. */
  drops: Record<string, number>;
  /** Events received before `measure`. */
  initial: number;
  /** Events whose value is not newer than the subscriber's previous one. */
  duplicate: number;
  /** `data:` lines without a number. */
  unparsable: number;
  /** Streams established again after one had ended (with a reconnect policy). */
  reconnects: number;
  /** Reconnect attempts that failed, by cause. */
  reconnectFailures: Record<string, number>;
}

/** Counters with nothing counted yet. */
export function emptyCounts(): SubscriberCounts {
  return {
    attempted: 0,
    connected: 0,
    failures: {},
    drops: {},
    initial: 0,
    duplicate: 0,
    unparsable: 0,
    reconnects: 0,
    reconnectFailures: {},
  };
}

/** Worker → coordinator: progress while ramping (every ~250 ms) and when the ramp is over. */
export interface ProgressReport {
  type: 'progress';
  counts: SubscriberCounts;
  /** `true` once every subscriber connected or failed. */
  settled: boolean;
  /** When this worker attempted its first connection (wall-clock ms). */
  openedAt: number | undefined;
  /** When the last subscriber connected (wall-clock ms), if all attempted did. */
  lastConnectedAt: number | undefined;
  /** Worker's own RSS and CPU time, to show the load generator is not the bottleneck. */
  rssBytes: number;
  cpuMs: number;
  /** Update receipts recorded so far (all values). */
  received: number;
  /** Subscribers whose newest value is at least the watched one (0 before a `watch`). */
  reached: number;
  /** When a stream was last established again after a reconnect (wall-clock ms). */
  lastReconnectedAt: number | undefined;
}

/** Receipt times of one value, one entry per subscriber that got it. */
export interface ValueReceipts {
  value: number;
  /** Wall-clock ms of each first receipt. */
  times: Float64Array;
}

/** Worker → coordinator: the receipts. */
export interface CollectedReport {
  type: 'collected';
  counts: SubscriberCounts;
  values: ValueReceipts[];
  /** Events of values beyond the tracked set (more than 256 distinct values). */
  untracked: number;
  /** The worker's CPU time so far, ms. */
  cpuMs: number;
  /** Per-subscriber gaps over the published values the collect command named. */
  gaps: GapSummary | undefined;
}

/** Worker → coordinator: result of a publish load. */
export interface PublishedReport {
  type: 'published';
  /** Latency of each completed request, ms. */
  latencies: Float64Array;
  /** Responses by status code. */
  statuses: Record<string, number>;
  /** Requests without a response, by cause. */
  errors: Record<string, number>;
  /** When the load actually started and ended (wall-clock ms). */
  startedAt: number;
  endedAt: number;
  /** The worker's own CPU time during the load, ms. */
  cpuMs: number;
}

/** Worker → coordinator: a fault in the worker itself. */
export interface WorkerFault {
  type: 'fault';
  message: string;
}

/** Every message a worker sends. */
export type WorkerReport =
  | ProgressReport
  | CollectedReport
  | PublishedReport
  | WorkerFault
  | { type: 'measuring'; cpuMs: number }
  | { type: 'closed' };
