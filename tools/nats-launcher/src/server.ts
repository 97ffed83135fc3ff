import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNatsServerBinary } from './binary.js';
import { renderConfig } from './config.js';
import { NatsServerStartError } from './errors.js';
import { isHealthy } from './healthz.js';
import { OutputTail } from './output.js';
import { forgetTempDir, parentDeathPrefix, trackChild, trackTempDir } from './reaper.js';
import { recordOwner, sweepStaleDirsOnce, TEMP_DIR_PREFIX } from './sweep.js';
import { delay } from './wait.js';

/** Options of {@link startNatsServer}. */
export interface NatsServerOptions {
  /**
   * Enable JetStream with a temporary file store.
   * @defaultValue `true`
   */
  jetstream?: boolean;
  /** Extra command-line arguments for nats-server. */
  args?: readonly string[];
  /** Configuration text appended to the generated file (authorization, TLS, cluster...). */
  config?: string;
  /**
   * Client port.
   * @defaultValue a free port chosen by the server
   */
  port?: number;
  /**
   * The server's `server_name`.
   * @defaultValue a random unique name
   */
  serverName?: string;
  /**
   * How long to wait for the server to accept clients and report healthy.
   * @defaultValue `10_000`
   */
  startTimeoutMs?: number;
  /**
   * How long {@link NatsServer.stop} waits after SIGTERM before sending SIGKILL.
   * @defaultValue `5_000`
   */
  stopTimeoutMs?: number;
  /**
   * Path of the nats-server executable.
   * @defaultValue `NATS_SERVER_BIN`, else `nats-server` on `PATH`
   */
  binary?: string;
}

const CLIENT_LISTEN = /Listening for client connections on (\S+):(\d+)/;
const MONITOR_LISTEN = /Starting http monitor on (\S+):(\d+)/;
const READY = /Server is ready/;

/** A running (or stopped) nats-server process owned by the test. */
export class NatsServer implements AsyncDisposable {
  /** Directory holding the config file, the JetStream store and nothing else. */
  readonly rootDir: string;
  /** JetStream store directory (`store_dir`); kept across {@link NatsServer.restart}. */
  readonly storeDir: string;
  /** The server's `server_name`. */
  readonly serverName: string;

  private readonly configPath: string;
  private readonly binary: string;
  private readonly options: NatsServerOptions;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = new OutputTail();
  private clientPort: number;
  private monitorPort = 0;
  private lastPid = 0;
  private stopped = false;

  /** @internal use {@link startNatsServer}. */
  constructor(options: NatsServerOptions) {
    this.options = options;
    this.binary = options.binary ?? findNatsServerBinary();
    this.serverName = options.serverName ?? `test-${randomBytes(4).toString('hex')}`;
    this.clientPort = options.port ?? -1;
    sweepStaleDirsOnce();
    this.rootDir = mkdtempSync(join(tmpdir(), TEMP_DIR_PREFIX));
    trackTempDir(this.rootDir);
    this.storeDir = join(this.rootDir, 'store');
    this.configPath = join(this.rootDir, 'nats.conf');
  }

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.clientPort}`;
  }

  /** The client port (the same after a restart). */
  get port(): number {
    return this.clientPort;
  }

  /** Base URL of the monitoring endpoint (`/healthz`, `/varz`, `/jsz`...); changes on restart. */
  get monitorUrl(): string {
    return `http://127.0.0.1:${this.monitorPort}`;
  }

  /** PID of the current process, or of the last one once it exited. */
  get pid(): number {
    return this.lastPid;
  }

  /** Whether the process is alive. */
  get running(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** The last lines the server wrote (stdout and stderr). */
  logs(lines = 40): string {
    return this.output.text(lines);
  }

  /** @internal starts the process and waits until it is ready. */
  async start(): Promise<void> {
    if (this.stopped) throw new Error('This NatsServer was stopped; start a new one.');
    if (this.running) return;
    writeFileSync(
      this.configPath,
      renderConfig({
        port: this.clientPort,
        serverName: this.serverName,
        storeDir: this.options.jetstream === false ? undefined : this.storeDir,
        extra: this.options.config ?? '',
      }),
    );
    const [command, ...prefixArgs] = [
      ...parentDeathPrefix(),
      this.binary,
      '-c',
      this.configPath,
      ...(this.options.args ?? []),
    ];
    this.output = new OutputTail();
    const child = spawn(command!, prefixArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    trackChild(child);
    this.exited = new Promise((resolveExit) => child.once('exit', () => resolveExit()));
    child.once('error', () => {
      // reported through waitReady (spawn failure means the process exits at once)
    });
    this.output.attach(child.stdout!);
    this.output.attach(child.stderr!);
    if (child.pid !== undefined) this.lastPid = child.pid;
    recordOwner(this.rootDir, this.lastPid);

    try {
      await this.waitReady(child, this.options.startTimeoutMs ?? 10_000);
    } catch (error) {
      await this.kill('SIGKILL');
      throw error;
    }
    // Do not hold the event loop open for the server: the exit hooks kill it if the test forgets.
    child.unref();
    (child.stdout as { unref?: () => void } | null)?.unref?.();
    (child.stderr as { unref?: () => void } | null)?.unref?.();
  }

  private async waitReady(child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let sawReady = false;
    let stopWatching = (): void => {};
    const logged = new Promise<void>((resolveLogged, rejectLogged) => {
      const check = (line: string): void => {
        const client = CLIENT_LISTEN.exec(line);
        if (client) this.clientPort = Number(client[2]);
        const monitor = MONITOR_LISTEN.exec(line);
        if (monitor) this.monitorPort = Number(monitor[2]);
        if (READY.test(line)) sawReady = true;
        if (sawReady && this.monitorPort > 0 && this.clientPort > 0) resolveLogged();
      };
      stopWatching = this.output.watch(check);
      child.once('exit', (code, signal) =>
        rejectLogged(
          new NatsServerStartError(
            'nats_server_start_failed',
            `nats-server exited during start (code ${code}, signal ${signal}); config ${this.configPath}`,
            this.output.text(),
            this.lastPid,
          ),
        ),
      );
      child.once('error', (error) =>
        rejectLogged(
          new NatsServerStartError(
            'nats_server_start_failed',
            `nats-server could not be spawned: ${error.message}`,
            this.output.text(),
            this.lastPid,
            { cause: error },
          ),
        ),
      );
    });
    // If the exit listener fires after we resolved, nobody awaits the rejection.
    logged.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, rejectTimeout) => {
      timer = setTimeout(
        () =>
          rejectTimeout(
            new NatsServerStartError(
              'nats_server_start_timeout',
              `nats-server did not become ready within ${timeoutMs} ms`,
              this.output.text(),
              this.lastPid,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([logged, timedOut]);
      // The log says it listens; /healthz says JetStream (and, clustered, its meta leader) works.
      while (!(await isHealthy(this.monitorUrl))) {
        if (!this.running) await logged; // rejects with the exit error
        if (Date.now() >= deadline) {
          throw new NatsServerStartError(
            'nats_server_start_timeout',
            `nats-server listened but /healthz was not ok within ${timeoutMs} ms`,
            this.output.text(),
            this.lastPid,
          );
        }
        await delay(50);
      }
    } finally {
      clearTimeout(timer);
      stopWatching();
    }
  }

  /**
   * Sends `signal` to the server and resolves once the process has exited.
   * Does nothing if it is not running. The store directory is kept.
   * @param signal - @defaultValue `'SIGTERM'`
   */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.ref(); // keep the loop alive until the exit is observed
    child.kill(signal);
    await this.exited;
  }

  /** Stops the server if it runs (SIGTERM), then starts it again on the same port and store. */
  async restart(): Promise<void> {
    if (this.running) await this.terminate();
    await this.start();
  }

  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; removes the temporary directory. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.terminate();
    rmSync(this.rootDir, { recursive: true, force: true, maxRetries: 3 });
    forgetTempDir(this.rootDir);
  }

  /** Same as {@link NatsServer.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  private async terminate(): Promise<void> {
    if (!this.running) return;
    const child = this.child;
    const escalate = setTimeout(() => {
      if (this.child === child && this.running) child?.kill('SIGKILL');
    }, this.options.stopTimeoutMs ?? 5_000);
    try {
      await this.kill('SIGTERM');
    } finally {
      clearTimeout(escalate);
    }
  }
}

/**
 * Starts a nats-server on 127.0.0.1 (JetStream on, temporary store, free port) and resolves
 * once it accepts clients and `/healthz` is ok.
 *
 * @example
 * ```ts
 * await using nats = await startNatsServer();
 * const nc = await connect({ servers: nats.url });
 * ```
 * @throws {@link NatsServerNotFoundError} when there is no nats-server binary.
 * @throws {@link NatsServerStartError} when it exits or is not ready in time (with its output).
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const server = new NatsServer(options);
  try {
    await server.start();
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}
