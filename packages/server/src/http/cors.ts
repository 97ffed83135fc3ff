/** Sent on every response, errors and streams included: any origin may subscribe. */
export const CORS_ALLOW_ORIGIN = '*';

/**
 * CORS headers of every response. `Retry-After` is exposed so that browser
 * clients on other origins can honour it on a `503`; browsers hide it otherwise.
 */
export const CORS_RESPONSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'access-control-allow-origin': CORS_ALLOW_ORIGIN,
  'access-control-expose-headers': 'Retry-After',
});

/** Headers of a preflight (`OPTIONS`) answer. */
export const PREFLIGHT_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'access-control-allow-origin': CORS_ALLOW_ORIGIN,
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers':
    'Authorization, Content-Type, Last-Event-ID, X-Environment-Key, Cache-Control, Accept, User-Agent',
  'access-control-max-age': '86400',
});
