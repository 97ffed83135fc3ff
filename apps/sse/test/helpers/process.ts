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
