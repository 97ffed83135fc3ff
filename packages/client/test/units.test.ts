import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  ConfigurationError,
  parseRetryAfter,
  RealtimeError,
  streamUrl,
  subscribe,
} from '../src/index.js';

describe('backoffDelay', () => {
  it('draws from [0, min(cap, base * 2^attempt))', () => {
    expect(backoffDelay(0, 1000, 30_000, () => 0)).toBe(0);
    expect(backoffDelay(0, 1000, 30_000, () => 0.999_999)).toBe(999);
    expect(backoffDelay(3, 1000, 30_000, () => 0.5)).toBe(4000);
    expect(backoffDelay(10, 1000, 30_000, () => 0.5)).toBe(15_000);
    expect(backoffDelay(5000, 1000, 30_000, () => 0.999_999)).toBe(29_999);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, and ignores anything else', () => {
    expect(parseRetryAfter('5')).toBe(5000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', Date.UTC(2026, 0, 1))).toBe(10_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('streamUrl', () => {
  it('forces a trailing slash on the base and keeps its path', () => {
    expect(streamUrl('https://realtime.flagsmith.com', 'abc').href).toBe(
      'https://realtime.flagsmith.com/sse/environments/abc/stream',
    );
    expect(streamUrl('http://127.0.0.1:8080/proxy', 'a_b-C').href).toBe(
      'http://127.0.0.1:8080/proxy/sse/environments/a_b-C/stream',
    );
    expect(streamUrl('http://127.0.0.1:8080/proxy/', 'k').href).toBe(
      'http://127.0.0.1:8080/proxy/sse/environments/k/stream',
    );
  });
});

describe('subscribe configuration', () => {
  it('throws a fatal typed error for an invalid environment key, before any request', () => {
    let requests = 0;
    const attempt = () =>
      subscribe({
        environmentKey: 'flagsmith.environment.>',
        fetch: async () => {
          requests++;
          throw new Error('unreachable');
        },
      });
    expect(attempt).toThrow(ConfigurationError);
    try {
      attempt();
    } catch (error) {
      expect(error).toBeInstanceOf(RealtimeError);
      expect(error).toMatchObject({ code: 'invalid_environment_key', retryable: false });
    }
    expect(requests).toBe(0);
  });

  it('throws for a base URL that is not absolute', () => {
    expect(() => subscribe({ environmentKey: 'key', baseUrl: 'not a url' })).toThrow(
      expect.objectContaining({ code: 'invalid_option', retryable: false }),
    );
  });

  it('does not connect when the signal is already aborted', () => {
    let requests = 0;
    const subscription = subscribe({
      environmentKey: 'key',
      signal: AbortSignal.abort(),
      fetch: async () => {
        requests++;
        throw new Error('unreachable');
      },
    });
    expect(subscription.state).toBe('closed');
    expect(requests).toBe(0);
  });
});
