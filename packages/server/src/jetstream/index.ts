/**
 * `@flagsmith-rt/server/jetstream`: publish updates straight to NATS
 * JetStream, without HTTP and without Fastify. The service's `queue-change`
 * route writes through the same code.
 * @packageDocumentation
 */
export type { PublishOutcome } from '../broker/broker.js';
export { InvalidUpdateError, type PublishUpdateOptions, publishUpdate } from './publish-update.js';
export {
  DEFAULT_MAX_WRITE_ATTEMPTS,
  type KnownUpdate,
  PublishConflictError,
  type StoredUpdate,
  type UpdateChannel,
  type WriteAck,
  type WriteHeaders,
  type WriteResult,
  type WriteUpdateOptions,
  writeUpdate,
} from './writer.js';
