import {
  LIVEZ_PATH,
  MAX_PUBLISH_BODY_BYTES,
  METRICSZ_PATH,
  QUEUE_CHANGE_ROUTE,
  READYZ_PATH,
  STREAM_ROUTE,
} from '@flagsmith-rt/protocol';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import type { Broker } from './broker/broker.js';
import { HttpError, PluginOptionsError, unauthorized } from './errors.js';
import { Hub } from './fanout/hub.js';
import { Stats } from './fanout/stats.js';
import { TokenVerifier } from './http/auth.js';
import { CORS_RESPONSE_HEADERS, PREFLIGHT_HEADERS } from './http/cors.js';
import { errorHandlerFor, notFoundError, sendError } from './http/error-handler.js';
import { RefusalHolds } from './http/refusal-hold.js';
import { createMetricsRegistry } from './metrics/registry.js';
import { type FlagsmithRealtimeOptions, resolveOptions } from './options.js';
import { countHealthcheck, livezHandler, readyzHandler } from './routes/health.js';
import { metricsHandler } from './routes/metrics.js';
import { countRefusedPublish, publishHandler, requireToken } from './routes/publish.js';
import { type EnvironmentParams, type StreamQuery, streamHandler } from './routes/stream.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The fan-out of the flagsmith-rt plugin: open streams, the drain, its counters. */
    realtimeHub: Hub;
    /** The broker the plugin was given (the app starts and closes it). */
    realtimeBroker: Broker;
    /** The Prometheus registry of this plugin; `undefined` when `metrics: false`. */
    realtimeMetrics: Registry | undefined;
  }
}

const plugin: FastifyPluginAsync<FlagsmithRealtimeOptions> = async (fastify, rawOptions) => {
  const options = resolveOptions(rawOptions);
  checkRouterOptions(fastify);
  const { broker, clock } = options;
  const stats = new Stats();
  const hub = new Hub({
    broker,
    stats,
    clock,
    retryMs: options.retryMs,
    eventIds: options.eventIds,
    keepAliveIntervalMs: options.keepAliveIntervalMs,
    slowSubscriberTimeoutMs: options.slowSubscriberTimeoutMs,
    maxStreamAgeMs: options.maxStreamAgeMs,
    streamAgeJitter: options.streamAgeJitter,
  });
  const verifier = new TokenVerifier(options.authToken);
  const holds = new RefusalHolds(options.refusalHoldMs, options.refusalHoldMax);
  const metrics = options.metrics ? createMetricsRegistry(hub, broker) : undefined;
  fastify.decorate('realtimeHub', hub);
  fastify.decorate('realtimeBroker', broker);
  fastify.decorate('realtimeMetrics', metrics);

  fastify.setErrorHandler(errorHandlerFor(options.retryAfterSeconds));
  fastify.setNotFoundHandler((request, reply) => {
    const error = notFoundError(request.method, request.url);
    // queue-change checks the token before anything else, here too.
    const unauthenticated =
      error.statusCode === 400 &&
      request.method === 'POST' &&
      !verifier.verify(request.headers.authorization);
    return sendError(reply, unauthenticated ? unauthorized() : error);
  });
  // Every refused publish is counted here, those the router could not match included.
  fastify.addHook('onResponse', countRefusedPublish(stats));
  // Callback-style hooks: an async hook costs a promise on every request.
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers(CORS_RESPONSE_HEADERS);
    // [spec] RFC 9112 §3.2: a server must answer 400 to an HTTP/1.1 request without Host.
    // Node's own check (requireHostHeader, turned off) would send a bare 400.
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      // Closed after the answer, as Node does: a client this broken may send anything next.
      reply.raw.shouldKeepAlive = false;
      sendError(reply, new HttpError(400, 'bad_request', 'The request has no Host header.'));
      return;
    }
    done();
  });

  // No HEAD twin: the handler takes over the socket and writes a body.
  fastify.get<{ Params: EnvironmentParams; Querystring: StreamQuery }>(
    STREAM_ROUTE,
    { exposeHeadRoute: false },
    streamHandler(hub, {
      broker,
      stats,
      holds,
      maxSubscribers: options.maxSubscribers,
      retryAfterSeconds: options.retryAfterSeconds,
    }),
  );
  fastify.register((child, _opts, childDone) => {
    // Read every body raw, whatever its content type (or none): the handler parses it.
    child.removeAllContentTypeParsers();
    child.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, parsed) =>
      parsed(null, body),
    );
    child.post<{ Params: EnvironmentParams; Body: Buffer | undefined }>(
      QUEUE_CHANGE_ROUTE,
      { bodyLimit: MAX_PUBLISH_BODY_BYTES, onRequest: requireToken(verifier) },
      publishHandler(broker, stats, options.retryAfterSeconds),
    );
    childDone();
  });
  const probe = { onRequest: countHealthcheck(stats) };
  fastify.get(LIVEZ_PATH, probe, livezHandler());
  fastify.get(READYZ_PATH, probe, readyzHandler(hub, broker, options.retryAfterSeconds));
  if (metrics && options.metrics !== 'registry')
    fastify.get(METRICSZ_PATH, metricsHandler(metrics));
  fastify.options('*', (_request, reply) => {
    reply.code(204).headers(PREFLIGHT_HEADERS).send();
  });

  // Failed broker operations are counted in flagsmith_sse_nats_errors_total.
  const stopCountingErrors = broker.onError?.(stats.brokerError);
  fastify.addHook('onReady', async () => hub.start());
  // preClose runs before Fastify closes the server, which waits for every
  // connection: readiness turns 503 at once, then streams end over the window.
  fastify.addHook('preClose', async () => {
    await hub.drain(options.drainWindowMs);
    holds.releaseAll(); // refusals are held during the drain, not through the close
  });
  fastify.addHook('onClose', async () => {
    hub.stop();
    stopCountingErrors?.();
  });
};

/**
 * Router options the routes depend on: keys up to 128 characters must reach
 * the handler (`maxParamLength`), and `//sse/...` must route like `/sse/...`
 * (`ignoreDuplicateSlashes`).
 */
function checkRouterOptions(fastify: FastifyInstance): void {
  const config = fastify.initialConfig as {
    routerOptions?: { maxParamLength?: number; ignoreDuplicateSlashes?: boolean };
    maxParamLength?: number;
    ignoreDuplicateSlashes?: boolean;
  };
  const maxParamLength = config.routerOptions?.maxParamLength ?? config.maxParamLength ?? 100;
  const ignoreDuplicateSlashes =
    config.routerOptions?.ignoreDuplicateSlashes ?? config.ignoreDuplicateSlashes ?? false;
  if (maxParamLength < 128 || !ignoreDuplicateSlashes) {
    throw new PluginOptionsError(
      'flagsmithRealtime needs Fastify({ routerOptions: { maxParamLength: 1024, ignoreDuplicateSlashes: true } }) ' +
        `(got maxParamLength ${maxParamLength}, ignoreDuplicateSlashes ${ignoreDuplicateSlashes}); spread fastifyOptions() into Fastify({...}).`,
    );
  }
}

/**
 * The Fastify plugin serving Flagsmith real-time streams: the SSE stream,
 * `queue-change`, `/livez`, `/readyz`, `/metricsz`, CORS and one JSON error
 * shape. Create the Fastify instance with `...fastifyOptions()` (router
 * options, pre-routing errors, shutdown answers, request limits).
 */
export const flagsmithRealtime = fp(plugin, { fastify: '5.x', name: '@flagsmith-rt/server' });
