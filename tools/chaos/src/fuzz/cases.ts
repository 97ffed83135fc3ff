import {
  AUTH_SCHEME,
  parsePublishBody,
  QUEUE_CHANGE_ROUTE,
  STREAM_ROUTE,
  validateEnvironmentKey,
} from '@flagsmith-rt/protocol';
import type { Random } from './random.js';

/** One hostile request, as raw bytes. */
export interface FuzzCase {
  /** What it attacks (for the report). */
  category: string;
  /** The complete request. */
  bytes: Buffer;
  /** It goes to the publish endpoint with a method that could publish. */
  targetsPublish: boolean;
}

/** The valid key hostile bodies and tokens are aimed at. */
export const FUZZ_TARGET_KEY = 'chaos-fuzz-target';

const QUEUE_CHANGE = QUEUE_CHANGE_ROUTE.replace(':environment', '{}');
const STREAM = STREAM_ROUTE.replace(':environment', '{}');
const TEN_KB = 10 * 1024;

/** Keys that must never become a subject: wildcards, dots, spaces, unicode, size, encodings. */
function hostileKey(rng: Random): string {
  const ascii = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const word = rng.string(rng.int(1, 12), ascii);
  return rng.pick([
    '*',
    '>',
    `${word}.*`,
    `${word}.>`,
    `${word}.${word}`,
    '.',
    '..',
    '%2E%2E',
    '%2e',
    '%2A',
    '%3E',
    `${word}%2A`,
    `${word}%3E`,
    `${word}%2E${word}`,
    `${word}%20${word}`,
    `${word}+${word}`,
    `${word}%00`,
    `${word}%0d%0aX-Injected:%201`,
    '%',
    '%ZZ',
    `${word}%`,
    '%252A',
    `${word}%2F${word}`,
    `${word}%5C${word}`,
    `%C0%AE%C0%AE`,
    `%F0%9F%98%80`,
    `${encodeURIComponent('ключ')}`,
    `${encodeURIComponent('日本')}`,
    `${word}%E2%80%8B`,
    'x'.repeat(129),
    'a'.repeat(TEN_KB),
    `${word}${'%41'.repeat(200)}`,
    `${word}~${word}`,
    `${word}!${word}`,
    `${word}$${word}`,
    `${word}'${word}`,
    `${word}(${word})`,
    `${word},${word}`,
    `${word};${word}`,
    `${word}=${word}`,
    `${word}:${word}`,
    `${word}@${word}`,
    `${word}%09`,
    '%7B%7D',
    '%5Bobject%20Object%5D',
    '__proto__%2E',
    'constructor.prototype',
  ]);
}

/** Bytes that are not even ASCII, for paths the request line parser must refuse. */
function rawBytesKey(rng: Random): Buffer {
  const choice = rng.int(0, 3);
  if (choice === 0) return Buffer.from('ключ', 'utf8');
  if (choice === 1) return Buffer.from([0xff, 0xfe, 0x41]);
  if (choice === 2) return Buffer.from('a b', 'latin1');
  return Buffer.from(`a\tb`, 'latin1');
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * A wrong, missing or mangled `Authorization` header. Never one that HTTP makes equivalent to
 * the valid one: the scheme is case-insensitive and spaces around the credentials are allowed
 * (RFC 9110 11.1, 5.5), so `token <t>` or `Token  <t>` are correct and not used here.
 */
function hostileAuthorization(rng: Random, token: string): string | undefined {
  const flip = (s: string, at: number): string =>
    s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
  const options: (string | undefined)[] = [
    undefined,
    '',
    AUTH_SCHEME,
    `${AUTH_SCHEME} `,
    `Bearer ${token}`,
    `Basic ${Buffer.from(`user:${token}`).toString('base64')}`,
    `${AUTH_SCHEME} ${token}x`,
    `${AUTH_SCHEME} ${token.slice(0, -1)}`,
    `${AUTH_SCHEME} ${flip(token, token.length - 1)}`,
    `${AUTH_SCHEME} ${flip(token, 0)}`,
    `${AUTH_SCHEME} ${flip(token, rng.int(0, token.length - 1))}`,
    `${AUTH_SCHEME} ${token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase()}`,
    `${AUTH_SCHEME} ${'x'.repeat(rng.int(1, 200))}`,
    `${AUTH_SCHEME} ${'x'.repeat(TEN_KB)}`,
    `${AUTH_SCHEME} ${token}${token}`,
    `${token}`,
    `${AUTH_SCHEME}:${token}`,
    `${AUTH_SCHEME}\t${token}x`,
    `${AUTH_SCHEME} ${token}\u0000`,
  ];
  return rng.pick(options);
}

/** Bodies `queue-change` must refuse (checked against the protocol's own parser). */
function hostileBody(rng: Random): string {
  const nested = (depth: number, open: string, close: string): string =>
    open.repeat(depth) + close.repeat(depth);
  const candidates = [
    '',
    ' ',
    'null',
    'true',
    '[]',
    '{}',
    '"updated_at"',
    '{"updated_at":}',
    '{"updated_at": null}',
    '{"updated_at": true}',
    '{"updated_at": []}',
    '{"updated_at": {}}',
    '{"updated_at": "yesterday"}',
    '{"updated_at": 0}',
    '{"updated_at": -1}',
    '{"updated_at": -1e308}',
    '{"updated_at": 1e400}',
    '{"updated_at": 1e308}',
    '{"updated_at": 253402300800}',
    '{"updated_at": 99999999999999999999999999999999}',
    '{"updated_at": "NaN"}',
    '{"updated_at": "Infinity"}',
    '{"updated_at": "2024-02-30T00:00:00Z"}',
    '{"updated_at": "2024-12-26T25:00:00Z"}',
    '{"updated_at": "10000-01-01T00:00:00Z"}',
    '{"updated_at": "0000-00-00T00:00:00Z"}',
    '{"updated_at": "2024-12-26T16:18:08+24:00"}',
    '{"__proto__": {"updated_at": 1735229888}}',
    '{"constructor": {"prototype": {"updated_at": 1735229888}}}',
    '{"UPDATED_AT": 1735229888}',
    '{"updated_at ": 1735229888}',
    '{"updated_at": 1735229888',
    '{"updated_at": 1735229888}}',
    '{updated_at: 1735229888}',
    "{'updated_at': 1735229888}",
    '{"updated_at": 0x10}',
    '{"updated_at": 1_735_229_888}',
    `{"updated_at": "${'9'.repeat(400)}"}`,
    nested(rng.int(100, 500), '[', ']'),
    `{"a":${nested(rng.int(50, 200), '{"a":', '}')}}`,
    '\u0000\u0001\u0002',
    '\uFEFF{"updated_at": 1735229888}x',
    Buffer.from([0xff, 0xfe, 0xfd]).toString('latin1'),
    `{"updated_at": "${'x'.repeat(2000)}"}`,
    `{"pad": "${'x'.repeat(2000)}", "updated_at": 1735229888}`,
  ];
  for (;;) {
    const body = rng.pick(candidates);
    if (!parsePublishBody(Buffer.from(body, 'latin1')).ok) return body;
  }
}

/** A body the service would accept: only ever sent with a wrong token or an invalid key. */
function validBody(rng: Random): string {
  return rng.pick([
    '{"updated_at": 1735229888.76}',
    '{"updated_at": "2024-12-26T16:18:08.760000+00:00"}',
    '{"updated_at": 1735229888760}',
  ]);
}

interface RequestParts {
  method: string;
  target: Buffer | string;
  headers: [string, string][];
  body?: Buffer | string;
  contentLength?: boolean;
  version?: string;
}

function render(parts: RequestParts, host: string): Buffer {
  const body =
    parts.body === undefined
      ? undefined
      : typeof parts.body === 'string'
        ? Buffer.from(parts.body, 'latin1')
        : parts.body;
  const headers = [...parts.headers];
  if (!headers.some(([name]) => name.toLowerCase() === 'host')) headers.unshift(['Host', host]);
  if (body !== undefined && parts.contentLength !== false) {
    headers.push(['Content-Length', String(body.length)]);
  }
  const head = Buffer.concat([
    Buffer.from(`${parts.method} `, 'latin1'),
    typeof parts.target === 'string' ? Buffer.from(parts.target, 'latin1') : parts.target,
    Buffer.from(
      ` ${parts.version ?? 'HTTP/1.1'}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`,
      'latin1',
    ),
  ]);
  return body === undefined ? head : Buffer.concat([head, body]);
}

/**
 * Draws one hostile request. No request it returns is a valid publish: a valid key, the exact
 * token and an accepted body never come together (checked, not assumed), so the stream must
 * not change.
 */
export function fuzzCase(rng: Random, token: string, host: string, hugeBody: boolean): FuzzCase {
  const category = hugeBody
    ? 'body-10MB'
    : rng.pick([
        'path',
        'stream-key',
        'publish-key',
        'method',
        'headers',
        'body',
        'token',
        'token',
        'body',
      ]);
  const validAuth = `${AUTH_SCHEME} ${token}`;
  let parts: RequestParts;
  switch (category) {
    case 'body-10MB':
      parts = {
        method: 'POST',
        target: QUEUE_CHANGE.replace('{}', FUZZ_TARGET_KEY),
        headers: [
          ['Authorization', validAuth],
          ['Content-Type', 'application/json'],
        ],
        body: Buffer.alloc(10 * 1024 * 1024, 0x20),
      };
      break;
    case 'path': {
      const pick = rng.int(0, 9);
      const target =
        pick === 0
          ? rng.string(rng.int(1, 64), 'abcdefghijklmnopqrstuvwxyz/%.?&=#;')
          : pick === 1
            ? `/${'a/'.repeat(rng.int(100, 2000))}`
            : pick === 2
              ? `/sse/environments/${FUZZ_TARGET_KEY}/stream?lastEventId=${rng.pick(['', 'x', '-1', '1e999', 'NaN', '%00', '9'.repeat(400)])}`
              : pick === 3
                ? rng.pick([
                    '/',
                    '*',
                    '/sse',
                    '/sse/',
                    '/sse/environments',
                    '/sse/environments/',
                    '/sse/environments//stream',
                    '/sse/environments//queue-change',
                    '//sse//environments//x//stream',
                    '/livez/',
                    '/readyz?x=1',
                    '/metricsz',
                    '/LIVEZ',
                    '/../../etc/passwd',
                    '/%2e%2e/%2e%2e/etc/passwd',
                    '/sse/environments/x/stream/extra',
                    '/sse/environments/x/../x/stream',
                    'http://evil.example/sse/environments/x/stream',
                  ])
                : pick === 4
                  ? rawBytesKey(rng)
                  : pick === 5
                    ? `/${'x'.repeat(rng.int(TEN_KB, 70_000))}`
                    : pick === 6
                      ? STREAM.replace('{}', FUZZ_TARGET_KEY).replace(
                          '/stream',
                          `/stream?${'a=1&'.repeat(rng.int(10, 3000))}`,
                        )
                      : `/${rng.string(rng.int(1, 200), 'abcdefghijklmnopqrstuvwxyz0123456789-_.~%/')}`;
      parts = { method: rng.pick(['GET', 'POST', 'OPTIONS', 'HEAD']), target, headers: [] };
      break;
    }
    case 'stream-key': {
      const raw = rng.chance(0.1);
      const target = raw
        ? Buffer.concat([
            Buffer.from('/sse/environments/'),
            rawBytesKey(rng),
            Buffer.from('/stream'),
          ])
        : STREAM.replace('{}', hostileKey(rng));
      parts = {
        method: 'GET',
        target: rng.chance(0.2) && typeof target === 'string' ? `/${target}` : target,
        headers: [['Accept', 'text/event-stream']],
      };
      break;
    }
    case 'publish-key': {
      const key = hostileKey(rng);
      const decoded = safeDecode(key);
      if (decoded !== undefined && validateEnvironmentKey(decoded).ok) {
        throw new Error(`fuzz generator bug: hostile key ${key} is valid`);
      }
      // The exact token and a valid body: only the key is wrong, so nothing may be published.
      parts = {
        method: 'POST',
        target: QUEUE_CHANGE.replace('{}', key),
        headers: [
          ['Authorization', validAuth],
          ['Content-Type', 'application/json'],
        ],
        body: validBody(rng),
      };
      break;
    }
    case 'method': {
      const method = rng.pick([
        'PUT',
        'DELETE',
        'PATCH',
        'TRACE',
        'CONNECT',
        'PROPFIND',
        'get',
        'post',
        'G ET',
        'GE\tT',
        rng.string(rng.int(1, 20), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'),
        'X'.repeat(TEN_KB),
      ]);
      parts = {
        method: method === 'POST' ? 'XPOST' : method,
        target: rng.chance(0.5)
          ? QUEUE_CHANGE.replace('{}', FUZZ_TARGET_KEY)
          : STREAM.replace('{}', FUZZ_TARGET_KEY),
        headers: [['Authorization', validAuth]],
        body: validBody(rng),
      };
      break;
    }
    case 'headers': {
      const variant = rng.int(0, 11);
      const headers: [string, string][] = [];
      let body: string | undefined = hostileBody(rng);
      let contentLength = true;
      let version: string | undefined;
      if (variant === 0) headers.push(['X-Huge', 'x'.repeat(rng.int(TEN_KB, 100_000))]);
      if (variant === 1) {
        for (let i = 0; i < rng.int(100, 3000); i++) headers.push([`X-H${i}`, 'v']);
      }
      if (variant === 2) headers.push(['Authorization', validAuth], ['Authorization', 'Token x']);
      if (variant === 3) {
        headers.push(['Content-Length', '5'], ['Content-Length', '7']);
        contentLength = false;
      }
      if (variant === 4) headers.push(['Host', 'a'], ['Host', 'b']);
      if (variant === 5) {
        headers.push(['Transfer-Encoding', 'chunked'], ['Content-Length', '3']);
        contentLength = false;
        body = '3\r\nabc\r\n0\r\n\r\n';
      }
      if (variant === 6) {
        headers.push(['Transfer-Encoding', 'chunked']);
        contentLength = false;
        body = `zz\r\n${body}\r\n0\r\n\r\n`;
      }
      if (variant === 7) headers.push(['X-Bad\u0001Name', 'v'], ['Authorization', validAuth]);
      if (variant === 8)
        headers.push(['Last-Event-ID', rng.pick(['-1', 'x', '1e999', '9'.repeat(5000), '\u0000'])]);
      if (variant === 9) version = rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTX/1.1', '']);
      if (variant === 10) headers.push(['Expect', '100-continue'], ['Authorization', validAuth]);
      if (variant === 11) {
        headers.push([
          'Content-Type',
          rng.pick([
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/json; charset=utf-16',
            '\u0000',
          ]),
        ]);
        headers.push(['Authorization', validAuth]);
      }
      parts = {
        method: rng.pick(['GET', 'POST']),
        target: rng.chance(0.5)
          ? QUEUE_CHANGE.replace('{}', FUZZ_TARGET_KEY)
          : STREAM.replace('{}', FUZZ_TARGET_KEY),
        headers,
        ...(body === undefined ? {} : { body }),
        contentLength,
        ...(version === undefined ? {} : { version }),
      };
      break;
    }
    case 'body':
      // The exact token on a valid key: only the body is wrong.
      parts = {
        method: 'POST',
        target: `${rng.chance(0.2) ? '/' : ''}${QUEUE_CHANGE.replace('{}', FUZZ_TARGET_KEY)}`,
        headers: [
          ['Authorization', validAuth],
          [
            'Content-Type',
            rng.pick(['application/json', 'text/plain', 'application/octet-stream']),
          ],
        ],
        body: hostileBody(rng),
      };
      break;
    default: {
      // token: a valid key and a valid body; only the token is wrong or missing.
      const authorization = hostileAuthorization(rng, token);
      parts = {
        method: 'POST',
        target: QUEUE_CHANGE.replace('{}', FUZZ_TARGET_KEY),
        headers: [
          ...(authorization === undefined
            ? []
            : ([['Authorization', authorization]] as [string, string][])),
          ['Content-Type', 'application/json'],
        ],
        body: validBody(rng),
      };
    }
  }
  return {
    category,
    bytes: render(parts, host),
    targetsPublish: parts.method === 'POST',
  };
}
