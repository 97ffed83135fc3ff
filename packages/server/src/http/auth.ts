import { timingSafeEqual } from 'node:crypto';
import { AUTH_SCHEME } from '@flagsmith-rt/protocol';

const SCHEME = AUTH_SCHEME.toLowerCase();

/**
 * Checks `Authorization: Token <secret>` headers against the configured token
 * without leaking timing. The secret that was sent is copied into a buffer of
 * the configured token's length and compared with `timingSafeEqual`, so the
 * comparison always covers the same number of bytes whatever the caller sent,
 * and its time depends only on the length of what the caller sent (which the
 * caller knows), never on the token. (An HMAC of both sides did the same at
 * about 5 % of the CPU of a `queue-change`; this is a copy and a compare.)
 */
export class TokenVerifier {
  readonly #expected: Buffer;
  /** Reused for every check; zeroed after each so it keeps no copy of what was sent. */
  readonly #given: Buffer;

  /** @param token - the shared secret; must not be empty */
  constructor(token: string) {
    this.#expected = Buffer.from(token, 'utf8');
    this.#given = Buffer.alloc(this.#expected.length);
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
    const length = Buffer.byteLength(secret, 'utf8');
    // Copies at most the token's length; the rest stays zero. The compare runs
    // even for a wrong scheme or length so every path costs the same.
    this.#given.write(secret, 'utf8');
    const matches = timingSafeEqual(this.#given, this.#expected);
    this.#given.fill(0);
    return matches && length === this.#expected.length && scheme === SCHEME;
  }
}
