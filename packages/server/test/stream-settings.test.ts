import { STREAM_SETTINGS } from '@flagsmith-rt/protocol';
import { nanos } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import {
  CLUSTERED_COMPARE_AND_SET_SINCE,
  describeDifferences,
  diffStreamConfig,
  isOlderVersion,
  streamConfigFor,
} from '../src/jetstream/stream-config.js';

describe('streamConfigFor', () => {
  it('takes every limit from the protocol and storage/replicas from the deployment', () => {
    expect(streamConfigFor({ storage: 'memory', replicas: 3 })).toEqual({
      name: STREAM_SETTINGS.name,
      subjects: [...STREAM_SETTINGS.subjects],
      retention: 'limits',
      max_msgs_per_subject: STREAM_SETTINGS.maxMsgsPerSubject,
      max_age: nanos(STREAM_SETTINGS.maxAgeMs),
      duplicate_window: nanos(STREAM_SETTINGS.duplicateWindowMs),
      discard: 'old',
      storage: 'memory',
      num_replicas: 3,
      allow_direct: true,
    });
  });
});

describe('diffStreamConfig', () => {
  const expected = streamConfigFor({ storage: 'file', replicas: 1 });

  it('finds nothing when the stream matches, with subjects in any order', () => {
    expect(diffStreamConfig(expected, { ...expected })).toEqual([]);
  });

  it('lists each differing setting, including ones the server omits', () => {
    const { allow_direct: _omitted, ...actual } = {
      ...expected,
      subjects: [...(expected.subjects ?? []), 'other.>'],
      num_replicas: 3,
    };
    const differences = diffStreamConfig(expected, actual);
    expect(differences.map((d) => d.setting)).toEqual(['subjects', 'num_replicas', 'allow_direct']);
    expect(describeDifferences(differences)).toBe(
      'subjects: expected ["flagsmith.environment.>"], found ["flagsmith.environment.>","other.>"]; ' +
        'num_replicas: expected 1, found 3; allow_direct: expected true, found unset',
    );
  });
});

describe('isOlderVersion (nats-server releases)', () => {
  it('compares major, minor and patch as numbers', () => {
    expect(isOlderVersion('2.9.10', CLUSTERED_COMPARE_AND_SET_SINCE)).toBe(true);
    expect(isOlderVersion('2.9.20', '2.9.21')).toBe(true);
    expect(isOlderVersion('2.9.21', '2.9.21')).toBe(false);
    expect(isOlderVersion('2.10.0', '2.9.21')).toBe(false);
    expect(isOlderVersion('3.0.0', '2.9.21')).toBe(false);
    expect(isOlderVersion('1.99.99', '2.9.21')).toBe(true);
  });

  it('reads pre-releases and a leading v by their numbers, and never calls garbage older', () => {
    expect(isOlderVersion('2.9.15-RC.1', '2.9.21')).toBe(true);
    expect(isOlderVersion('v2.11.4', '2.9.21')).toBe(false);
    expect(isOlderVersion('', '2.9.21')).toBe(false);
    expect(isOlderVersion('unknown', '2.9.21')).toBe(false);
  });
});
