/** Route of the SSE subscription endpoint (Fastify path syntax). */
export const STREAM_ROUTE = '/sse/environments/:environment/stream';
/** Route of the publish endpoint (Fastify path syntax). */
export const QUEUE_CHANGE_ROUTE = '/sse/environments/:environment/queue-change';
/** Liveness probe: 200 while the process accepts connections. */
export const LIVEZ_PATH = '/livez';
/** Readiness probe: 200 only while the broker is usable. */
export const READYZ_PATH = '/readyz';
/** Prometheus exposition endpoint. */
export const METRICSZ_PATH = '/metricsz';

/** Name of the only SSE event the service sends. */
export const UPDATE_EVENT = 'environment_updated';
/** JSON field that carries the timestamp, in publish bodies and event data. */
export const UPDATED_AT_FIELD = 'updated_at';

/**
 * A stream that has not been written to for this long gets a keep-alive comment.
 * @defaultValue 15000
 */
export const KEEPALIVE_INTERVAL_MS = 15_000;

/** Largest accepted `queue-change` body, in bytes. */
export const MAX_PUBLISH_BODY_BYTES = 1024;

/** Scheme of the `Authorization` header on `queue-change`: `Token <secret>`. */
export const AUTH_SCHEME = 'Token';

/** Environment keys: allowed characters, as a character class body. */
export const ENVIRONMENT_KEY_ALPHABET = 'A-Z a-z 0-9 _ -';
/** Longest accepted environment key. */
export const ENVIRONMENT_KEY_MAX_LENGTH = 128;

/** Prefix of every environment's NATS subject. */
export const SUBJECT_PREFIX = 'flagsmith.environment.';
/** Subject filter that covers every environment. */
export const ALL_ENVIRONMENTS_SUBJECT = `${SUBJECT_PREFIX}>`;

/**
 * Header that makes JetStream drop a repeated write of the same update within
 * the stream's duplicate window. Its value is {@link messageIdFor}.
 */
export const MSG_ID_HEADER = 'Nats-Msg-Id';
/**
 * Header that makes JetStream refuse a write unless the subject's last message
 * still has this stream sequence (`0`: the subject holds no message). Writers
 * use it for compare-and-set, so a concurrent newer write is never replaced.
 */
export const EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER = 'Nats-Expected-Last-Subject-Sequence';

/** How long the latest timestamp of an environment is remembered (by receive time). */
export const LATEST_TTL_MS = 60 * 60 * 1000;

/** Storage backends a JetStream stream may use. */
export type StreamStorage = 'file' | 'memory';

/** The JetStream stream that carries and remembers updates. */
export interface StreamSettings {
  /** Stream name. */
  readonly name: string;
  /** Subjects the stream captures. */
  readonly subjects: readonly string[];
  /** Messages kept per subject: only the latest timestamp matters. */
  readonly maxMsgsPerSubject: number;
  /** Messages older than this are removed, in milliseconds. */
  readonly maxAgeMs: number;
  /** Window in which a repeated `Nats-Msg-Id` is dropped, in milliseconds. */
  readonly duplicateWindowMs: number;
  /** What the stream discards at its limits. */
  readonly discard: 'old';
  /** Default storage (memory is allowed by configuration). */
  readonly storage: StreamStorage;
  /** Default replica count (1 for one node, 3 for a cluster). */
  readonly replicas: number;
}

/** The stream settings from the protocol; storage and replicas are configurable defaults. */
export const STREAM_SETTINGS: StreamSettings = Object.freeze({
  name: 'environments-stream',
  subjects: Object.freeze([ALL_ENVIRONMENTS_SUBJECT]),
  maxMsgsPerSubject: 1,
  maxAgeMs: LATEST_TTL_MS,
  duplicateWindowMs: 2 * 60 * 1000,
  discard: 'old',
  storage: 'file',
  replicas: 1,
});
