import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { AppConfig } from './config.js';

/** Pending connections the kernel may queue before accepting (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

/** Where a started instance listens, as announced in the `listening` line. */
export interface ListeningAddress {
  /** `http://` or `https://` (with `TLS_CERT`) URL clients can use; `0.0.0.0` shown as 127.0.0.1. */
  url: string;
  /** The `HOST` listened on. */
  host: string;
  /** The port listened on (the chosen one when `PORT=0`). */
  port: number;
  /** `jetstream` or `embedded`. */
  broker: string;
}

/** The URL of the service listening on `port`, for the `listening` line. */
export function listeningUrl(config: AppConfig, port: number): string {
  const urlHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  const scheme = config.tls === undefined ? 'http' : 'https';
  return `${scheme}://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${port}`;
}

/**
 * Runs one full instance in this process: builds the app, listens at once,
 * then calls `announce` once the broker is ready (with JetStream, once NATS
 * was reached: until then probes answer and streams and publishes get 503).
 * On SIGTERM or SIGINT: readiness turns 503, streams end spread over the
 * drain window, the server stops, the broker drains and closes, exit 0 (1 if
 * the shutdown failed). A configuration error found at start (port taken,
 * stream settings that differ) exits 1.
 */
export async function runInstance(
  config: AppConfig,
  announce: (app: FastifyInstance, address: ListeningAddress) => void,
): Promise<void> {
  const app = buildApp(config);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal, drainWindowMs: config.drainWindowMs }, 'shutting down');
    app.close().then(
      () => {
        app.log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  try {
    // Node's default backlog (511) overflows in a reconnect storm: clients then
    // wait on SYN retry timers. The kernel caps it at net.core.somaxconn.
    await app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  } catch (error) {
    app.log.fatal({ err: error }, 'could not start');
    await app.close().catch(() => {});
    process.exit(1);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const url = listeningUrl(config, port);
  const broker = app.realtimeBroker;
  if (broker.state !== 'ready') {
    app.log.info(
      { url, broker: broker.kind },
      'accepting connections; /readyz and streams answer 503 until NATS is reached',
    );
  }
  try {
    // Resolves once NATS is reached and the stream is set up, however long that takes.
    await broker.start();
  } catch (error) {
    if (stopping) return;
    // Only a configuration error gets here (stream settings that differ from the configured ones).
    app.log.fatal({ err: error }, 'could not start');
    await app.close().catch(() => {});
    process.exit(1);
  }
  if (stopping) return;
  announce(app, { url, host: config.host, port, broker: broker.kind });
}
