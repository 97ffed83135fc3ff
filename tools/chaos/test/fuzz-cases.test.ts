import { AUTH_SCHEME, parsePublishBody, validateEnvironmentKey } from '@flagsmith-rt/protocol';
import { describe, expect, test } from 'vitest';
import { FUZZ_TARGET_KEY, fuzzCase } from '../src/fuzz/cases.js';
import { Random } from '../src/fuzz/random.js';

const TOKEN = 'fuzz-token-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJK';
const QUEUE_CHANGE = /^POST \/+sse\/environments\/([^/ ]*)\/queue-change HTTP\/1\.1\r\n/;

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Would the service publish this request? (valid key, exact token, accepted body) */
function isValidPublish(bytes: Buffer): boolean {
  const text = bytes.toString('latin1');
  const line = QUEUE_CHANGE.exec(text);
  if (!line) return false;
  const key = decode(line[1]!);
  if (key === undefined || !validateEnvironmentKey(key).ok) return false;
  const headEnd = text.indexOf('\r\n\r\n');
  const head = text.slice(0, headEnd);
  const auth = /\r\nAuthorization: ([^\r]*)/i.exec(head)?.[1];
  if (auth?.trim().replace(/^token\s+/i, `${AUTH_SCHEME} `) !== `${AUTH_SCHEME} ${TOKEN}`) {
    return false;
  }
  return parsePublishBody(bytes.subarray(Buffer.byteLength(head, 'latin1') + 4)).ok;
}

describe('fuzz cases', () => {
  test('the same seed gives the same requests; another seed others', () => {
    const draw = (seed: number) => {
      const rng = new Random(seed);
      return Array.from({ length: 200 }, () =>
        fuzzCase(rng, TOKEN, 'h', false).bytes.toString('hex'),
      );
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(8)).not.toEqual(draw(7));
  });

  test('no case is a valid publish, yet every category is drawn', () => {
    const rng = new Random(1);
    const categories = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const fuzz = fuzzCase(rng, TOKEN, 'h', false);
      categories.add(fuzz.category);
      expect(isValidPublish(fuzz.bytes), fuzz.bytes.toString('latin1').slice(0, 300)).toBe(false);
    }
    expect([...categories].sort()).toEqual(
      ['body', 'headers', 'method', 'path', 'publish-key', 'stream-key', 'token'].sort(),
    );
  });

  test('the checker itself recognises a valid publish', () => {
    const body = '{"updated_at": 1735229888.76}';
    const valid = Buffer.from(
      `POST /sse/environments/${FUZZ_TARGET_KEY}/queue-change HTTP/1.1\r\nHost: h\r\n` +
        `Authorization: Token ${TOKEN}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      'latin1',
    );
    expect(isValidPublish(valid)).toBe(true);
  });

  test('a huge-body case carries 10 MB', () => {
    const fuzz = fuzzCase(new Random(3), TOKEN, 'h', true);
    expect(fuzz.category).toBe('body-10MB');
    expect(fuzz.bytes.length).toBeGreaterThan(10 * 1024 * 1024);
  });
});
