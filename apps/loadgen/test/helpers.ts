import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built CLI and the apps/sse entry (turbo builds both before `test`). */
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
export const SSE_MAIN = fileURLToPath(new URL('../../sse/dist/main.js', import.meta.url));

/** A running apps/sse process. */
export interface SseProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `node apps/sse/dist/main.js` on a free port (embedded broker unless `natsUrl`). */
export function startSse(token: string): Promise<SseProcess> {
  if (!existsSync(SSE_MAIN)) throw new Error(`${SSE_MAIN} is missing: build apps/sse first`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    SSE_AUTHENTICATION_TOKEN: token,
    LOG_LEVEL: 'info',
  };
  delete env.NATS_URL;
  const child = spawn(process.execPath, [SSE_MAIN], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"msg":"listening".*?"url":"([^"]+)"|"url":"([^"]+)".*?"msg":"listening"/.exec(out);
      if (m) resolve({ url: (m[1] ?? m[2])!, pid: child.pid!, child, stop });
    });
    child.once('exit', (code) => reject(new Error(`apps/sse exited with ${code}: ${out}`)));
  });
}

/** Runs the CLI; resolves with exit code and output. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env, timeout: 50_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 99) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
