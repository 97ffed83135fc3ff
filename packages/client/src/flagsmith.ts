import { ConfigurationError } from './errors.js';
import type { SubscribeOptions, Subscription } from './options.js';
import { subscribe } from './subscribe.js';

/**
 * The part of the official Flagsmith JavaScript SDK (`flagsmith`) the bridge
 * uses, typed structurally so this package does not depend on it. The SDK's
 * default export and `createFlagsmithInstance()` fit (checked with `flagsmith` 10).
 */
export interface FlagsmithLike {
  /** Fetches the flags from the Flagsmith API. */
  getFlags(): Promise<unknown>;
  /**
   * The SDK's evaluation context. `flagsmith.init({ environmentID })` stores
   * the key there as `environment.apiKey`, before its first `await`, so it is
   * readable as soon as `init()` has been called.
   */
  getContext?(): { environment?: { apiKey?: string } | null } | undefined;
  /**
   * The `X-Flagsmith-Document-Updated-At` of the SDK's last flags response
   * (epoch seconds), which the SDK keeps on the instance; `null` before any.
   */
  timestamp?: number | null;
}

/** Options of {@link connectFlagsmith}: those of `subscribe`, minus `fetchFlags`. */
export interface ConnectFlagsmithOptions
  extends Omit<SubscribeOptions, 'fetchFlags' | 'environmentKey'> {
  /**
   * The environment key.
   * @defaultValue the key given to `flagsmith.init()` (`flagsmith.getContext().environment.apiKey`)
   */
  environmentKey?: string;
  /**
   * Timestamp of the flags the SDK already has; updates at or before it fetch nothing.
   * @defaultValue `flagsmith.timestamp`, the `X-Flagsmith-Document-Updated-At` of its last flags response
   */
  baseline?: number;
}

/**
 * Keeps an official Flagsmith JS SDK instance up to date in real time: each
 * strictly newer timestamp calls `flagsmith.getFlags()` (one follow-up fetch if
 * more arrive meanwhile, retried with backoff on failure). This brings
 * real-time updates to server-side Node apps too.
 *
 * Call it after `flagsmith.init()`: the environment key and the baseline are
 * read from the SDK unless given. Throws a {@link ConfigurationError}
 * (`invalid_environment_key`) if there is no key.
 *
 * @example
 * ```ts
 * await flagsmith.init({ environmentID: 'n9fbf9h3v4fFgH3U3ngWhb' });
 * const subscription = connectFlagsmith(flagsmith, { baseUrl: 'http://127.0.0.1:8088' });
 * ```
 */
export function connectFlagsmith(
  flagsmith: FlagsmithLike,
  options: ConnectFlagsmithOptions = {},
): Subscription {
  const environmentKey = options.environmentKey ?? flagsmith.getContext?.()?.environment?.apiKey;
  if (environmentKey === undefined) {
    throw new ConfigurationError(
      'invalid_environment_key',
      'The Flagsmith SDK has no environment key: call flagsmith.init({ environmentID }) before connectFlagsmith(), or pass environmentKey.',
      false,
    );
  }
  return subscribe({
    ...options,
    environmentKey,
    baseline: options.baseline ?? flagsmith.timestamp ?? undefined,
    fetchFlags: () => flagsmith.getFlags(),
  });
}
