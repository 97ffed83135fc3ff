import { describe, expect, test } from 'vitest';
import {
  ENVIRONMENT_KEY_ALPHABET,
  ENVIRONMENT_KEY_MAX_LENGTH,
  validateEnvironmentKey,
} from '../src/index.js';

const rejection = (key: unknown): string => {
  const result = validateEnvironmentKey(key);
  if (result.ok) throw new Error(`expected ${JSON.stringify(key)} to be rejected`);
  expect(result.error.code).toBe('invalid_environment_key');
  return result.error.message;
};

describe('validateEnvironmentKey (PROTOCOL.md "HTTP endpoints")', () => {
  test('accepts real keys and every allowed character', () => {
    for (const key of ['n9fbf9h3v4fFgH3U3ngWhb', 'ser_abc', 'a', '-', '_', 'AZaz09_-']) {
      expect(validateEnvironmentKey(key)).toEqual({ ok: true, value: key });
    }
  });

  test('accepts 1 and 128 characters, rejects 129', () => {
    expect(ENVIRONMENT_KEY_MAX_LENGTH).toBe(128);
    expect(validateEnvironmentKey('k').ok).toBe(true);
    expect(validateEnvironmentKey('k'.repeat(128)).ok).toBe(true);
    expect(rejection('k'.repeat(129))).toMatch(/129 characters.*at most 128/);
  });

  test('rejects the empty key, saying what is allowed', () => {
    const message = rejection('');
    expect(message).toMatch(/empty/);
    expect(message).toContain(ENVIRONMENT_KEY_ALPHABET);
  });

  test('rejects NATS wildcards, token separators, whitespace and other characters', () => {
    const bad = [
      '*',
      '>',
      'abc.*',
      'abc.>',
      'a.b',
      '.',
      'abc ',
      ' abc',
      'a b',
      'a\tb',
      'a\nb',
      'a\0b',
      'clé',
      'ключ',
      'key😀',
      'a/b',
      'a%2Eb',
      'a+b',
      'a:b',
      '$JS',
    ];
    for (const key of bad) {
      const message = rejection(key);
      expect(message, key).toContain(`only ${ENVIRONMENT_KEY_ALPHABET}`);
      expect(message, key).toContain('1 to 128 characters');
    }
  });

  test('rejects non-strings, saying what is allowed', () => {
    for (const key of [undefined, null, 42, ['abc'], { key: 'abc' }]) {
      expect(rejection(key)).toContain(ENVIRONMENT_KEY_ALPHABET);
    }
  });
});
