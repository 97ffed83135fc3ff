import { describe, expect, it } from 'vitest';
import { redactServerUrl, toConnectionOptions } from '../src/jetstream/options.js';

describe('toConnectionOptions', () => {
  it('reconnects forever without async traces', () => {
    const options = toConnectionOptions({ servers: ['nats://a:4222'] });
    expect(options).toMatchObject({
      servers: ['nats://a:4222'],
      noAsyncTraces: true,
      maxReconnectAttempts: -1,
      reconnect: true,
    });
  });

  it('maps each kind of credentials', () => {
    expect(
      toConnectionOptions({ servers: [], credentials: { user: 'u', pass: 'p' } }),
    ).toMatchObject({ user: 'u', pass: 'p' });
    expect(toConnectionOptions({ servers: [], credentials: { token: 't' } })).toMatchObject({
      token: 't',
    });
    expect(
      toConnectionOptions({ servers: [], credentials: { creds: 'x' } }).authenticator,
    ).toBeTypeOf('function');
  });
});

describe('redactServerUrl', () => {
  it('hides credentials written into a URL', () => {
    expect(redactServerUrl('nats://user:secret@nats-1:4222')).toBe('nats://***@nats-1:4222');
    expect(redactServerUrl('tls://token@nats-1:4222')).toBe('tls://***@nats-1:4222');
    expect(redactServerUrl('user:secret@nats-1')).toBe('***@nats-1');
    expect(redactServerUrl('nats://nats-1:4222')).toBe('nats://nats-1:4222');
  });
});
