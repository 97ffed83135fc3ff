import type { StreamStorage } from '@flagsmith-rt/protocol';
import {
  type Authenticator,
  type ConnectionOptions,
  credsAuthenticator,
  nkeyAuthenticator,
} from '@nats-io/nats-core';
import type { Clock } from '../clock.js';
import type { BrokerLogger } from '../logger.js';

/** What a {@link JetStreamBrokerOptions.onError} report is about. */
export type NatsOperation =
  | 'connect'
  | 'publish'
  | 'create_jetstream'
  | 'create_consumer'
  | 'pull'
  | 'read'
  | 'ack';

/** How the broker authenticates to NATS. At most one of these is used. */
export type NatsCredentials =
  | { readonly user: string; readonly pass: string }
  | { readonly token: string }
  /** An NKey seed (`SU...`). */
  | { readonly nkeySeed: string }
  /** The contents of a `.creds` file (JWT + seed). */
  | { readonly creds: string };

/** TLS files, as paths read by the NATS client. */
export interface NatsTlsOptions {
  /** CA certificate(s) to trust. */
  readonly caFile?: string;
  /** Client certificate for mutual TLS. */
  readonly certFile?: string;
  /** Client private key for mutual TLS. */
  readonly keyFile?: string;
}

/** Options of the JetStream broker. */
export interface JetStreamBrokerOptions {
  /** NATS server URLs, e.g. `['nats://nats-1:4222', 'nats://nats-2:4222']`. */
  servers: string[];
  /**
   * Credentials, if the servers require them.
   * @defaultValue none
   */
  credentials?: NatsCredentials;
  /**
   * TLS files; setting this requires TLS.
   * @defaultValue plain TCP unless the server requires TLS
   */
  tls?: NatsTlsOptions;
  /**
   * Connection name shown in the NATS server's monitoring.
   * @defaultValue `'flagsmith-rt'`
   */
  name?: string;
  /**
   * Replica count of the stream (1 for one node, 3 for a cluster).
   * @defaultValue `STREAM_SETTINGS.replicas` (1)
   */
  replicas?: number;
  /**
   * Storage of the stream.
   * @defaultValue `STREAM_SETTINGS.storage` (`'file'`)
   */
  storage?: StreamStorage;
  /**
   * How long {@link JetStreamBroker.start} keeps trying to reach NATS and set
   * up the stream before it rejects with `NatsStartError`.
   * @defaultValue `undefined`: retry until NATS is reachable, however long
   */
  startTimeoutMs?: number;
  /**
   * How long a publish waits for the JetStream acknowledgement; keep it below
   * the publisher's own 2 s timeout so it gets a 503 rather than a timeout.
   * @defaultValue 1500
   */
  publishTimeoutMs?: number;
  /**
   * Interval of the client's pings; a dead connection is noticed after
   * `pingIntervalMs * maxPingOut` at worst (a killed server is noticed at once).
   * @defaultValue 2000
   */
  pingIntervalMs?: number;
  /**
   * Unanswered pings before the connection is considered stale.
   * @defaultValue 2
   */
  maxPingOut?: number;
  /**
   * Wait between reconnect attempts (plus up to 100 ms jitter).
   * @defaultValue 500
   */
  reconnectTimeWaitMs?: number;
  /**
   * Where lifecycle messages go.
   * @defaultValue a logger that drops everything
   */
  logger?: BrokerLogger;
  /**
   * Called for every failed NATS operation (for metrics). Must not throw.
   * @defaultValue none
   */
  onError?: (operation: NatsOperation, error: unknown) => void;
  /**
   * The broker's one clock, epoch milliseconds: the 1-hour memory of the
   * latest timestamp, the consumer watchdog, the start and backlog deadlines,
   * the start retries' log interval and the acknowledgement timeouts are all
   * measured on it (tests inject one; the timers themselves stay real).
   * @defaultValue `systemClock` (`Date.now`)
   */
  now?: Clock;
}

const encoder = new TextEncoder();

/**
 * Builds the NATS client options: reconnect forever, no async stack traces
 * (they cost ~17 % CPU per request), short pings so a dead server is noticed
 * quickly. Each call makes one attempt; {@link JetStreamBroker.start} retries.
 */
export function toConnectionOptions(options: JetStreamBrokerOptions): ConnectionOptions {
  const connection: ConnectionOptions = {
    servers: options.servers,
    name: options.name ?? 'flagsmith-rt',
    noAsyncTraces: true,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 500,
    reconnectJitter: 100,
    pingInterval: options.pingIntervalMs ?? 2_000,
    maxPingOut: options.maxPingOut ?? 2,
    timeout: 5_000,
  };
  const credentials = options.credentials;
  if (credentials !== undefined) {
    if ('user' in credentials) {
      connection.user = credentials.user;
      connection.pass = credentials.pass;
    } else if ('token' in credentials) {
      connection.token = credentials.token;
    } else {
      connection.authenticator = authenticatorFor(credentials);
    }
  }
  if (options.tls !== undefined) {
    connection.tls = { ...options.tls };
  }
  return connection;
}

function authenticatorFor(credentials: { nkeySeed: string } | { creds: string }): Authenticator {
  return 'nkeySeed' in credentials
    ? nkeyAuthenticator(encoder.encode(credentials.nkeySeed))
    : credsAuthenticator(encoder.encode(credentials.creds));
}

/**
 * A server URL safe for logs and error messages: credentials written into
 * the URL (`nats://user:pass@host`) are replaced with `***`.
 */
export function redactServerUrl(url: string): string {
  return url.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)?[^/@\s]*@/i,
    (_match, scheme = '') => `${scheme}***@`,
  );
}
