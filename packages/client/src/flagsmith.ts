import type { SubscribeOptions, Subscription } from './options.js';
import { subscribe } from './subscribe.js';

/**
 * The part of the official Flagsmith JavaScript SDK (`flagsmith`) the bridge
 * uses, typed structurally so this package does not depend on it.
 */
export interface FlagsmithLike {
  /** Fetches the flags from the Flagsmith API. */
  getFlags(): Promise<unknown>;
  /** The environment key given to `flagsmith.init()`, used when `environmentKey` is omitted. */
  environmentID?: string;
}

/** Options of {@link connectFlagsmith}: those of `subscribe`, minus `fetchFlags`. */
export interface ConnectFlagsmithOptions
  extends Omit<SubscribeOptions, 'fetchFlags' | 'environmentKey'> {
  /**
   * The environment key.
   * @defaultValue `flagsmith.environmentID`
   */
  environmentKey?: string;
}

/**
 * Keeps an official Flagsmith JS SDK instance up to date in real time: each
 * strictly newer timestamp calls `flagsmith.getFlags()` (one follow-up fetch if
 * more arrive meanwhile, retried with backoff on failure). This brings
 * real-time updates to server-side Node apps too.
 *
 * @example
 * ```ts
 * await flagsmith.init({ environmentID: 'n9fbf9h3v4fFgH3U3ngWhb' });
 * const sub = connectFlagsmith(flagsmith, { baseline: Date.now() / 1000 });
 * ```
 */
export function connectFlagsmith(
  flagsmith: FlagsmithLike,
  options: ConnectFlagsmithOptions = {},
): Subscription {
  return subscribe({
    ...options,
    environmentKey: options.environmentKey ?? flagsmith.environmentID ?? '',
    fetchFlags: () => flagsmith.getFlags(),
  });
}
