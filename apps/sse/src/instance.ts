import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { AppConfig } from './config.js';
import type { ServesStreamsDirectly } from './http-server.js';
import { streamFastPath } from './stream-fast-path.js';

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

/** How the port is served: one process, workers behind the primary's socket, or reusePort. */
export type ListeningKind = 'process' | 'primary' | 'reusePort';

/** The listening mode of `config`, for the `listening` line. */
export function listeningKind(config: AppConfig): ListeningKind {
  if (config.workers === 1) return 'process';
  return config.reusePort ? 'reusePort' : 'primary';
}

/**
 * The `listening` line's `mode`: how connections are accepted and which protocols the port
 * speaks, with the reason when it is not the best this runtime has, e.g.
 * `4 workers, reusePort; h2c off: Node 20, H2C=on to enable`.
 */
export function describeListening(config: AppConfig, nodeVersion = process.versions.node): string {
  const node = `Node ${nodeVersion.split('.')[0]}`;
  let accept: string;
  if (config.workers === 1) {
    accept = '1 process';
  } else if (config.reusePort) {
    accept = `${config.workers} workers, reusePort`;
  } else {
    const why =
      config.reusePortMode === 'off'
        ? 'SSE_REUSE_PORT=off'
        : `${node} has no listen({ reusePort }), 22.12+ has`;
    accept = `${config.workers} workers, the primary accepts and hands each socket over (${why})`;
  }
  let protocols: string;
  if (config.tls !== undefined) {
    protocols = 'TLS: h2 and http/1.1 by ALPN';
  } else if (config.h2cSource === 'configured') {
    protocols = config.h2c ? 'h2c on (H2C=on)' : 'h2c off (H2C=off)';
  } else {
    protocols = config.h2c ? `h2c on (${node})` : `h2c off: ${node}, H2C=on to enable`;
  }
  return `${accept}; ${protocols}`;
}

/** The URL of the service listening on `port`, for the `listening` line. */
export function listeningUrl(config: AppConfig, port: number): string {
  const urlHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  const scheme = config.tls === undefined ? 'http' : 'https';
  return `${scheme}://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${port}`;
}

/**
 * With reusePort, a worker binds a socket of its own (`exclusive`: not the primary's) with
 * `SO_REUSEPORT`, so the kernel hands each new connection to one of the workers' sockets.
 * A worker that stops or dies closes its socket, and the kernel stops choosing it.
 */
function reusePortOptions(config: AppConfig): { reusePort?: true; exclusive?: true } {
  // Node 20's types do not know the option; older runtimes would ignore it (config turns it off).
  return config.reusePort ? { reusePort: true, exclusive: true } : {};
}

/**
 * Runs one full instance in this process: builds the app, listens at once,
 * then calls `announce` once the broker is ready (with JetStream, once NATS
 * was reached: until then probes answer and streams and publishes get 503).
 * On SIGTERM or SIGINT: readiness turns 503, streams end spread over the
 * drain window, the server stops, the broker drains and closes, exit 0 (1 if
 * the shutdown failed). When `stoppingAlone` resolves `true` (a cluster worker
 * stopped while the others go on), the port's socket is closed first. A configuration error found at start (port taken,
 * stream settings that differ) exits 1.
 */
export async function runInstance(
  config: AppConfig,
  announce: (app: FastifyInstance, address: ListeningAddress) => void,
  stoppingAlone: () => Promise<boolean> = async () => false,
): Promise<void> {
  const app = buildApp(config);
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal, drainWindowMs: config.drainWindowMs }, 'shutting down');
    if (await stoppingAlone()) {
      // Other workers serve the port: stop taking connections now rather than refusing them
      // with 503 through the drain window (reusePort: the kernel stops choosing this
      // socket; otherwise the primary stops handing connections to this worker). Fastify's
      // own close of the server later finds it closed, which it accepts.
      app.server.close();
      app.log.info('the other workers serve the port; stopped listening, draining');
    }
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
  process.once('SIGTERM', (signal) => void stop(signal));
  process.once('SIGINT', (signal) => void stop(signal));

  try {
    // Node's default backlog (511) overflows in a reconnect storm: clients then
    // wait on SYN retry timers. The kernel caps it at net.core.somaxconn.
    await app.listen({
      port: config.port,
      host: config.host,
      backlog: LISTEN_BACKLOG,
      ...reusePortOptions(config),
    });
  } catch (error) {
    app.log.fatal({ err: error }, 'could not start');
    await app.close().catch(() => {});
    process.exit(1);
  }
  // Plain HTTP/1.1 stream requests on the cleartext port skip node:http and Fastify.
  (app.server as Partial<ServesStreamsDirectly>).serveStreamsDirectly?.(
    streamFastPath({
      hub: app.realtimeHub,
      broker: app.realtimeBroker,
      maxSubscribers: config.maxSubscribers,
      maxHeaderBytes: config.limits.maxHeaderBytes,
    }),
  );
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
