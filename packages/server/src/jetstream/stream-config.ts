import { STREAM_SETTINGS, type StreamStorage } from '@flagsmith-rt/protocol';
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';

/** The configurable parts of the stream. */
export interface StreamDeployment {
  /** Storage backend of the stream. */
  storage: StreamStorage;
  /** Replica count (1 for one node, 3 for a cluster). */
  replicas: number;
}

/** One setting of an existing stream that is not what the service needs. */
export interface StreamSettingDifference {
  /** The JetStream configuration field, e.g. `max_msgs_per_subject`. */
  readonly setting: string;
  /** What the service needs. */
  readonly expected: unknown;
  /** What the stream has. */
  readonly actual: unknown;
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

/** Formats differences for an error message: `setting: expected X, found Y`. */
export function describeDifferences(differences: readonly StreamSettingDifference[]): string {
  return differences
    .map((d) => `${d.setting}: expected ${show(d.expected)}, found ${show(d.actual)}`)
    .join('; ');
}

function show(value: unknown): string {
  return value === undefined ? 'unset' : JSON.stringify(value);
}
