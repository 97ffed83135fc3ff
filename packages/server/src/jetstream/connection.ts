import { STREAM_SETTINGS } from '@flagsmith-rt/protocol';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { BrokerUnavailableError } from '../broker/broker.js';
import type { Clock } from '../clock.js';
import type { BrokerLogger } from '../logger.js';
import {
  messageOf,
  NatsStartError,
  type ReportError,
  StreamConfigMismatchError,
} from './errors.js';
import { type JetStreamBrokerOptions, redactServerUrl, toConnectionOptions } from './options.js';
import { StartRetry } from './start-retry.js';

/** Shortest timeout of one connection attempt at start. */
const CONNECT_ATTEMPT_MIN_MS = 500;
/** Timeout of one connection attempt at start (a black-holed address waits this long). */
const CONNECT_ATTEMPT_MS = 2_000;
/**
 * Start retries back off from this delay, doubling up to {@link START_RETRY_MAX_MS}.
 * The cap keeps the instance ready within about a second of NATS becoming
 * reachable; one attempt a second per process is nothing to a NATS server.
 */
const START_RETRY_MIN_MS = 100;
/** Longest wait between two start attempts (before jitter takes up to half off). */
const START_RETRY_MAX_MS = 1_000;
/** While NATS stays unreachable at start, one log line per this interval, not one per attempt. */
const START_LOG_INTERVAL_MS = 30_000;
/** Said whenever setting up the stream fails: the usual cause. */
const JETSTREAM_HINT = 'Check that the NATS server runs with JetStream enabled.';
/** How long close() lets the connection drain before closing it hard. */
const DRAIN_TIMEOUT_MS = 2_000;

/** What the {@link Connection} tells the broker, and what it needs from it. */
export interface ConnectionHooks {
  readonly clock: Clock;
  readonly logger: BrokerLogger;
  /** A lost connection is reported as a failed `connect`. */
  readonly report: ReportError;
  /** The connection was lost (or closed for good) after {@link Connection.markStarted}. */
  readonly onLost: () => void;
  /** NATS is back after {@link Connection.markStarted}. */
  readonly onReconnect: () => void;
}

/**
 * The broker's NATS connection: connects with a capped, jittered retry that
 * also paces the stream setup ({@link Connection.retry}), logs and reports
 * what happens to the connection, and drains it on close. One per start.
 */
export class Connection {
  /** The retries of this start: connecting, then setting up the stream. */
  readonly retry: StartRetry;
  readonly #options: JetStreamBrokerOptions;
  readonly #hooks: ConnectionHooks;
  #nc: NatsConnection | undefined;
  #started = false;
  #closing = false;

  constructor(options: JetStreamBrokerOptions, hooks: ConnectionHooks) {
    this.#options = options;
    this.#hooks = hooks;
    const startTimeoutMs = options.startTimeoutMs;
    this.retry = new StartRetry({
      clock: hooks.clock,
      logger: hooks.logger,
      deadline: startTimeoutMs === undefined ? undefined : hooks.clock() + startTimeoutMs,
      minDelayMs: START_RETRY_MIN_MS,
      maxDelayMs: START_RETRY_MAX_MS,
      logIntervalMs: START_LOG_INTERVAL_MS,
    });
  }

  /**
   * Connects, retrying until it works, the start timeout passes
   * ({@link NatsStartError}) or {@link Connection.close} is called
   * ({@link BrokerUnavailableError}); then watches the connection.
   */
  async open(): Promise<NatsConnection> {
    const options = toConnectionOptions(this.#options);
    const retry = this.retry;
    for (;;) {
      try {
        // One attempt must not outlive the start deadline (a failed TLS handshake waits for the timeout).
        const remaining = retry.remainingMs() ?? Number.POSITIVE_INFINITY;
        const nc = await connect({
          ...options,
          timeout: Math.max(
            CONNECT_ATTEMPT_MIN_MS,
            Math.min(options.timeout ?? CONNECT_ATTEMPT_MS, CONNECT_ATTEMPT_MS, remaining),
          ),
        });
        retry.succeeded('Connected to NATS', { server: nc.getServer() });
        this.#nc = nc;
        this.#watch(nc);
        return nc;
      } catch (error) {
        this.#hooks.report('connect', error);
        const again = await retry.wait(error, 'NATS not reachable yet; retrying', {
          servers: this.#safeServers(),
        });
        if (again) continue;
        if (this.#closing) {
          throw new BrokerUnavailableError('The JetStream broker is closed.', { cause: error });
        }
        throw new NatsStartError(
          `Could not connect to NATS at ${this.#safeServers().join(', ')} within ${this.#options.startTimeoutMs} ms (${retry.attempts} attempts): ${messageOf(error)}`,
          { cause: error },
        );
      }
    }
  }

  /**
   * Runs the setup `attempt` until it succeeds, pacing attempts with
   * {@link Connection.retry} (a NATS cluster may be electing a leader while
   * this instance starts, or JetStream may not be enabled yet). A stream with
   * other settings fails at once. On failure the connection is closed and the
   * error is a {@link StreamConfigMismatchError}, a {@link NatsStartError}, or
   * a {@link BrokerUnavailableError} when closed meanwhile.
   */
  async setUp(attempt: () => Promise<void>): Promise<void> {
    try {
      for (;;) {
        try {
          await attempt();
          this.retry.succeeded('JetStream stream and consumer set up');
          return;
        } catch (error) {
          if (error instanceof StreamConfigMismatchError) throw error;
          if (
            !(await this.retry.wait(error, `JetStream setup failed; retrying. ${JETSTREAM_HINT}`))
          ) {
            throw this.#closing
              ? new BrokerUnavailableError('The JetStream broker is closed.')
              : error;
          }
        }
      }
    } catch (error) {
      await this.#nc?.close().catch(() => {});
      if (
        error instanceof StreamConfigMismatchError ||
        error instanceof NatsStartError ||
        error instanceof BrokerUnavailableError
      ) {
        throw error;
      }
      throw new NatsStartError(
        `Could not set up JetStream stream "${STREAM_SETTINGS.name}" within ${this.#options.startTimeoutMs} ms: ${messageOf(error)}. ${JETSTREAM_HINT}`,
        { cause: error },
      );
    }
  }

  /** From now on, losing NATS and getting it back are passed to the hooks. */
  markStarted(): void {
    this.#started = true;
  }

  /** Ends the retries (a wait in progress ends at once) and the calls to the hooks. */
  stop(): void {
    this.#closing = true;
    this.retry.stop();
  }

  /** Stops, then drains the connection, closing it hard if that takes too long. */
  async close(): Promise<void> {
    this.stop();
    const nc = this.#nc;
    if (nc === undefined || nc.isClosed()) return;
    const drained = await Promise.race([
      nc.drain().then(
        () => true,
        () => false,
      ),
      sleep(DRAIN_TIMEOUT_MS).then(() => false),
    ]);
    if (!drained) await nc.close().catch(() => {});
  }

  #watch(nc: NatsConnection): void {
    const { logger, report } = this.#hooks;
    const live = (): boolean => this.#started && !this.#closing;
    void (async () => {
      for await (const status of nc.status()) {
        switch (status.type) {
          case 'disconnect':
          case 'staleConnection':
            logger.warn({ status: status.type }, 'Lost the NATS connection; reconnecting');
            // A lost connection is a failed connect for metrics (flagsmith_sse_nats_errors_total).
            report('connect', new Error(`NATS connection lost (${status.type})`));
            if (live()) this.#hooks.onLost();
            break;
          case 'reconnect':
            logger.info({ server: status.server }, 'Reconnected to NATS');
            if (live()) this.#hooks.onReconnect();
            break;
          case 'error':
            report('connect', status.error);
            break;
          case 'close':
            // Only close() or a reconnect abort (e.g. rejected credentials) end the connection.
            if (live()) {
              logger.error({}, 'The NATS connection closed for good; restart this instance');
              report('connect', new Error('NATS connection closed'));
              this.#hooks.onLost();
            }
            break;
          default:
            break;
        }
      }
    })().catch((error) => logger.error({ err: error }, 'NATS status watcher failed'));
  }

  #safeServers(): string[] {
    return this.#options.servers.map(redactServerUrl);
  }
}

/** A timer that does not keep the process alive. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
