import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { AUTH_SCHEME, queueChangePath } from '@flagsmith-rt/protocol';

const TOKEN = 'client-suite-token';

/** Entry point of the real service (`apps/sse`), built by turbo before the tests run. */
function serviceMain(): string {
  const override = process.env.FLAGSMITH_RT_SSE_MAIN;
  if (override) return override;
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@flagsmith-rt/sse/package.json')), 'dist', 'main.js');
}

/** Options of {@link startSse}. */
export interface SseOptions {
  /** NATS URL; without it the service uses its embedded broker. */
  natsUrl?: string;
  /** `KEEPALIVE_INTERVAL` in seconds (decimals allowed). */
  keepaliveSeconds?: number;
}

/** A running `apps/sse` process. */
export interface SseProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Publishes an update through `queue-change`; resolves once the service acknowledged it. */
  publish(environment: string, updatedAt: number): Promise<void>;
  /** Sends a signal (`SIGKILL` by default) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the service again on the same port. */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP): its sockets stay open but silent. */
  pause(): void;
  /** Thaws a paused process (SIGCONT). */
  resume(): void;
  /** Stops the process if it still runs. */
  stop(): Promise<void>;
}

/** Starts the real service as a child process on a random port of 127.0.0.1. */
export async function startSse(options: SseOptions = {}): Promise<SseProcess> {
  let child: ChildProcess;
  let url: string;
  let port = 0;

  const launch = async (): Promise<void> => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      SSE_AUTHENTICATION_TOKEN: TOKEN,
      KEEPALIVE_INTERVAL: String(options.keepaliveSeconds ?? 15),
      // One process: the tests SIGSTOP and SIGKILL it and expect every stream to be affected.
      SSE_WORKERS: '1',
    };
    delete env.NATS_URL;
    if (options.natsUrl) env.NATS_URL = options.natsUrl;
    child = spawn(process.execPath, [serviceMain()], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    const lines = createInterface({ input: child.stdout! });
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`apps/sse exited with ${code} before listening: ${stderr.slice(0, 2000)}`);
    });
    const listening = (async () => {
      for await (const line of lines) {
        if (!line.includes('"listening"')) continue;
        const parsed = JSON.parse(line) as { url?: string };
        if (parsed.url) return parsed.url;
      }
      throw new Error(`apps/sse closed stdout before listening: ${stderr.slice(0, 2000)}`);
    })();
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('apps/sse did not listen within 15 s')), 15_000).unref(),
    );
    try {
      url = await Promise.race([listening, exited, timeout]);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    exited.catch(() => {});
    // Keep draining stdout so the service never blocks on a full pipe.
    child.stdout!.resume();
    port = Number(new URL(url).port);
  };

  const waitExit = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    await once(child, 'exit');
  };

  await launch();
  return {
    get url() {
      return url;
    },
    get port() {
      return port;
    },
    get pid() {
      return child.pid!;
    },
    async publish(environment, updatedAt) {
      const response = await fetch(`${url}${queueChangePath(environment)}`, {
        method: 'POST',
        headers: { Authorization: `${AUTH_SCHEME} ${TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ updated_at: updatedAt }),
      });
      if (!response.ok) {
        throw new Error(`publish answered ${response.status}: ${await response.text()}`);
      }
    },
    async kill(signal = 'SIGKILL') {
      const exit = waitExit();
      child.kill(signal);
      await exit;
    },
    restart: launch,
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      const exit = waitExit();
      child.kill('SIGKILL');
      await exit;
    },
  };
}
