export {
  type BackoffOptions,
  backoffDelay,
  parseRetryAfter,
} from './backoff.js';
export {
  CallbackError,
  ConfigurationError,
  ConnectionError,
  EventError,
  FetchFlagsError,
  RealtimeError,
  type RealtimeErrorCode,
  StreamRefusedError,
} from './errors.js';
export type {
  ConnectionState,
  FetchLike,
  StateChange,
  SubscribeOptions,
  Subscription,
} from './options.js';
export { subscribe } from './subscribe.js';
export type { FetchFlags } from './updates.js';
export { DEFAULT_BASE_URL, streamUrl } from './url.js';
