import { describe, expect, it } from 'vitest';
import { requestBytes } from '../src/http-connection.js';
import { compileRequests, compileTemplate, type RequestSpec } from '../src/request-template.js';
import { DEFAULT_BODY_TEMPLATE, DEFAULT_PUBLISH_TEMPLATE } from '../src/scenario.js';
import { parseEndpoint, renderTemplate } from '../src/target.js';

/** The per-request path the compiled builder replaces: render, parse, build. */
function reference(spec: RequestSpec, env: string, ts: string) {
  const endpoint = parseEndpoint(renderTemplate(spec.urlTemplate, { env, ts }));
  const body = renderTemplate(spec.bodyTemplate, { env, ts });
  return {
    key: `${endpoint.host}:${endpoint.port}`,
    path: endpoint.path,
    bytes: requestBytes(spec.method, endpoint, spec.headers, body),
  };
}

const ours: RequestSpec = {
  method: 'POST',
  urlTemplate: renderTemplate(DEFAULT_PUBLISH_TEMPLATE, { target: 'http://127.0.0.1:8088' }),
  headers: ['Authorization: Token secret', 'Content-Type: application/json'],
  bodyTemplate: DEFAULT_BODY_TEMPLATE,
};

// [name, spec, built from compiled pieces (not rendered and parsed per request)]
const specs: Array<[string, RequestSpec, boolean]> = [
  ['ours (default templates)', ours, true],
  [
    'nchan-style, no headers, {env} in the body twice',
    {
      method: 'POST',
      urlTemplate: 'http://localhost:9000/pub/{env}',
      headers: [],
      bodyTemplate: '{"env":"{env}","ts":{ts},"again":"{env}"}',
    },
    true,
  ],
  [
    '{ts} in the path and the query, unknown slots kept',
    {
      method: 'PUT',
      urlTemplate: 'http://127.0.0.1:8088/p/{env}/{ts}?at={ts}&x={unknown}',
      headers: ['X-A: 1'],
      bodyTemplate: '{ts}{nope}',
    },
    true,
  ],
  [
    'empty body, {ts} only in the URL',
    { method: 'POST', urlTemplate: 'http://127.0.0.1:1/{ts}', headers: [], bodyTemplate: '' },
    true,
  ],
  [
    'URL parsing drops {ts} (a dot segment after it): rendered per request',
    {
      method: 'POST',
      urlTemplate: 'http://127.0.0.1:1/{ts}/..',
      headers: [],
      bodyTemplate: '{ts}',
    },
    false,
  ],
  [
    'non-ASCII body and header (utf8 body, latin1 head)',
    {
      method: 'POST',
      urlTemplate: 'http://127.0.0.1:8088/q/{env}?t={ts}',
      headers: ['X-Name: café'],
      bodyTemplate: '{"name":"zürich ✓","at":{ts}}',
    },
    true,
  ],
  [
    'URL parsing normalises around {ts} (dot segments, spaces)',
    {
      method: 'POST',
      urlTemplate: 'http://127.0.0.1:8088/a/../{env} x/{ts}/./b',
      headers: [],
      bodyTemplate: 'x',
    },
    true,
  ],
];

describe('compileRequests', () => {
  it.each(specs)('%s: byte-identical to renderTemplate + requestBytes', (_, spec, fast) => {
    for (const env of ['env_a', 'B-2', 'ü']) {
      const compiled = compileRequests(spec, env);
      expect(compiled.compiled).toBe(fast);
      for (const ts of ['1763900000.123456', '1.000001', '1763900000.999999', '7']) {
        const built = compiled.build(ts);
        const want = reference(spec, env, ts);
        expect(built.bytes.toString('latin1')).toBe(want.bytes.toString('latin1'));
        expect(built.key).toBe(want.key);
        expect(built.endpoint.path).toBe(want.path);
      }
    }
  });

  it('builds our queue-change request as the server reads it', () => {
    const built = compileRequests(ours, 'env_a').build('1763900000.123456');
    expect(built.bytes.toString()).toBe(
      'POST /sse/environments/env_a/queue-change HTTP/1.1\r\nHost: 127.0.0.1:8088\r\n' +
        'Authorization: Token secret\r\nContent-Type: application/json\r\n' +
        'Content-Length: 33\r\n\r\n{"updated_at": 1763900000.123456}',
    );
  });

  it('splits templates into literals and slots', () => {
    expect(compileTemplate('a{env}b{ts}{x}')).toEqual([
      { literal: 'a' },
      { slot: 'env' },
      { literal: 'b' },
      { slot: 'ts' },
      { slot: 'x' },
    ]);
  });
});
