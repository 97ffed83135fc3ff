import { frameworkErrorHandler } from './error-handler.js';
import { DEFAULT_HTTP_LIMITS, fastifyLimitOptions, type HttpLimits } from './limits.js';

/**
 * Router options the routes depend on: keys up to 128 characters must reach
 * the handler (`maxParamLength`), and `//sse/...` must route like `/sse/...`
 * (`ignoreDuplicateSlashes`). The plugin refuses to register without them.
 */
export const ROUTER_OPTIONS = Object.freeze({ maxParamLength: 1024, ignoreDuplicateSlashes: true });

/**
 * The options of `Fastify({...})` that the plugin needs, to spread into it:
 * {@link ROUTER_OPTIONS}; errors raised before routing (bad URL, key longer
 * than `maxParamLength`) in the plugin's JSON shape; `return503OnClosing:
 * false`, so the plugin answers requests during shutdown itself (JSON, CORS,
 * `Retry-After`); and the request limits (`431`, `408`, 1 KiB bodies; see
 * {@link HttpLimits}). With a custom `serverFactory`, pass `http` on to
 * `http.createServer`.
 */
export function fastifyOptions(limits: HttpLimits = DEFAULT_HTTP_LIMITS) {
  return {
    routerOptions: { ...ROUTER_OPTIONS },
    frameworkErrors: frameworkErrorHandler,
    return503OnClosing: false,
    ...fastifyLimitOptions(limits),
  };
}
