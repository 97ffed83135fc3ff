import { DEFAULT_HTTP_LIMITS } from '@flagsmith-rt/server';
import type { AppConfig } from '../../src/config.js';

/** The publish token of the tests. */
export const TOKEN = 'integration-token';

/** A test configuration: random port, short keep-alive and drain. */
export function testConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    port: 0,
    host: '127.0.0.1',
    nats: undefined,
    authToken: TOKEN,
    authTokenGenerated: false,
    keepAliveIntervalMs: 200,
    slowSubscriberTimeoutMs: 5000,
    drainWindowMs: 0,
    maxSubscribers: undefined,
    maxStreamAgeMs: 0,
    refusalHoldMs: 1000,
    refusalHoldMax: 1000,
    metricsEnabled: true,
    limits: { ...DEFAULT_HTTP_LIMITS },
    logLevel: 'silent',
    tls: undefined,
    h2c: true,
    h2cSource: 'configured',
    workers: 1,
    workersSource: 'configured',
    reusePort: false,
    reusePortMode: 'off',
    ...overrides,
  };
}
