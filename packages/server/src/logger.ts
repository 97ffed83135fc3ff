/**
 * The logging surface the brokers use. A Fastify/pino logger fits it as is;
 * messages never contain credentials.
 */
export interface BrokerLogger {
  /** Detail useful when debugging. */
  debug(fields: object, message?: string): void;
  /** Normal lifecycle events (connected, stream created). */
  info(fields: object, message?: string): void;
  /** Something degraded but handled (disconnected, a bad message skipped). */
  warn(fields: object, message?: string): void;
  /** A failure that needs attention. */
  error(fields: object, message?: string): void;
}

const ignore = (): void => {};

/** A logger that drops everything: the default when none is given. */
export const silentLogger: BrokerLogger = Object.freeze({
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
});
