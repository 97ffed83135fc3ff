import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broker, BrokerUpdate } from '../src/broker/broker.js';
import { AUTH, buildTestApp, SwitchableBroker, TOKEN } from './helpers/http-app.js';

const ENV = 'n9fbf9h3v4fFgH3U3ngWhb';
const ISO = '2024-12-26T16:18:08.760000+00:00';
const ISO_SECONDS = 1735229888.76;

let app: FastifyInstance;
let broker: Broker;
let updates: BrokerUpdate[];

beforeEach(async () => {
  ({ app, broker } = await buildTestApp());
  updates = [];
  broker.onUpdate((u) => updates.push(u));
});
afterEach(async () => {
  await app.close();
});

function publish(body: string | undefined, headers: Record<string, string> = {}, env = ENV) {
  return app.inject({
    method: 'POST',
    url: `/sse/environments/${env}/queue-change`,
    headers: { authorization: AUTH, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { payload: body }),
  });
}

function expectNothingPublished(): void {
  expect(updates).toEqual([]);
  expect(broker.latest(ENV)).toBeUndefined();
}

describe('queue-change accepts what Flagsmith sends', () => {
  it('publishes an ISO timestamp, answers 200 after the broker took it, and fans it out', async () => {
    const res = await publish(JSON.stringify({ updated_at: ISO }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ updated_at: ISO_SECONDS, result: 'published' });
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(broker.latest(ENV)).toBe(ISO_SECONDS);
    expect(updates.map((u) => u.updatedAt)).toEqual([ISO_SECONDS]);
  });

  it('reports a repeated timestamp as duplicate and an older one as stale, fanning out neither', async () => {
    await publish(JSON.stringify({ updated_at: 1735229888.76 }));
    const dup = await publish(JSON.stringify({ updated_at: 1735229888.76 }));
    const old = await publish(JSON.stringify({ updated_at: 1735229000 }));
    expect(dup.statusCode).toBe(200);
    expect(dup.json().result).toBe('duplicate');
    expect(old.statusCode).toBe(200);
    expect(old.json().result).toBe('stale');
    expect(updates).toHaveLength(1);
    expect(app.realtimeHub.stats).toMatchObject({
      publishesPublished: 1,
      publishesDuplicate: 1,
      publishesStale: 1,
    });
  });

  it('reads milliseconds above 2e10 as milliseconds', async () => {
    const res = await publish(JSON.stringify({ updated_at: 1735229888760 }));
    expect(res.json().updated_at).toBe(ISO_SECONDS);
  });

  it.each([
    ['no content type', undefined],
    ['text/plain', 'text/plain'],
    ['form encoding', 'application/x-www-form-urlencoded'],
    ['json with charset', 'application/json; charset=utf-8'],
  ])('parses the body whatever the content type: %s', async (_name, contentType) => {
    const res = await app.inject({
      method: 'POST',
      url: `/sse/environments/${ENV}/queue-change`,
      headers: {
        authorization: AUTH,
        ...(contentType === undefined ? {} : { 'content-type': contentType }),
      },
      payload: JSON.stringify({ updated_at: ISO }),
    });
    expect(res.statusCode).toBe(200);
    expect(broker.latest(ENV)).toBe(ISO_SECONDS);
  });

  it('accepts the lowercase scheme, extra headers and a query string', async () => {
    const res = await app.inject({
      method: 'POST',
      url: `/sse/environments/${ENV}/queue-change?source=task-processor`,
      headers: {
        authorization: `token ${TOKEN}`,
        'x-environment-key': ENV,
        'user-agent': 'python',
      },
      payload: JSON.stringify({ updated_at: ISO }),
    });
    expect(res.statusCode).toBe(200);
  });

  it('accepts the doubled leading slash a trailing-slash base URL produces', async () => {
    const res = await app.inject({
      method: 'POST',
      url: `//sse/environments/${ENV}/queue-change`,
      headers: { authorization: AUTH },
      payload: JSON.stringify({ updated_at: ISO }),
    });
    expect(res.statusCode).toBe(200);
    expect(broker.latest(ENV)).toBe(ISO_SECONDS);
  });
});

describe('queue-change refuses bad tokens with 401 and publishes nothing', () => {
  it.each([
    ['missing header', undefined],
    ['wrong scheme', `Bearer ${TOKEN}`],
    ['wrong token, same length', `Token ${TOKEN.slice(0, -1)}X`],
    ['shorter token', `Token ${TOKEN.slice(0, 4)}`],
    ['longer token', `Token ${TOKEN}${TOKEN}`],
    ['scheme only', 'Token'],
    ['empty token', 'Token '],
    ['token without scheme', TOKEN],
  ])('%s', async (_name, authorization) => {
    const res = await app.inject({
      method: 'POST',
      url: `/sse/environments/${ENV}/queue-change`,
      headers: authorization === undefined ? {} : { authorization },
      payload: JSON.stringify({ updated_at: ISO }),
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Token');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.json().error.code).toBe('unauthorized');
    expectNothingPublished();
  });

  it('checks the token before the key: a bad key without a token is 401', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/sse/environments/bad.key/queue-change',
      payload: '{}',
    });
    expect(res.statusCode).toBe(401);
  });
});

describe('queue-change refuses bad environment keys with 400 and publishes nothing', () => {
  it.each([
    ['wildcard *', '*'],
    ['wildcard >', '%3E'],
    ['dot', 'abc.def'],
    ['space', 'abc%20def'],
    ['unicode', 'caf%C3%A9'],
    ['129 characters', 'a'.repeat(129)],
    ['2000 characters (beyond the router limit)', 'a'.repeat(2000)],
    ['percent-encoded dot', 'abc%2Edef'],
    ['percent-encoded slash', 'abc%2Fdef'],
    ['percent-encoded NUL', 'abc%00'],
    ['undecodable percent', 'abc%zz'],
    ['empty', ''],
  ])('%s', async (_name, key) => {
    const res = await app.inject({
      method: 'POST',
      url: `/sse/environments/${key}/queue-change`,
      headers: { authorization: AUTH },
      payload: JSON.stringify({ updated_at: ISO }),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('invalid_environment_key');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(updates).toEqual([]);
  });
});

describe('queue-change refuses bad bodies with 400 and publishes nothing', () => {
  it.each([
    ['not JSON', 'updated_at=1', 'invalid_json'],
    ['empty body', '', 'invalid_json'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'invalid_json'],
    ['a JSON array', '[1735229888]', 'invalid_body'],
    ['a JSON string', '"1735229888"', 'invalid_body'],
    ['null', 'null', 'invalid_body'],
    ['missing field', '{"updatedAt": 1735229888}', 'missing_updated_at'],
    ['NaN-ish string', '{"updated_at": "NaN"}', 'invalid_updated_at'],
    ['Infinity-ish number', '{"updated_at": 1e999}', 'invalid_updated_at'],
    ['zero', '{"updated_at": 0}', 'invalid_updated_at'],
    ['negative', '{"updated_at": -1}', 'invalid_updated_at'],
    ['year past 9999', '{"updated_at": "10000-01-01T00:00:00Z"}', 'invalid_updated_at'],
    ['milliseconds past year 9999', '{"updated_at": 253402300800000}', 'invalid_updated_at'],
    ['boolean', '{"updated_at": true}', 'invalid_updated_at'],
    ['null value', '{"updated_at": null}', 'invalid_updated_at'],
    ['object value', '{"updated_at": {"$date": 1}}', 'invalid_updated_at'],
    ['not a date', '{"updated_at": "yesterday"}', 'invalid_updated_at'],
    ['impossible date', '{"updated_at": "2024-02-30T00:00:00Z"}', 'invalid_updated_at'],
    [
      'over 1 KiB',
      JSON.stringify({ updated_at: ISO, padding: 'x'.repeat(1024) }),
      'body_too_large',
    ],
  ])('%s', async (_name, body, code) => {
    const res = await app.inject({
      method: 'POST',
      url: `/sse/environments/${ENV}/queue-change`,
      headers: { authorization: AUTH, 'content-type': 'application/json' },
      payload: body,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code, message: expect.any(String) } });
    expectNothingPublished();
  });

  it('answers 400 to a chunked body over 1 KiB without a Content-Length', async () => {
    const { Readable } = await import('node:stream');
    const res = await app.inject({
      method: 'POST',
      url: `/sse/environments/${ENV}/queue-change`,
      headers: { authorization: AUTH, 'transfer-encoding': 'chunked' },
      payload: Readable.from([
        Buffer.from('{"updated_at": "'),
        Buffer.alloc(2048, 0x31),
        Buffer.from('"}'),
      ]),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('body_too_large');
    expectNothingPublished();
  });
});

describe('queue-change when the broker cannot take writes', () => {
  it('answers 503 with Retry-After and publishes nothing', async () => {
    await app.close();
    const switchable = new SwitchableBroker();
    ({ app, broker } = await buildTestApp({ broker: switchable, retryAfterSeconds: 7 }));
    updates = [];
    broker.onUpdate((u) => updates.push(u));
    switchable.force('unavailable');
    const res = await publish(JSON.stringify({ updated_at: ISO }));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.headers['access-control-expose-headers']).toBe('Retry-After');
    expect(res.json().error.code).toBe('broker_unavailable');
    expectNothingPublished();
    expect(app.realtimeHub.stats.publishesUnavailable).toBe(1);
  });

  it('answers 503 when the publish itself is refused by the broker', async () => {
    await app.close();
    const switchable = new SwitchableBroker();
    ({ app, broker } = await buildTestApp({ broker: switchable }));
    // The handler saw `ready`; the broker refuses at publish time.
    let calls = 0;
    Object.defineProperty(switchable, 'state', {
      get: () => (calls++ === 0 ? 'ready' : 'unavailable'),
    });
    const res = await publish(JSON.stringify({ updated_at: ISO }));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
  });
});
