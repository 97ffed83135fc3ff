import { buildApp } from './app.js';
import { parseConfig } from './config.js';

/**
 * The process: parse the configuration (exit 1 listing every problem), build
 * the app, start the broker, listen, log one `listening` line. On SIGTERM or
 * SIGINT: readiness turns 503, streams end spread over the drain window,
 * the server stops, the broker drains and closes, exit 0.
 */
async function main(): Promise<void> {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) {
    for (const { variable, message } of parsed.errors) {
      process.stderr.write(`config error: ${variable}: ${message}\n`);
    }
    process.exit(1);
  }
  const config = parsed.value;
  if (config.authTokenGenerated) {
    // Printed once, on stderr, never through the JSON log.
    process.stderr.write(
      `SSE_AUTHENTICATION_TOKEN is not set; publishers must send this generated token:\n` +
        `  Authorization: Token ${config.authToken}\n`,
    );
  }

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
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    app.log.fatal({ err: error }, 'could not start');
    await app.close().catch(() => {});
    process.exit(1);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const urlHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  app.log.info(
    {
      url: `http://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${port}`,
      host: config.host,
      port,
      broker: app.realtimeHub.broker.kind,
    },
    'listening',
  );
}

void main();
