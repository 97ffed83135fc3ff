import { STREAM_SETTINGS, type StreamStorage } from '@flagsmith-rt/protocol';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import type { BrokerLogger } from '../logger.js';
import {
  messageOf,
  type ReportError,
  reported,
  StreamConfigMismatchError,
  type StreamSettingDifference,
} from './errors.js';

export { describeDifferences, type StreamSettingDifference } from './errors.js';

/** The configurable parts of the stream. */
export interface StreamDeployment {
  /** Storage backend of the stream. */
  storage: StreamStorage;
  /** Replica count (1 for one node, 3 for a cluster). */
  replicas: number;
}

/**
 * The JetStream configuration of the updates stream, from the protocol's
 * `STREAM_SETTINGS` plus the deployment's storage and replicas. Direct get is
 * enabled so the last message of a subject can be read from any replica.
 */
export function streamConfigFor(deployment: StreamDeployment): Partial<StreamConfig> & {
  name: string;
} {
  return {
    name: STREAM_SETTINGS.name,
    subjects: [...STREAM_SETTINGS.subjects],
    retention: RetentionPolicy.Limits,
    max_msgs_per_subject: STREAM_SETTINGS.maxMsgsPerSubject,
    max_age: nanos(STREAM_SETTINGS.maxAgeMs),
    duplicate_window: nanos(STREAM_SETTINGS.duplicateWindowMs),
    discard: DiscardPolicy.Old,
    storage: deployment.storage === 'memory' ? StorageType.Memory : StorageType.File,
    num_replicas: deployment.replicas,
    allow_direct: true,
  };
}

/** The settings that are checked on an existing stream, in report order. */
const CHECKED_SETTINGS = [
  'subjects',
  'retention',
  'max_msgs_per_subject',
  'max_age',
  'duplicate_window',
  'discard',
  'storage',
  'num_replicas',
  'allow_direct',
] as const satisfies readonly (keyof StreamConfig)[];

/**
 * Compares an existing stream's configuration with what the service needs
 * and lists every setting that differs (empty when it fits). Subjects are
 * compared as a set.
 */
export function diffStreamConfig(
  expected: Partial<StreamConfig>,
  actual: Partial<StreamConfig>,
): StreamSettingDifference[] {
  const differences: StreamSettingDifference[] = [];
  for (const setting of CHECKED_SETTINGS) {
    const want = expected[setting];
    const have = actual[setting];
    if (!sameSetting(want, have)) differences.push({ setting, expected: want, actual: have });
  }
  return differences;
}

function sameSetting(want: unknown, have: unknown): boolean {
  if (Array.isArray(want) || Array.isArray(have)) {
    const a = new Set(Array.isArray(want) ? want : []);
    const b = new Set(Array.isArray(have) ? have : []);
    return a.size === b.size && [...a].every((subject) => b.has(subject));
  }
  // The server omits false booleans from stream info.
  return (want ?? false) === (have ?? false);
}

/** What {@link ensureStream} needs besides the manager. */
export interface EnsureStreamContext {
  /** Storage and replicas the stream must have. */
  readonly deployment: StreamDeployment;
  /** Where "created the stream" goes. */
  readonly logger: BrokerLogger;
  /** Failed requests are reported as `create_jetstream`. */
  readonly report: ReportError;
}

/**
 * Creates the updates stream, or verifies an existing one; resolves its info.
 * The service never changes an existing stream: one with other settings
 * rejects with {@link StreamConfigMismatchError} listing every difference.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  context: EnsureStreamContext,
): Promise<StreamInfo> {
  const expected = streamConfigFor(context.deployment);
  let info: StreamInfo | undefined = await reported(context.report, 'create_jetstream', () =>
    jsm.streams.info(expected.name).catch((error: unknown) => {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
        return undefined;
      }
      throw error;
    }),
  );
  if (info === undefined) {
    try {
      const created = await jsm.streams.add(expected);
      context.logger.info({ stream: expected.name }, 'Created the JetStream stream');
      return created;
    } catch (error) {
      // Another instance may have created it first; verify what is there.
      context.report('create_jetstream', error);
      info = await reported(context.report, 'create_jetstream', () =>
        jsm.streams.info(expected.name),
      );
    }
  }
  const differences = diffStreamConfig(expected, info.config);
  if (differences.length > 0) throw new StreamConfigMismatchError(expected.name, differences);
  return info;
}

/**
 * The first nats-server release whose replicated streams refuse all but one of several
 * concurrent writes that expect the same last subject sequence (nats-io/nats-server#4320,
 * fixed in 2.9.21). On older servers a clustered stream can accept two compare-and-set
 * writes of one environment, so an older timestamp may replace a newer one.
 */
export const CLUSTERED_COMPARE_AND_SET_SINCE = '2.9.21';

/**
 * Whether `version` (a nats-server version such as `2.9.10` or `2.10.0-beta.3`) is older
 * than `minimum` (plain `x.y.z`). A version that does not parse is not called older.
 */
export function isOlderVersion(version: string, minimum: string): boolean {
  const parse = (text: string) => /^v?(\d+)\.(\d+)\.(\d+)/.exec(text)?.slice(1).map(Number);
  const have = parse(version);
  const need = parse(minimum);
  if (have === undefined || need === undefined) return false;
  for (let i = 0; i < 3; i++) {
    if (have[i]! !== need[i]!) return have[i]! < need[i]!;
  }
  return false;
}

/**
 * The updates stream as this broker sees it: created or verified at start,
 * verified again after every reconnect (a memory-storage stream is lost when
 * its server restarts; it is created again here or by another instance).
 */
export class StreamSetup {
  readonly #context: EnsureStreamContext;
  /** Creation time of the stream being followed: a different one means it was recreated. */
  #created: string | undefined;

  constructor(context: EnsureStreamContext) {
    this.#context = context;
  }

  /**
   * Creates or verifies the stream, once per start; see {@link ensureStream}.
   * `serverVersion` is the connected nats-server's: a replicated stream on a
   * release older than {@link CLUSTERED_COMPARE_AND_SET_SINCE} is warned about.
   */
  async ensure(jsm: JetStreamManager, serverVersion?: string): Promise<void> {
    if (this.#created !== undefined) return;
    const info = await ensureStream(jsm, this.#context);
    this.#created = info.created;
    this.#checkCompareAndSet(info, serverVersion);
  }

  /** Warns (once: {@link StreamSetup.ensure} runs once per start) about a racy compare-and-set. */
  #checkCompareAndSet(info: StreamInfo, serverVersion: string | undefined): void {
    const replicas = info.config.num_replicas ?? 1;
    if (replicas <= 1 || serverVersion === undefined) return;
    if (!isOlderVersion(serverVersion, CLUSTERED_COMPARE_AND_SET_SINCE)) return;
    this.#context.logger.warn(
      {
        stream: info.config.name,
        replicas,
        natsServer: serverVersion,
        needs: CLUSTERED_COMPARE_AND_SET_SINCE,
        see: 'https://github.com/nats-io/nats-server/issues/4320',
      },
      `nats-server ${serverVersion} can accept two concurrent compare-and-set writes on a replicated stream: an older timestamp may replace a newer one written by a direct publisher (queue-change writes are written back by their instance). Upgrade nats-server to ${CLUSTERED_COMPARE_AND_SET_SINCE} or newer`,
    );
  }

  /**
   * Verifies the stream again (creating it if it is gone); resolves whether
   * it was recreated, which is logged. Never rejects: a failure is reported
   * and logged, and resolves `false`.
   */
  async verify(jsm: JetStreamManager): Promise<boolean> {
    try {
      const info = await ensureStream(jsm, this.#context);
      const recreated = info.created !== this.#created;
      if (recreated) {
        this.#context.logger.warn({ stream: STREAM_SETTINGS.name }, 'The stream was recreated');
      }
      this.#created = info.created;
      return recreated;
    } catch (error) {
      this.#context.report('create_jetstream', error);
      this.#context.logger.error(
        { err: messageOf(error) },
        'Could not verify the stream after reconnecting',
      );
      return false;
    }
  }
}
