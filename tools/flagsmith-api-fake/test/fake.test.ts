import { expect, it } from 'vitest';
import { isoWithMicroseconds, startFlagsmithApiFake } from '../src/index.js';

it('serves flags/ and environment-document/ to their keys, with the updated_at header, and counts them', async () => {
  await using api = await startFlagsmithApiFake({ updatedAt: 100.5 });
  const flags = await fetch(`${api.url}flags/`, {
    headers: { 'X-Environment-Key': api.environmentKey },
  });
  expect(flags.status).toBe(200);
  expect(flags.headers.get('x-flagsmith-document-updated-at')).toBe('100.5');
  expect(await flags.json()).toMatchObject([
    { feature: { name: 'realtime_probe' }, enabled: true },
  ]);

  api.setUpdatedAt(200.25);
  const doc = await fetch(`${api.url}environment-document/`, {
    headers: { 'X-Environment-Key': api.serverKey },
  });
  expect(doc.headers.get('x-flagsmith-document-updated-at')).toBe('200.25');
  expect(await doc.json()).toMatchObject({
    api_key: api.environmentKey,
    updated_at: '1970-01-01T00:03:20.250000+00:00',
  });

  const wrongKey = await fetch(`${api.url}environment-document/`, {
    headers: { 'X-Environment-Key': api.environmentKey },
  });
  expect(wrongKey.status).toBe(401);
  expect(api.fetches('flags')).toBe(1);
  expect(api.fetches('environmentDocument')).toBe(1);
  await api.waitForFetches('flags', 1);
  await expect(api.waitForFetches('flags', 2, 50)).rejects.toThrow(/fetched 1 times/);
});

it('answers the CORS preflight of the X-Environment-Key header', async () => {
  await using api = await startFlagsmithApiFake();
  const res = await fetch(`${api.url}flags/`, {
    method: 'OPTIONS',
    headers: {
      Origin: 'http://example.test',
      'Access-Control-Request-Headers': 'x-environment-key',
    },
  });
  expect(res.status).toBe(204);
  expect(res.headers.get('access-control-allow-headers')).toBe('x-environment-key');
  expect(res.headers.get('access-control-allow-origin')).toBe('*');
});

it('writes updated_at as ISO-8601 with six fractional digits', () => {
  expect(isoWithMicroseconds(1735229888.76)).toBe('2024-12-26T16:18:08.760000+00:00');
  expect(isoWithMicroseconds(1735229888)).toBe('2024-12-26T16:18:08.000000+00:00');
});

it('holds answers made on arrival until released, and counts them when sent', async () => {
  await using api = await startFlagsmithApiFake({ updatedAt: 100.5 });
  const release = api.hold('flags');
  const response = fetch(`${api.url}flags/`, {
    headers: { 'X-Environment-Key': api.environmentKey },
  });
  await expect.poll(() => api.held('flags')).toBe(1);
  api.setUpdatedAt(200.25);
  expect(api.fetches('flags')).toBe(0);
  release();
  const flags = await response;
  // The answer as it was when the request arrived.
  expect(flags.headers.get('x-flagsmith-document-updated-at')).toBe('100.5');
  expect(api.fetches('flags')).toBe(1);
  expect(api.held('flags')).toBe(0);
  // Released: the next request is answered at once, with the current document.
  const next = await fetch(`${api.url}flags/`, {
    headers: { 'X-Environment-Key': api.environmentKey },
  });
  expect(next.headers.get('x-flagsmith-document-updated-at')).toBe('200.25');
});
