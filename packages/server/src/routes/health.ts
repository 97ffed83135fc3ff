import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Broker, brokerUnavailableMessage } from '../broker/broker.js';
import { HttpError, refusalHeaders } from '../errors.js';
import type { Hub } from '../fanout/hub.js';
import type { Stats } from '../fanout/stats.js';

/** `GET /livez`: 200 while the process serves requests. */
export function livezHandler() {
  return (_request: FastifyRequest, _reply: FastifyReply) => ({ status: 'ok' });
}

/**
 * `GET /readyz`: 200 only while the broker is `ready` and the instance is not
 * shutting down (the hub is draining). Reads local state only, never a broker
 * round trip.
 */
export function readyzHandler(hub: Hub, broker: Broker, retryAfterSeconds: number) {
  const headers = refusalHeaders(retryAfterSeconds);
  return (_request: FastifyRequest, _reply: FastifyReply) => {
    if (hub.closing) {
      throw new HttpError(503, 'shutting_down', 'This instance is shutting down.', headers);
    }
    const state = broker.state;
    if (state !== 'ready') {
      throw new HttpError(
        503,
        'not_ready',
        `The message broker is ${state}: ${brokerUnavailableMessage(state)}`,
        headers,
      );
    }
    return { status: 'ready', broker: broker.kind };
  };
}

/**
 * `onRequest` hook of the probe routes: counts each response as a
 * `healthcheck` write once it was sent in full, or as a `healthcheck` write
 * error when its connection closed first.
 */
export function countHealthcheck(stats: Stats) {
  return async (_request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const response = reply.raw;
    response.once('close', () => stats.healthcheckClosed(response.writableFinished));
  };
}
