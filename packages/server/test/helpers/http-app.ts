import Fastify, { type FastifyInstance } from 'fastify';
import type { Broker, BrokerState } from '../../src/broker/broker.js';
import { EmbeddedBroker } from '../../src/broker/embedded.js';
import { frameworkErrorHandler } from '../../src/http/error-handler.js';
import { ROUTER_OPTIONS } from '../../src/http/server-options.js';
import type { FlagsmithRealtimeOptions } from '../../src/options.js';
import { flagsmithRealtime } from '../../src/plugin.js';

/** The publish token every HTTP test uses. */
export const TOKEN = 'test-token-0123456789';
/** The header that carries it. */
export const AUTH = `Token ${TOKEN}`;

/** A Fastify app with the plugin on a started broker (EmbeddedBroker unless given). */
export async function buildTestApp(
  options: Partial<FlagsmithRealtimeOptions> = {},
): Promise<{ app: FastifyInstance; broker: Broker }> {
  const broker = options.broker ?? new EmbeddedBroker();
  await broker.start();
  const app = Fastify({
    logger: false,
    routerOptions: { ...ROUTER_OPTIONS },
    frameworkErrors: frameworkErrorHandler,
    return503OnClosing: false,
  });
  await app.register(flagsmithRealtime, { authToken: TOKEN, drainWindowMs: 0, ...options, broker });
  app.addHook('onClose', async () => broker.close());
  await app.ready();
  return { app, broker };
}

/** Listens on a random port of 127.0.0.1 and returns the port. */
export async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * An EmbeddedBroker whose reported state a test can force, to drive readiness
 * and 503s (the JetStream adapter's real transitions are tested against a
 * real nats-server in apps/sse).
 */
export class SwitchableBroker extends EmbeddedBroker {
  private forced: BrokerState | undefined;

  /** Reports `state` instead of the real one; `undefined` restores it. */
  force(state: BrokerState | undefined): void {
    this.forced = state;
  }

  override get state(): BrokerState {
    return this.forced ?? super.state;
  }
}
