import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AUTH_SCHEME } from '@flagsmith-rt/protocol';

const SCHEME = AUTH_SCHEME.toLowerCase();

/**
 * Checks `Authorization: Token <secret>` headers against the configured token
 * without leaking timing. Both sides are HMAC'd with a random per-process key
 * first, so the comparison always runs over two 32-byte digests whatever the
 * length of what the caller sent, and `timingSafeEqual` never throws.
 */
export class TokenVerifier {
  private readonly key = randomBytes(32);
  private readonly expected: Buffer;

  /** @param token - the shared secret; must not be empty */
  constructor(token: string) {
    this.expected = this.digest(token);
  }

  /**
   * `true` if the header carries the scheme `Token` (any case) and the
   * configured secret. Anything else, including a missing header, is `false`.
   */
  verify(header: string | undefined): boolean {
    if (typeof header !== 'string') return false;
    const text = header.trim();
    const space = text.search(/\s/);
    if (space <= 0) return false;
    const scheme = text.slice(0, space).toLowerCase();
    const secret = text.slice(space).trim();
    // Compute the digest even for a wrong scheme so both paths cost the same.
    const matches = timingSafeEqual(this.digest(secret), this.expected);
    return matches && scheme === SCHEME;
  }

  private digest(value: string): Buffer {
    return createHmac('sha256', this.key).update(value, 'utf8').digest();
  }
}
