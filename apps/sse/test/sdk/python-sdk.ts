import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FlagsmithApiFake } from '@flagsmith-rt/flagsmith-api-fake';
import { waitFor } from '../helpers/sse-client.js';

const PROBE = fileURLToPath(new URL('./flagsmith_probe.py', import.meta.url));
/** The venv `tools/scripts/setup.sh --test` makes, with the official SDK in it. */
const DEFAULT_PYTHON = fileURLToPath(
  new URL('../../../../.cache/python/bin/python', import.meta.url),
);

/** The official Flagsmith Python SDK in real-time mode, run by `flagsmith_probe.py`. */
export interface PythonSdk {
  readonly child: ChildProcess;
  /** Seconds (the probe's clock) of each stream request, connects and reconnects alike. */
  streamRequests(): number[];
  /** The `updated_at` of each stream event the SDK handled, in order. */
  handled(): number[];
  /** Waits until the SDK has handled an event with `updatedAt`. */
  waitForHandled(updatedAt: number, timeoutMs?: number): Promise<void>;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * Starts the SDK against `api` (the fake Flagsmith API) and the real-time service at
 * `realtimeUrl`, and resolves once the client is built (its first document fetched).
 */
export async function startPythonSdk(
  api: FlagsmithApiFake,
  realtimeUrl: string,
): Promise<PythonSdk> {
  const python = process.env.FLAGSMITH_RT_PYTHON ?? DEFAULT_PYTHON;
  if (!existsSync(python)) {
    throw new Error(
      `No Python with the Flagsmith SDK at ${python}: run "bash tools/scripts/setup.sh --test" (or set FLAGSMITH_RT_PYTHON).`,
    );
  }
  const child = spawn(python, ['-u', PROBE], {
    env: {
      PATH: process.env.PATH ?? '',
      FLAGSMITH_API_URL: api.url,
      FLAGSMITH_REALTIME_URL: `${realtimeUrl}/`,
      FLAGSMITH_SERVER_KEY: api.serverKey,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    partial += c.toString();
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const l of complete) if (l.startsWith('{')) lines.push(JSON.parse(l));
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const numbers = (field: string): number[] =>
    lines.filter((l) => field in l).map((l) => l[field] as number);
  const sdk: PythonSdk = {
    child,
    streamRequests: () => numbers('stream_request'),
    // Compared at microsecond precision, as the SDK's datetimes are.
    handled: () => numbers('handled').map((t) => Math.round(t * 1e6) / 1e6),
    async waitForHandled(updatedAt, timeoutMs = 5_000) {
      await waitFor(
        () => sdk.handled().includes(updatedAt),
        `the SDK to handle ${updatedAt}; handled ${sdk.handled()}; stderr ${err}`,
        timeoutMs,
      );
    },
    stderr: () => err,
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  await waitFor(
    () => lines.some((l) => l.ready === true) || child.exitCode !== null,
    `the SDK client to be built; stderr ${err}`,
    15_000,
  );
  if (child.exitCode !== null) throw new Error(`The SDK probe exited: ${err}`);
  return sdk;
}
