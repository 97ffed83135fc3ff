import { describe, expect, it } from 'vitest';
import { type ConfigResult, parseConfig } from '../src/config.js';

const SEED = 'SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY';
const files: Record<string, string> = {
  '/creds/user.creds': 'JWT+SEED',
  '/keys/seed': `${SEED}\n`,
};
const readFile = (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
  return text;
};

function ok(result: ConfigResult) {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.errors)}`);
  return result.value;
}
function errors(result: ConfigResult) {
  if (result.ok) throw new Error('expected errors');
  return result.errors;
}

describe('parseConfig', () => {
  it('applies the defaults: port 8088 on 127.0.0.1, embedded broker, generated token', () => {
    const config = ok(parseConfig({}));
    expect(config).toMatchObject({
      port: 8088,
      host: '127.0.0.1',
      nats: undefined,
      authTokenGenerated: true,
      keepAliveIntervalMs: 15_000,
      slowSubscriberTimeoutMs: 30_000,
      drainWindowMs: 5_000,
      maxSubscribers: undefined,
      logLevel: 'info',
    });
    expect(config.authToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(ok(parseConfig({})).authToken).not.toBe(config.authToken);
  });

  it('reads every variable', () => {
    const config = ok(
      parseConfig(
        {
          PORT: '0',
          HOST: '0.0.0.0',
          NATS_URL: 'nats://a:4222, nats://b:4222',
          NATS_USER: 'svc',
          NATS_PASSWORD: 'pw',
          NATS_TLS_CA: '/tls/ca.pem',
          SSE_AUTHENTICATION_TOKEN: 'secret',
          STREAM_REPLICAS: '3',
          STREAM_STORAGE: 'memory',
          KEEPALIVE_INTERVAL: '0.2',
          SLOW_SUBSCRIBER_TIMEOUT: '2.5',
          DRAIN_WINDOW: '0',
          MAX_SUBSCRIBERS: '19000',
          MAX_STREAM_AGE: '600',
          METRICS_ENABLED: 'false',
          MAX_HEADER_SIZE: '8192',
          REQUEST_TIMEOUT: '5',
          LOG_LEVEL: 'debug',
          SSE_WORKERS: '3',
          H2C: 'on',
          SSE_REUSE_PORT: 'off',
        },
        readFile,
      ),
    );
    expect(config).toEqual({
      port: 0,
      host: '0.0.0.0',
      nats: {
        servers: ['nats://a:4222', 'nats://b:4222'],
        credentials: { user: 'svc', pass: 'pw' },
        tls: { caFile: '/tls/ca.pem' },
        replicas: 3,
        storage: 'memory',
      },
      authToken: 'secret',
      authTokenGenerated: false,
      keepAliveIntervalMs: 200,
      slowSubscriberTimeoutMs: 2500,
      drainWindowMs: 0,
      maxSubscribers: 19000,
      maxStreamAgeMs: 600_000,
      refusalHoldMs: 1000,
      refusalHoldMax: 1000,
      metricsEnabled: false,
      limits: { maxHeaderBytes: 8192, requestTimeoutMs: 5000 },
      logLevel: 'debug',
      tls: undefined,
      h2c: true,
      h2cSource: 'configured',
      workers: 3,
      workersSource: 'configured',
      reusePort: false,
      reusePortMode: 'off',
    });
  });

  it.each([
    [{ NATS_TOKEN: 't' }, { token: 't' }],
    [{ NATS_CREDS_FILE: '/creds/user.creds' }, { creds: 'JWT+SEED' }],
    [{ NATS_NKEY_SEED_FILE: '/keys/seed' }, { nkeySeed: SEED }],
  ])('reads NATS credentials %o', (vars, credentials) => {
    const config = ok(parseConfig({ NATS_URL: 'nats://n:4222', ...vars }, readFile));
    expect(config.nats?.credentials).toEqual(credentials);
  });

  it('collects every error, each naming its variable', () => {
    const found = errors(
      parseConfig(
        {
          PORT: '99999',
          KEEPALIVE_INTERVAL: '0',
          SLOW_SUBSCRIBER_TIMEOUT: 'soon',
          DRAIN_WINDOW: '-1',
          MAX_SUBSCRIBERS: '0',
          LOG_LEVEL: 'loud',
          NATS_URL: 'nats://n:4222',
          STREAM_REPLICAS: '2.5',
          STREAM_STORAGE: 'disk',
          NATS_USER: 'only-user',
          NATS_CREDS_FILE: '/missing.creds',
          NATS_TLS_CERT: '/tls/cert.pem',
        },
        readFile,
      ),
    );
    expect(found.map((e) => e.variable).sort()).toEqual(
      [
        'PORT',
        'KEEPALIVE_INTERVAL',
        'SLOW_SUBSCRIBER_TIMEOUT',
        'DRAIN_WINDOW',
        'MAX_SUBSCRIBERS',
        'LOG_LEVEL',
        'STREAM_REPLICAS',
        'STREAM_STORAGE',
        'NATS_PASSWORD',
        'NATS_CREDS_FILE',
        'NATS_TLS_KEY',
      ].sort(),
    );
    for (const e of found) expect(e.message).toContain(e.variable);
  });

  it('refuses NATS settings without NATS_URL', () => {
    const found = errors(parseConfig({ NATS_TOKEN: 't', STREAM_REPLICAS: '3' }));
    expect(found.map((e) => e.variable)).toEqual(['NATS_TOKEN', 'STREAM_REPLICAS']);
  });

  it('refuses two NATS authentication methods at once', () => {
    const found = errors(
      parseConfig({
        NATS_URL: 'nats://n:4222',
        NATS_TOKEN: 't',
        NATS_USER: 'u',
        NATS_PASSWORD: 'p',
      }),
    );
    expect(found).toHaveLength(1);
    expect(found[0]?.message).toMatch(/only one/);
  });

  it('refuses a seed file that holds no user seed, without echoing it', () => {
    files['/keys/bad'] = 'not-a-seed-secret';
    const found = errors(
      parseConfig({ NATS_URL: 'nats://n:4222', NATS_NKEY_SEED_FILE: '/keys/bad' }, readFile),
    );
    expect(found[0]?.variable).toBe('NATS_NKEY_SEED_FILE');
    expect(found[0]?.message).not.toContain('not-a-seed-secret');
  });

  it('refuses a malformed NATS_URL entry', () => {
    const found = errors(parseConfig({ NATS_URL: 'nats://ok:4222,http://x y' }));
    expect(found).toEqual([
      { variable: 'NATS_URL', message: expect.stringContaining('http://x y') },
    ]);
  });

  it('treats empty variables as unset', () => {
    const config = ok(parseConfig({ PORT: '', SSE_AUTHENTICATION_TOKEN: ' ', NATS_URL: '' }));
    expect(config.port).toBe(8088);
    expect(config.authTokenGenerated).toBe(true);
    expect(config.nats).toBeUndefined();
  });
});
