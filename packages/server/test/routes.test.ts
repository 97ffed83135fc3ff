import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { brokerUnavailableMessage } from '../src/broker/broker.js';
import { AUTH, buildTestApp, SwitchableBroker } from './helpers/http-app.js';

let app: FastifyInstance;
afterEach(async () => {
  await app.close();
});

describe('health', () => {
  it('/livez answers 200', async () => {
    ({ app } = await buildTestApp());
    const res = await app.inject({ url: '/livez' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });

  it('/readyz follows the broker state', async () => {
    const broker = new SwitchableBroker();
    ({ app } = await buildTestApp({ broker }));
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
    for (const state of ['unavailable', 'starting', 'closed'] as const) {
      broker.force(state);
      const res = await app.inject({ url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toEqual({
        error: {
          code: 'not_ready',
          message: `The message broker is ${state}: ${brokerUnavailableMessage(state)}`,
        },
      });
    }
    broker.force(undefined);
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });
});

describe('broker_unavailable refusals say why', () => {
  it.each([
    ['starting', /NATS is not reachable yet; this instance keeps retrying/],
    ['unavailable', /Lost the connection to NATS; reconnecting/],
  ] as const)(
    'while %s: stream and queue-change answer 503 with Retry-After',
    async (state, said) => {
      const broker = new SwitchableBroker();
      ({ app } = await buildTestApp({ broker }));
      broker.force(state);
      const stream = await app.inject({ url: '/sse/environments/abc/stream' });
      const publish = await app.inject({
        method: 'POST',
        url: '/sse/environments/abc/queue-change',
        headers: { authorization: AUTH },
        payload: '{"updated_at": 1}',
      });
      for (const res of [stream, publish]) {
        expect(res.statusCode).toBe(503);
        expect(res.headers['retry-after']).toBe('5');
        expect(res.headers['access-control-allow-origin']).toBe('*');
        expect(res.json().error.code).toBe('broker_unavailable');
        expect(res.json().error.message).toMatch(said);
      }
    },
  );
});

describe('CORS', () => {
  it.each([
    ['the stream', '/sse/environments/abc/stream'],
    ['queue-change', '/sse/environments/abc/queue-change'],
    ['readyz', '/readyz'],
    ['an unknown path', '/nope'],
  ])('answers the preflight of %s', async (_name, url) => {
    ({ app } = await buildTestApp());
    const res = await app.inject({
      method: 'OPTIONS',
      url,
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-methods']).toBe('GET, POST, OPTIONS');
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
    for (const header of [
      'authorization',
      'content-type',
      'last-event-id',
      'x-environment-key',
      'cache-control',
    ]) {
      expect(allowed).toContain(header);
    }
  });
});

describe('every error has one JSON shape with CORS', () => {
  it('unknown route: 404', async () => {
    ({ app } = await buildTestApp());
    const res = await app.inject({ url: '/sse/environments/abc/nothing' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.json()).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
  });

  it('wrong method on the stream: 404', async () => {
    ({ app } = await buildTestApp());
    const res = await app.inject({ method: 'DELETE', url: '/sse/environments/abc/stream' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('not_found');
  });

  it('undecodable URL on another path: 400', async () => {
    ({ app } = await buildTestApp());
    const res = await app.inject({ url: '/foo/%zz' });
    expect(res.statusCode).toBe(400);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.json().error.code).toBe('bad_request');
  });

  it.each([
    ['a wildcard', '*'],
    ['a dot', 'a.b'],
    ['a space', 'a%20b'],
    ['unicode', '%F0%9F%9A%80'],
    ['129 characters', 'k'.repeat(129)],
    ['2000 characters', 'k'.repeat(2000)],
    ['an encoded slash', 'a%2Fb'],
    ['an undecodable escape', '%E0%A4%A'],
    ['an empty key', ''],
  ])('stream with %s: 400 invalid_environment_key', async (_name, key) => {
    ({ app } = await buildTestApp());
    const res = await app.inject({ url: `/sse/environments/${key}/stream` });
    expect(res.statusCode).toBe(400);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.json()).toEqual({
      error: { code: 'invalid_environment_key', message: expect.any(String) },
    });
    expect(app.realtimeHub.subscriberCount).toBe(0);
  });

  it('queue-change with a JSON content type but broken JSON: 400, never 500', async () => {
    ({ app } = await buildTestApp());
    const res = await app.inject({
      method: 'POST',
      url: '/sse/environments/abc/queue-change',
      headers: { authorization: AUTH, 'content-type': 'application/json' },
      payload: '{"updated_at": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('invalid_json');
  });

  it('queue-change with a mismatching Content-Length: 400', async () => {
    ({ app } = await buildTestApp());
    const res = await app.inject({
      method: 'POST',
      url: '/sse/environments/abc/queue-change',
      headers: { authorization: AUTH, 'content-length': '5000' },
      payload: '{"updated_at": 1}',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toMatch(/body_too_large|bad_request/);
  });
});

describe('plugin options', () => {
  it('refuses an empty token at registration', async () => {
    await expect(buildTestApp({ authToken: '' })).rejects.toThrow(/authToken/);
    ({ app } = await buildTestApp());
  });
});
