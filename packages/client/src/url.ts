import { streamPath } from '@flagsmith-rt/protocol';

/** Flagsmith's hosted real-time endpoint. */
export const DEFAULT_BASE_URL = 'https://realtime.flagsmith.com/';

/**
 * The stream URL of an environment: the base URL with a trailing `/` forced,
 * then `sse/environments/{key}/stream`. Throws a `TypeError` if the base is
 * not an absolute URL.
 */
export function streamUrl(baseUrl: string, environmentKey: string): URL {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  // Resolving a relative path keeps any path prefix of the base (e.g. a proxy mount).
  return new URL(streamPath(environmentKey).slice(1), base);
}

/** Whether this runtime enforces CORS, so a custom request header costs a preflight. */
export function isBrowserLike(): boolean {
  const g = globalThis as { document?: unknown; WorkerGlobalScope?: unknown };
  return g.document !== undefined || g.WorkerGlobalScope !== undefined;
}
