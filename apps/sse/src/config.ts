import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createSecureContext } from 'node:tls';
import { STREAM_SETTINGS, type StreamStorage } from '@flagsmith-rt/protocol';
import {
  DEFAULT_HTTP_LIMITS,
  DEFAULT_REFUSAL_HOLD_MAX,
  DEFAULT_REFUSAL_HOLD_MS,
  type HttpLimits,
  type NatsCredentials,
  type NatsTlsOptions,
} from '@flagsmith-rt/server';

/** Log levels pino accepts. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

/** How the service reaches NATS JetStream. */
export interface NatsConfig {
  /** `NATS_URL`, split on commas. */
  servers: string[];
  /** From `NATS_USER`/`NATS_PASSWORD`, `NATS_TOKEN`, `NATS_CREDS_FILE` or `NATS_NKEY_SEED_FILE`. */
  credentials?: NatsCredentials;
  /** From `NATS_TLS_CA`, `NATS_TLS_CERT`, `NATS_TLS_KEY`. */
  tls?: NatsTlsOptions;
  /** `STREAM_REPLICAS`. */
  replicas: number;
  /** `STREAM_STORAGE`. */
  storage: StreamStorage;
}

/** HTTPS of the service itself (`TLS_CERT`, `TLS_KEY`): PEM text read at start. */
export interface ServerTlsConfig {
  /** Certificate chain, PEM. */
  cert: string;
  /** Private key, PEM. */
  key: string;
}

/** Why {@link AppConfig.h2c} has its value: `H2C` set, or the runtime's default. */
export type H2cSource = 'configured' | 'runtime';

/**
 * The first Node.js major whose `http2` survives the client GOAWAY + HEADERS sequence that
 * aborts Node 20 (`malloc(): mismatching next->prev_size`); h2c is on by default from it.
 */
export const H2C_SAFE_NODE_MAJOR = 24;

/** The major version of the running Node.js. */
export function runtimeNodeMajor(): number {
  return Number(process.versions.node.split('.')[0]);
}

/** `SSE_REUSE_PORT`: how the workers of `SSE_WORKERS > 1` listen. */
export type ReusePortMode = 'auto' | 'on' | 'off';

/** Platforms where Node's `listen({ reusePort })` sets `SO_REUSEPORT` with kernel load balancing. */
const REUSE_PORT_PLATFORMS: readonly string[] = ['linux', 'freebsd', 'sunos', 'aix'];

/**
 * Whether this runtime can give each worker its own listening socket on the shared port:
 * `net.Server.listen({ reusePort })` exists from Node.js 22.12 and 23.1 (older ones ignore the
 * option, so every worker would share the primary's socket), on the platforms above.
 */
export function runtimeHasReusePort(
  version: string = process.versions.node,
  platform: string = process.platform,
): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const supported = major >= 24 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
  return supported && REUSE_PORT_PLATFORMS.includes(platform);
}

/** Why {@link AppConfig.workers} has its value. */
export type WorkersSource = 'configured' | 'cpus' | 'embedded-broker';

/** The service configuration, parsed once from the environment. */
export interface AppConfig {
  /** `PORT` (0 picks a free port). @defaultValue 8088 */
  port: number;
  /** `HOST`: the address to listen on. @defaultValue `127.0.0.1` (the container sets `0.0.0.0`) */
  host: string;
  /** NATS settings; `undefined` (no `NATS_URL`) means the embedded single-instance broker. */
  nats: NatsConfig | undefined;
  /** `SSE_AUTHENTICATION_TOKEN`, or a random one when unset. */
  authToken: string;
  /** `true` when {@link AppConfig.authToken} was generated (main prints it once). */
  authTokenGenerated: boolean;
  /** `KEEPALIVE_INTERVAL` in ms. @defaultValue 15000 */
  keepAliveIntervalMs: number;
  /** `SLOW_SUBSCRIBER_TIMEOUT` in ms. @defaultValue 30000 */
  slowSubscriberTimeoutMs: number;
  /** `DRAIN_WINDOW` in ms. @defaultValue 5000 */
  drainWindowMs: number;
  /** `MAX_SUBSCRIBERS`. @defaultValue unlimited */
  maxSubscribers: number | undefined;
  /**
   * `MAX_STREAM_AGE` in ms (each stream ends after it, less up to 20 % jitter); 0 for never,
   * else at least 1.25 s, so that an SDK that reconnects at once costs at most one request a second.
   * @defaultValue 0
   */
  maxStreamAgeMs: number;
  /** `REFUSAL_HOLD_MS`: how long a refused stream request is held before its 503. @defaultValue 1000 */
  refusalHoldMs: number;
  /** `REFUSAL_HOLD_MAX`: refusals held at once; beyond, the connection is closed. @defaultValue 1000 */
  refusalHoldMax: number;
  /** `METRICS_ENABLED`: serve `GET /metricsz`; `false` does no metrics work at all. @defaultValue true */
  metricsEnabled: boolean;
  /** `MAX_HEADER_SIZE` (bytes) and `REQUEST_TIMEOUT` (ms). @defaultValue 16384 bytes, 10000 ms */
  limits: HttpLimits;
  /** `LOG_LEVEL`. @defaultValue `info` */
  logLevel: LogLevel;
  /**
   * `TLS_CERT` + `TLS_KEY`: serve HTTPS (ALPN h2 and http/1.1); `undefined`
   * serves cleartext HTTP/1.1 and h2c (prior knowledge) on the same port.
   */
  tls: ServerTlsConfig | undefined;
  /**
   * `H2C` (`on` or `off`): without TLS, serve HTTP/2 with prior knowledge (h2c) next to
   * HTTP/1.1 on the cleartext port. Off, the cleartext port speaks HTTP/1.1 only.
   * @defaultValue `on` on Node.js 24 and later, `off` before (a remote abort in Node 20's http2)
   */
  h2c: boolean;
  /** `configured` (`H2C` set) or `runtime` (the default of this Node.js major). */
  h2cSource: H2cSource;
  /**
   * `SSE_WORKERS`: processes serving the one port (node:cluster); 1 runs a
   * single process with no cluster primary.
   * @defaultValue the number of CPUs with `NATS_URL`; 1 with the embedded broker
   */
  workers: number;
  /** `configured` (`SSE_WORKERS` set), `cpus` (the default), `embedded-broker` (defaulted to 1). */
  workersSource: WorkersSource;
  /**
   * `SSE_REUSE_PORT` resolved: with `SSE_WORKERS > 1`, each worker binds its own socket on the
   * port (`SO_REUSEPORT`) and the kernel spreads new connections over them, instead of the
   * primary accepting every connection and handing it to a worker over IPC. Always `false`
   * with one process.
   * @defaultValue `auto`: on where the runtime has it (Node.js 22.12+, Linux), else off
   */
  reusePort: boolean;
  /** The `SSE_REUSE_PORT` setting it was resolved from. */
  reusePortMode: ReusePortMode;
}

/** One problem with one variable. */
export interface ConfigIssue {
  /** The environment variable at fault. */
  variable: string;
  /** What is wrong and what is accepted. */
  message: string;
}

/** Every problem found, or the parsed configuration. */
export type ConfigResult = { ok: true; value: AppConfig } | { ok: false; errors: ConfigIssue[] };

/** Reads a file named by a variable (injectable for tests). */
export type FileReader = (path: string) => string;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Parses the service configuration from environment variables, collecting
 * every problem (each naming its variable) instead of stopping at the first.
 */
export function parseConfig(
  env: Env,
  readFile: FileReader = (path) => readFileSync(path, 'utf8'),
  cpuCount: number = availableParallelism(),
  nodeMajor: number = runtimeNodeMajor(),
  reusePortAvailable: boolean = runtimeHasReusePort(),
): ConfigResult {
  const errors: ConfigIssue[] = [];
  const issue = (variable: string, message: string) => errors.push({ variable, message });
  const read = new Reader(env, issue);

  const port = read.integer('PORT', 8088, 0, 65535);
  const host = read.text('HOST') ?? '127.0.0.1';
  const keepAliveIntervalMs = read.seconds('KEEPALIVE_INTERVAL', 15, false);
  const slowSubscriberTimeoutMs = read.seconds('SLOW_SUBSCRIBER_TIMEOUT', 30, false);
  const drainWindowMs = read.seconds('DRAIN_WINDOW', 5, true);
  const maxSubscribers = read.optionalInteger('MAX_SUBSCRIBERS', 1, Number.MAX_SAFE_INTEGER);
  const maxStreamAgeMs = read.seconds('MAX_STREAM_AGE', 0, true);
  // Less the 20 % jitter, 1.25 s is a 1 s stream: a client reconnecting at once makes <= 1 request/s.
  if (maxStreamAgeMs > 0 && maxStreamAgeMs < MIN_STREAM_AGE_MS) {
    issue(
      'MAX_STREAM_AGE',
      `MAX_STREAM_AGE must be 0 (never) or at least ${MIN_STREAM_AGE_MS / 1000} seconds: SDKs that reconnect at once would otherwise reconnect more than once a second.`,
    );
  }
  const refusalHoldMs = read.integer('REFUSAL_HOLD_MS', DEFAULT_REFUSAL_HOLD_MS, 0, 60_000);
  const refusalHoldMax = read.integer('REFUSAL_HOLD_MAX', DEFAULT_REFUSAL_HOLD_MAX, 1, 1_000_000);
  const metricsEnabled = read.boolean('METRICS_ENABLED', true);
  const limits: HttpLimits = {
    maxHeaderBytes: read.integer(
      'MAX_HEADER_SIZE',
      DEFAULT_HTTP_LIMITS.maxHeaderBytes,
      1024,
      1024 * 1024,
    ),
    requestTimeoutMs: read.seconds(
      'REQUEST_TIMEOUT',
      DEFAULT_HTTP_LIMITS.requestTimeoutMs / 1000,
      false,
    ),
  };
  const logLevel = (read.choice('LOG_LEVEL', LOG_LEVELS) ?? 'info') as LogLevel;

  const configuredToken = read.text('SSE_AUTHENTICATION_TOKEN');
  const authTokenGenerated = configuredToken === undefined;
  const authToken = configuredToken ?? randomBytes(24).toString('base64url');

  const nats = parseNats(read, issue, readFile);
  const tls = parseServerTls(read, issue, readFile);
  const configuredH2c = read.choice('H2C', ['on', 'off']);
  const h2cSource: H2cSource = configuredH2c === undefined ? 'runtime' : 'configured';
  const h2c =
    configuredH2c === undefined ? nodeMajor >= H2C_SAFE_NODE_MAJOR : configuredH2c === 'on';
  const configuredWorkers = read.optionalInteger('SSE_WORKERS', 1, MAX_WORKERS);
  if (
    configuredWorkers !== undefined &&
    configuredWorkers > 1 &&
    read.text('NATS_URL') === undefined
  ) {
    issue(
      'SSE_WORKERS',
      `SSE_WORKERS=${configuredWorkers} needs NATS_URL: the embedded broker lives inside one process, ` +
        'so workers would not share updates. Set NATS_URL, or SSE_WORKERS=1.',
    );
  }
  const workersSource: WorkersSource =
    configuredWorkers !== undefined
      ? 'configured'
      : nats === undefined
        ? 'embedded-broker'
        : 'cpus';
  const workers =
    configuredWorkers ??
    (workersSource === 'cpus' ? Math.max(1, Math.min(MAX_WORKERS, cpuCount)) : 1);
  const reusePortMode = (read.choice('SSE_REUSE_PORT', ['auto', 'on', 'off']) ??
    'auto') as ReusePortMode;
  if (reusePortMode === 'on' && !reusePortAvailable) {
    issue(
      'SSE_REUSE_PORT',
      `SSE_REUSE_PORT=on needs listen({ reusePort }) (Node.js 22.12+ or 23.1+, on Linux or FreeBSD); ` +
        `this is Node.js ${process.versions.node} on ${process.platform}. Use SSE_REUSE_PORT=auto or off.`,
    );
  }
  const reusePort = workers > 1 && reusePortMode !== 'off' && reusePortAvailable;
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      port,
      host,
      nats,
      authToken,
      authTokenGenerated,
      keepAliveIntervalMs,
      slowSubscriberTimeoutMs,
      drainWindowMs,
      maxSubscribers,
      maxStreamAgeMs,
      refusalHoldMs,
      refusalHoldMax,
      metricsEnabled,
      limits,
      logLevel,
      tls,
      h2c,
      h2cSource,
      workers,
      workersSource,
      reusePort,
      reusePortMode,
    },
  };
}

/** Most `SSE_WORKERS` accepted. */
const MAX_WORKERS = 256;
/** The shortest non-zero `MAX_STREAM_AGE`, in ms. */
const MIN_STREAM_AGE_MS = 1_250;

function parseServerTls(
  read: Reader,
  issue: (variable: string, message: string) => void,
  readFile: FileReader,
): ServerTlsConfig | undefined {
  const certFile = read.text('TLS_CERT');
  const keyFile = read.text('TLS_KEY');
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    issue(certFile === undefined ? 'TLS_CERT' : 'TLS_KEY', 'TLS_CERT and TLS_KEY go together.');
    return undefined;
  }
  const cert = readVariableFile('TLS_CERT', certFile, readFile, issue);
  const key = readVariableFile('TLS_KEY', keyFile, readFile, issue);
  if (cert === undefined || key === undefined) return undefined;
  try {
    // Fails now, naming the files, rather than on the first handshake.
    createSecureContext({ cert, key });
  } catch (error) {
    issue(
      'TLS_CERT',
      `TLS_CERT ${certFile} and TLS_KEY ${keyFile} are not a usable PEM certificate and matching key: ${(error as Error).message}`,
    );
    return undefined;
  }
  return { cert, key };
}

const NATS_ONLY = [
  'NATS_USER',
  'NATS_PASSWORD',
  'NATS_TOKEN',
  'NATS_CREDS_FILE',
  'NATS_NKEY_SEED_FILE',
  'NATS_TLS_CA',
  'NATS_TLS_CERT',
  'NATS_TLS_KEY',
  'STREAM_REPLICAS',
  'STREAM_STORAGE',
] as const;

function parseNats(
  read: Reader,
  issue: (variable: string, message: string) => void,
  readFile: FileReader,
): NatsConfig | undefined {
  const url = read.text('NATS_URL');
  if (url === undefined) {
    for (const variable of NATS_ONLY) {
      if (read.text(variable) !== undefined) {
        issue(
          variable,
          `${variable} is set but NATS_URL is not; set NATS_URL or remove ${variable}.`,
        );
      }
    }
    return undefined;
  }
  const servers = url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const server of servers) {
    if (!/^(nats|tls|wss?):\/\/[^\s]+$|^[^\s:/]+(:\d+)?$/.test(server)) {
      issue('NATS_URL', `NATS_URL entry "${server}" is not a NATS URL such as nats://nats-1:4222.`);
    }
  }
  if (servers.length === 0) issue('NATS_URL', 'NATS_URL lists no server.');

  const methods: NatsCredentials[] = [];
  const user = read.text('NATS_USER');
  const pass = read.text('NATS_PASSWORD');
  if ((user === undefined) !== (pass === undefined)) {
    issue(
      user === undefined ? 'NATS_USER' : 'NATS_PASSWORD',
      'NATS_USER and NATS_PASSWORD go together.',
    );
  } else if (user !== undefined && pass !== undefined) {
    methods.push({ user, pass });
  }
  const token = read.text('NATS_TOKEN');
  if (token !== undefined) methods.push({ token });
  const credsFile = read.text('NATS_CREDS_FILE');
  if (credsFile !== undefined) {
    const creds = readVariableFile('NATS_CREDS_FILE', credsFile, readFile, issue);
    if (creds !== undefined) methods.push({ creds });
  }
  const seedFile = read.text('NATS_NKEY_SEED_FILE');
  if (seedFile !== undefined) {
    const seed = readVariableFile('NATS_NKEY_SEED_FILE', seedFile, readFile, issue)?.trim();
    if (seed !== undefined && !/^SU[A-Z2-7]+$/.test(seed)) {
      issue(
        'NATS_NKEY_SEED_FILE',
        `NATS_NKEY_SEED_FILE ${seedFile} does not hold a user NKey seed (SU...).`,
      );
    } else if (seed !== undefined) {
      methods.push({ nkeySeed: seed });
    }
  }
  if (methods.length > 1) {
    issue(
      'NATS_USER',
      'Set only one of NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CREDS_FILE, NATS_NKEY_SEED_FILE.',
    );
  }

  const caFile = read.text('NATS_TLS_CA');
  const certFile = read.text('NATS_TLS_CERT');
  const keyFile = read.text('NATS_TLS_KEY');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    issue(
      certFile === undefined ? 'NATS_TLS_CERT' : 'NATS_TLS_KEY',
      'NATS_TLS_CERT and NATS_TLS_KEY go together.',
    );
  }
  const tls =
    caFile !== undefined || certFile !== undefined
      ? {
          ...(caFile === undefined ? {} : { caFile }),
          ...(certFile === undefined ? {} : { certFile }),
          ...(keyFile === undefined ? {} : { keyFile }),
        }
      : undefined;

  const replicas = read.integer('STREAM_REPLICAS', STREAM_SETTINGS.replicas, 1, 5);
  const storage = (read.choice('STREAM_STORAGE', ['file', 'memory']) ??
    STREAM_SETTINGS.storage) as StreamStorage;
  return {
    servers,
    ...(methods[0] === undefined ? {} : { credentials: methods[0] }),
    ...(tls === undefined ? {} : { tls }),
    replicas,
    storage,
  };
}

function readVariableFile(
  variable: string,
  path: string,
  readFile: FileReader,
  issue: (variable: string, message: string) => void,
): string | undefined {
  try {
    return readFile(path);
  } catch (error) {
    issue(variable, `${variable}: cannot read ${path}: ${(error as Error).message}`);
    return undefined;
  }
}

class Reader {
  constructor(
    private readonly env: Env,
    private readonly issue: (variable: string, message: string) => void,
  ) {}

  /** The trimmed value, `undefined` when unset or empty. */
  text(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    return this.optionalInteger(name, min, max) ?? fallback;
  }

  optionalInteger(name: string, min: number, max: number): number | undefined {
    const text = this.text(name);
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      this.issue(name, `${name} must be a whole number from ${min} to ${max}, got "${text}".`);
      return undefined;
    }
    return value;
  }

  /** Seconds (decimals allowed), returned in milliseconds. */
  seconds(name: string, fallbackSeconds: number, zeroAllowed: boolean): number {
    const text = this.text(name);
    if (text === undefined) return fallbackSeconds * 1000;
    const value = Number(text);
    const ms = Math.round(value * 1000);
    if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(ms) || (!zeroAllowed && ms < 1)) {
      const range = zeroAllowed ? '0 or more' : 'more than 0';
      this.issue(
        name,
        `${name} must be a number of seconds, ${range} (e.g. 0.2 or 15), got "${text}".`,
      );
      return fallbackSeconds * 1000;
    }
    return ms;
  }

  /** `true` or `false` (any case). */
  boolean(name: string, fallback: boolean): boolean {
    const text = this.text(name);
    if (text === undefined) return fallback;
    const value = text.toLowerCase();
    if (value === 'true') return true;
    if (value === 'false') return false;
    this.issue(name, `${name} must be true or false, got "${text}".`);
    return fallback;
  }

  choice(name: string, options: readonly string[]): string | undefined {
    const text = this.text(name);
    if (text === undefined) return undefined;
    const value = text.toLowerCase();
    if (!options.includes(value)) {
      this.issue(name, `${name} must be one of ${options.join(', ')}, got "${text}".`);
      return undefined;
    }
    return value;
  }
}
