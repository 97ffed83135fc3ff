import cluster from 'node:cluster';
import {
  type Broker,
  EmbeddedBroker,
  fastifyOptions,
  flagsmithRealtime,
  JetStreamBroker,
} from '@flagsmith-rt/server';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { AppConfig } from './config.js';
import { serverFactoryFor } from './http-server.js';
import { clusterMetrics } from './worker-metrics.js';

/** Options of {@link buildApp} that are not configuration (tests and embedding). */
export interface BuildAppOptions {
  /**
   * Fastify logger settings; redaction of credentials is always added.
   * @defaultValue JSON logs to stdout at `config.logLevel`
   */
  logger?: FastifyServerOptions['logger'];
}

/** Paths never written to logs, whatever the serializer logs. */
const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization'];

/**
 * Builds the service: a Fastify instance with the flagsmith-rt plugin and the
 * broker the configuration chooses (JetStream when `NATS_URL` is set, else
 * the embedded broker). Does not listen. `ready()` starts the broker (the
 * JetStream one in the background: await `app.realtimeBroker.start()`
 * for it to be ready) and `close()` drains streams, then closes the broker.
 */
export function buildApp(config: AppConfig, options: BuildAppOptions = {}): FastifyInstance {
  const app = Fastify({
    logger:
      options.logger === undefined
        ? { level: config.logLevel, redact: REDACT }
        : withRedaction(options.logger),
    // One line per request would be 19,000 lines per reconnect wave of a
    // full instance; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // What the plugin needs: its router options, pre-routing errors and shutdown answers
    // in its JSON shape, and the request head, body and time limits (431, 400, 408).
    ...fastifyOptions(config.limits),
    // HTTP/1.1 and HTTP/2 on one port: ALPN with TLS_CERT/TLS_KEY, else h2c by prior knowledge.
    serverFactory: serverFactoryFor({
      tls: config.tls,
      h2c: config.h2c,
      keepAliveIntervalMs: config.keepAliveIntervalMs,
    }) as unknown as FastifyServerOptions['serverFactory'],
  });
  const broker = createBroker(config, app);
  // A cluster worker serves /metricsz for the whole instance (all workers), not for itself.
  const workerMetrics = config.metricsEnabled && config.workers > 1 && cluster.isWorker;
  app.register(flagsmithRealtime, {
    broker,
    authToken: config.authToken,
    keepAliveIntervalMs: config.keepAliveIntervalMs,
    slowSubscriberTimeoutMs: config.slowSubscriberTimeoutMs,
    drainWindowMs: config.drainWindowMs,
    maxStreamAgeMs: config.maxStreamAgeMs,
    refusalHoldMs: config.refusalHoldMs,
    refusalHoldMax: config.refusalHoldMax,
    // A worker builds its registry; clusterMetrics serves it with the other workers'.
    metrics: workerMetrics ? 'registry' : config.metricsEnabled,
    ...(config.maxSubscribers === undefined ? {} : { maxSubscribers: config.maxSubscribers }),
  });
  if (workerMetrics) app.register(clusterMetrics);
  app.addHook('onReady', async () => {
    const started = broker.start();
    started.then(
      () => app.log.info({ broker: broker.kind }, 'broker ready'),
      // runInstance awaits the same promise and exits on a configuration error.
      () => {},
    );
    // JetStream is not awaited: the service listens (probes, 503 refusals) while
    // NATS is not reachable yet, and the broker keeps retrying in the background.
    if (broker.kind === 'embedded') await started;
  });
  app.addHook('onClose', async () => {
    await broker.close();
  });
  return app;
}

function createBroker(config: AppConfig, app: FastifyInstance): Broker {
  const logger = app.log.child({ component: 'broker' });
  if (config.nats === undefined) return new EmbeddedBroker({ logger });
  return new JetStreamBroker({
    servers: config.nats.servers,
    ...(config.nats.credentials === undefined ? {} : { credentials: config.nats.credentials }),
    ...(config.nats.tls === undefined ? {} : { tls: config.nats.tls }),
    replicas: config.nats.replicas,
    storage: config.nats.storage,
    logger,
  });
}

function withRedaction(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === false || logger === undefined) return false;
  if (logger === true) return { redact: REDACT };
  return { ...logger, redact: REDACT };
}
