import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { getFreePort } from '@flagsmith-rt/nats-launcher';
import { delay, waitFor } from './wait.js';

/** Options of {@link SseInstance}. */
export interface SseInstanceOptions {
  /** A name for reports, e.g. `sse-1`. */
  name: string;
  /** The publish token (`SSE_AUTHENTICATION_TOKEN`). */
  token: string;
  /** NATS URLs; none runs the embedded broker. */
  natsUrls?: string[];
  /** Extra environment variables (`KEEPALIVE_INTERVAL`, `NATS_USER`...). */
  env?: Record<string, string>;
  /**
   * How long to wait for the `listening` log line.
   * @defaultValue 20000
   */
  startTimeoutMs?: number;
}

/** An exit the test did not ask for. */
export interface Crash {
  /** Instance name. */
  name: string;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  /** The signal, or null. */
  signal: NodeJS.Signals | null;
  /** The last lines it wrote. */
  tail: string;
}

const TAIL_LINES = 30;

const live = new Set<ChildProcess>();
let prefix: string[] | undefined;
let exitHook = false;

/** `setpriv --pdeathsig KILL --` where available: the kernel kills the service if the suite dies. */
function parentDeathPrefix(): string[] {
  if (prefix) return prefix;
  const probe = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore' });
  prefix = probe.status === 0 ? ['setpriv', '--pdeathsig', 'KILL', '--'] : [];
  return prefix;
}

/** SIGKILLs every service process still alive when the suite exits. */
function trackChild(child: ChildProcess): void {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** PIDs of a process's children (Linux `/proc/<pid>/task/<tid>/children`). */
export function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
        .split(' ')
        .filter((p) => p.trim() !== '')
        .map(Number),
    );
  } catch {
    return [];
  }
}

/**
 * Open file descriptors of a live process (`/proc/<pid>/fd`), or `undefined` if it is gone
 * (or a zombie, whose descriptors are already closed).
 */
export function openDescriptors(pid: number): number | undefined {
  try {
    const state = /^\d+ \(.*\) (\S)/s.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
    if (state === undefined || state === 'Z' || state === 'X') return undefined;
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** Path of the built service (`apps/sse/dist/main.js`), or `CHAOS_SSE_MAIN`. */
export function serviceMainPath(): string {
  const override = process.env.CHAOS_SSE_MAIN;
  if (override) return override;
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@flagsmith-rt/sse/package.json')), 'dist', 'main.js');
}

/**
 * One `apps/sse` process, started exactly as in production (`node dist/main.js` with its
 * environment). Any exit that the test did not cause with {@link SseInstance.kill} is a crash.
 */
export class SseInstance {
  /** Instance name. */
  readonly name: string;
  /** Exits nobody asked for. */
  readonly crashes: Crash[] = [];
  private readonly options: SseInstanceOptions;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private expectingExit = false;
  private tail: string[] = [];
  private everything: string[] = [];
  private waitForListening = true;
  private portNumber = 0;
  private logListeners = new Set<(line: Record<string, unknown>) => void>();

  constructor(options: SseInstanceOptions) {
    this.name = options.name;
    this.options = options;
  }

  /** The TCP port (kept across restarts). */
  get port(): number {
    return this.portNumber;
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.portNumber}`;
  }

  /** Exit code of the last exit, null while running or after a signal. */
  get exitCode(): number | null {
    return this.child?.exitCode ?? null;
  }

  /** PID of the running process, or 0. */
  get pid(): number {
    return this.running ? (this.child?.pid ?? 0) : 0;
  }

  /** Whether the process is alive. */
  get running(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** The last lines the process wrote. */
  logs(): string {
    return this.tail.join('\n');
  }

  /** Calls `listener` with every JSON log line until the returned function is called. */
  onLog(listener: (line: Record<string, unknown>) => void): () => void {
    this.logListeners.add(listener);
    return () => this.logListeners.delete(listener);
  }

  /** Starts the process and resolves once it logged `listening`. */
  async start(): Promise<void> {
    if (this.running) return;
    if (this.portNumber === 0) this.portNumber = await getFreePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      PORT: String(this.portNumber),
      HOST: '127.0.0.1',
      SSE_AUTHENTICATION_TOKEN: this.options.token,
      ...(this.options.natsUrls ? { NATS_URL: this.options.natsUrls.join(',') } : {}),
      // For profiling a scenario's service, e.g. CHAOS_SERVICE_NODE_OPTIONS=--cpu-prof.
      ...(process.env.CHAOS_SERVICE_NODE_OPTIONS
        ? { NODE_OPTIONS: process.env.CHAOS_SERVICE_NODE_OPTIONS }
        : {}),
      ...this.options.env,
    };
    this.expectingExit = false;
    this.tail = [];
    this.everything = [];
    let listening = false;
    // CHAOS_SERVICE_NODE runs the service on another Node.js (e.g. .cache/node24/bin/node).
    const node = process.env.CHAOS_SERVICE_NODE || process.execPath;
    const [command, ...args] = [...parentDeathPrefix(), node, serviceMainPath()];
    const child = spawn(command!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    trackChild(child);
    this.exited = new Promise((resolveExit) => {
      child.once('exit', (code, signal) => {
        if (!this.expectingExit) {
          this.crashes.push({ name: this.name, code, signal, tail: this.logs() });
        }
        resolveExit();
      });
    });
    const onLine = (line: string): void => {
      this.tail.push(line);
      if (this.everything.length < 10_000) this.everything.push(line);
      if (this.tail.length > TAIL_LINES) this.tail.shift();
      if (!line.startsWith('{')) return;
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.msg === 'listening') listening = true;
        // With SSE_WORKERS > 1 the primary restarts a worker that died: still a crash.
        if (parsed.msg === 'worker exited; restarting' && !this.expectingExit) {
          this.crashes.push({
            name: `${this.name} worker ${String(parsed.worker)}`,
            code: typeof parsed.code === 'number' ? parsed.code : null,
            signal: (parsed.signal as NodeJS.Signals | null) ?? null,
            tail: this.logs(),
          });
        }
        for (const listener of this.logListeners) listener(parsed);
      } catch {
        // not a JSON log line
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        rest += chunk;
        let end = rest.indexOf('\n');
        while (end >= 0) {
          onLine(rest.slice(0, end));
          rest = rest.slice(end + 1);
          end = rest.indexOf('\n');
        }
      });
    }
    if (!this.waitForListening) return;
    await waitFor(`${this.name} to log "listening"`, () => listening || !this.running, {
      timeoutMs: this.options.startTimeoutMs ?? 20_000,
      intervalMs: 20,
      describe: () => this.logs(),
    });
    if (!listening) {
      throw new Error(`${this.name} exited during start:\n${this.logs()}`);
    }
  }

  /** Marks the next exit as expected (e.g. a refused configuration), and resolves with its code. */
  async expectExit(timeoutMs: number): Promise<number | null | undefined> {
    this.expectingExit = true;
    const timedOut = new Promise<undefined>((resolveTimeout) =>
      setTimeout(() => resolveTimeout(undefined), timeoutMs).unref(),
    );
    const exited = this.exited.then(() => this.child?.exitCode ?? null);
    return Promise.race([exited, timedOut]);
  }

  /** Starts the process without waiting for `listening` (for starts expected to fail). */
  async spawnOnly(): Promise<void> {
    this.waitForListening = false;
    try {
      await this.start();
    } finally {
      this.waitForListening = true;
    }
  }

  /** Every line it wrote since the last start (for secret scans). */
  allLogs(): string {
    return this.everything.join('\n');
  }

  /**
   * Sends `signal` and resolves when the process has exited (an expected exit, not a crash).
   * `SIGKILL` also kills its workers.
   */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.expectingExit = true;
    // SIGKILL takes the whole instance down at once, workers included, like a lost machine;
    // other signals go to the primary, which handles them for its workers.
    if (signal === 'SIGKILL') {
      for (const pid of childrenOf(this.pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    this.child?.kill(signal);
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    const escalate = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    try {
      await this.kill('SIGTERM');
    } finally {
      clearTimeout(escalate);
    }
  }

  /**
   * Resident memory in MiB (from `/proc`) of the process and its children (the cluster
   * workers of `SSE_WORKERS > 1`), 0 when not running.
   */
  rssMb(): number {
    const pid = this.pid;
    if (pid === 0) return 0;
    let kb = 0;
    for (const p of [pid, ...childrenOf(pid)]) {
      try {
        const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
        kb += match ? Number(match[1]) : 0;
      } catch {
        // exited in between
      }
    }
    return kb / 1024;
  }

  /** PIDs of the running process and its children (the cluster workers), primary first. */
  pids(): number[] {
    const pid = this.pid;
    return pid === 0 ? [] : [pid, ...childrenOf(pid)];
  }

  /** GETs a path and returns the status, or 0 if the request failed. */
  async probe(path: string, timeoutMs = 1_000): Promise<number> {
    try {
      const response = await fetch(`${this.url}${path}`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  }

  /** Resolves when `/readyz` answers 200; rejects after `timeoutMs`. Returns the time it took. */
  waitReady(timeoutMs = 20_000): Promise<number> {
    return waitFor(
      `${this.name} /readyz = 200`,
      async () => (await this.probe('/readyz')) === 200,
      {
        timeoutMs,
        intervalMs: 50,
        describe: () => this.logs(),
      },
    );
  }

  /** Kills it if the test left it running. */
  async dispose(): Promise<void> {
    await this.stop(3_000);
    await delay(0);
  }
}
