import cluster from 'node:cluster';
import {
  type DrainQueryMessage,
  isDrainAnswer,
  WORKER_SLOT_VARIABLE,
  type WorkerListeningMessage,
} from './cluster-messages.js';
import { parseConfig } from './config.js';
import { describeListening, listeningKind, runInstance } from './instance.js';
import { runPrimary } from './primary.js';

/**
 * The process: parse the configuration (exit 1 listing every problem), then
 * either run one instance here (`SSE_WORKERS=1`, the embedded broker), or,
 * as the cluster primary, run `SSE_WORKERS` instances as worker processes on
 * the same port. Either way the port is open at once (probes answer; streams
 * and publishes get 503 while NATS is not reached yet), one `listening` line
 * is logged once the service serves, and SIGTERM drains every stream before
 * exit 0.
 */
function main(): void {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) {
    for (const { variable, message } of parsed.errors) {
      process.stderr.write(`config error: ${variable}: ${message}\n`);
    }
    process.exit(1);
  }
  const config = parsed.value;

  if (config.workers > 1 && cluster.isWorker) {
    // A worker of the primary below: it serves and tells the primary when it listens.
    const slot = Number(process.env[WORKER_SLOT_VARIABLE]);
    void runInstance(
      config,
      (app, address) => {
        app.log.debug({ worker: slot, port: address.port }, 'worker listening');
        const message: WorkerListeningMessage = {
          type: 'flagsmith-rt:listening',
          port: address.port,
          url: address.url,
          broker: address.broker,
        };
        process.send?.(message);
      },
      askWhetherAlone,
    );
    return;
  }

  if (config.authTokenGenerated) {
    // Printed once, on stderr, never through the JSON log; workers get it from the primary.
    process.stderr.write(
      `SSE_AUTHENTICATION_TOKEN is not set; publishers must send this generated token:\n` +
        `  Authorization: Token ${config.authToken}\n`,
    );
  }
  if (config.workers > 1) {
    runPrimary(config);
    return;
  }
  void runInstance(config, (app, address) => {
    if (config.workersSource === 'embedded-broker') {
      app.log.info(
        'One process: the embedded broker cannot be shared, so SSE_WORKERS defaults to 1 without NATS_URL.',
      );
    }
    app.log.info(
      { ...address, listening: listeningKind(config), mode: describeListening(config) },
      'listening',
    );
  });
}

/** Longest wait for the primary's answer; without one the worker drains as part of the whole. */
const DRAIN_ANSWER_TIMEOUT_MS = 500;

/** Asks the primary whether this worker stops alone (the others keep serving the port). */
function askWhetherAlone(): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (alone: boolean) => {
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve(alone);
    };
    const onMessage = (message: unknown) => {
      if (isDrainAnswer(message)) done(message.alone);
    };
    const timer = setTimeout(() => done(false), DRAIN_ANSWER_TIMEOUT_MS);
    process.on('message', onMessage);
    const query: DrainQueryMessage = { type: 'flagsmith-rt:drain-query' };
    if (process.send === undefined || !process.connected) done(false);
    else process.send(query, undefined, undefined, (error) => error && done(false));
  });
}

main();
