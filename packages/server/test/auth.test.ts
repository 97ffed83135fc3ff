import { describe, expect, it } from 'vitest';
import { TokenVerifier } from '../src/http/auth.js';

describe('TokenVerifier', () => {
  const verifier = new TokenVerifier('s3cret-token');

  it.each([
    ['the exact header', 'Token s3cret-token'],
    ['a lowercase scheme', 'token s3cret-token'],
    ['an uppercase scheme', 'TOKEN s3cret-token'],
    ['surrounding whitespace', '  Token   s3cret-token  '],
  ])('accepts %s', (_name, header) => {
    expect(verifier.verify(header)).toBe(true);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['another scheme', 'Bearer s3cret-token'],
    ['the token alone', 's3cret-token'],
    ['a prefix of the token', 'Token s3cret'],
    ['the token with a suffix', 'Token s3cret-tokenX'],
    ['a different case of the token', 'Token S3CRET-TOKEN'],
    ['a 10 KB token', `Token ${'x'.repeat(10_000)}`],
    ['a token that differs in its last byte', 'Token s3cret-tokem'],
    ['a token of the same characters in other bytes', 'Token s3cret-tokén'],
    ['the token followed by a NUL', 'Token s3cret-token\u0000'],
  ])('refuses %s without throwing', (_name, header) => {
    expect(verifier.verify(header)).toBe(false);
  });

  it('keeps no copy of the token in its own fields', () => {
    expect(JSON.stringify(verifier)).not.toContain('s3cret');
  });

  it('is not fooled by an earlier check: each starts from a clean buffer', () => {
    expect(verifier.verify('Token s3cret-token')).toBe(true);
    // A prefix after the full token must not be completed by the previous bytes.
    expect(verifier.verify('Token s3cret-toke')).toBe(false);
    expect(verifier.verify('Token ')).toBe(false);
  });

  it('accepts a token with multi-byte characters only when every byte matches', () => {
    const unicode = new TokenVerifier('clé-🔑-secrète');
    expect(unicode.verify('Token clé-🔑-secrète')).toBe(true);
    expect(unicode.verify('Token cle-🔑-secrète')).toBe(false);
    expect(unicode.verify('Token clé-🔒-secrète')).toBe(false);
  });
});
