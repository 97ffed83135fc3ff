import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from './sse-client.js';

/** A running `node main.js` with its output so far. */
export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The JSON log lines on stdout so far. */
  logs: () => Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** Starts the built entry point with only `env` (and PATH) as its environment. */
export function runMain(main: string, env: Record<string, string>): Running {
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const logs = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, stdout: () => out, stderr: () => err, logs, exited };
}

/**
 * Starts `main` processes for a test file and kills those still running
 * afterwards: call `stopAll` from `afterEach`.
 */
export function mainRunner(main: string): {
  run: (env: Record<string, string>) => Running;
  stopAll: () => Promise<void>;
} {
  const running: Running[] = [];
  return {
    run(env) {
      const r = runMain(main, env);
      running.push(r);
      return r;
    },
    async stopAll() {
      for (const r of running.splice(0)) {
        if (r.child.exitCode === null) r.child.kill('SIGKILL');
        await r.exited;
      }
    },
  };
}

/** Waits for a log line matching `match` and returns it. */
export function logLine(
  r: Running,
  match: (line: Record<string, unknown>) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  return waitFor(
    () => r.logs().find(match),
    `${what}; stdout ${r.stdout()} stderr ${r.stderr()}`,
    timeoutMs,
  );
}
