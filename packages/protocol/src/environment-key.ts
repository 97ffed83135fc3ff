import { ENVIRONMENT_KEY_ALPHABET, ENVIRONMENT_KEY_MAX_LENGTH } from './constants.js';
import { fail, ok, type Result } from './result.js';

const KEY_PATTERN = /^[A-Za-z0-9_-]+$/;

/**
 * Checks a Flagsmith client-side environment key. It becomes a NATS subject
 * token, so only `A-Z a-z 0-9 _ -`, 1 to 128 characters, is accepted: no dots,
 * wildcards or whitespace can reach NATS.
 */
export function validateEnvironmentKey(key: unknown): Result<string> {
  if (typeof key !== 'string' || key.length === 0) {
    return fail(
      'invalid_environment_key',
      `The environment key is ${typeof key === 'string' ? 'empty' : 'missing'}; use 1 to ${ENVIRONMENT_KEY_MAX_LENGTH} characters of ${ENVIRONMENT_KEY_ALPHABET}.`,
    );
  }
  if (key.length > ENVIRONMENT_KEY_MAX_LENGTH) {
    return fail(
      'invalid_environment_key',
      `The environment key is ${key.length} characters long; at most ${ENVIRONMENT_KEY_MAX_LENGTH} are allowed (${ENVIRONMENT_KEY_ALPHABET}).`,
    );
  }
  if (!KEY_PATTERN.test(key)) {
    return fail(
      'invalid_environment_key',
      `The environment key may contain only ${ENVIRONMENT_KEY_ALPHABET} (1 to ${ENVIRONMENT_KEY_MAX_LENGTH} characters).`,
    );
  }
  return ok(key);
}
