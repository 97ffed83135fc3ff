import { describe, expect, test } from 'vitest';
import {
  AUTH_SCHEME,
  KEEPALIVE_INTERVAL_MS,
  LATEST_TTL_MS,
  LIVEZ_PATH,
  MAX_PUBLISH_BODY_BYTES,
  METRICSZ_PATH,
  QUEUE_CHANGE_ROUTE,
  READYZ_PATH,
  STREAM_ROUTE,
  STREAM_SETTINGS,
  UPDATED_AT_FIELD,
} from '../src/index.js';

describe('constants pinned to PROTOCOL.md', () => {
  test('HTTP endpoints', () => {
    expect(STREAM_ROUTE).toBe('/sse/environments/:environment/stream');
    expect(QUEUE_CHANGE_ROUTE).toBe('/sse/environments/:environment/queue-change');
    expect([LIVEZ_PATH, READYZ_PATH, METRICSZ_PATH]).toEqual(['/livez', '/readyz', '/metricsz']);
    expect(AUTH_SCHEME).toBe('Token');
  });

  test('stream timings and limits', () => {
    expect(KEEPALIVE_INTERVAL_MS).toBe(15_000);
    expect(MAX_PUBLISH_BODY_BYTES).toBe(1024);
    expect(LATEST_TTL_MS).toBe(3_600_000);
    expect(UPDATED_AT_FIELD).toBe('updated_at');
  });

  test('JetStream layout', () => {
    expect(STREAM_SETTINGS).toEqual({
      name: 'environments-stream',
      subjects: ['flagsmith.environment.>'],
      maxMsgsPerSubject: 1,
      maxAgeMs: 3_600_000,
      duplicateWindowMs: 120_000,
      discard: 'old',
      storage: 'file',
      replicas: 1,
    });
    expect(Object.isFrozen(STREAM_SETTINGS)).toBe(true);
    expect(Object.isFrozen(STREAM_SETTINGS.subjects)).toBe(true);
  });
});
