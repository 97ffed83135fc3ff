import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';

/** `GET /metricsz`: the registry in the Prometheus text format. */
export function metricsHandler(register: Registry) {
  return async (_request: FastifyRequest, reply: FastifyReply): Promise<string> => {
    reply.type(register.contentType);
    return register.metrics();
  };
}
