import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { sweepStaleDirs } from '../src/index.js';
import { pollUntil } from '../src/wait.js';
import { isProcessGone } from './process.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const vitestCli = join(
  dirname(createRequire(import.meta.url).resolve('vitest/package.json')),
  'vitest.mjs',
);

interface FixtureRun {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** The fixture's TMPDIR. */
  tmpDir: string;
  /** Resolves with [nats-server PID, PID of the test worker that started it]. */
  pids: () => Promise<[number, number]>;
}

const cleanups: Array<() => void> = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function runFixture(file: string, env: Record<string, string>): FixtureRun {
  const dir = mkdtempSync(join(tmpdir(), 'nats-fixture-'));
  const pidFile = join(dir, 'pids');
  // The fixture's temporary directories go under `dir`: a SIGKILLed worker cannot remove its own.
  const childEnv = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST')),
  );
  const child = spawn(
    process.execPath,
    [vitestCli, 'run', '--config', 'test/fixtures/vitest.config.ts', file],
    {
      cwd: packageDir,
      env: { ...childEnv, ...env, FIXTURE_PID_FILE: pidFile, TMPDIR: dir },
      stdio: 'pipe',
    },
  );
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('exit', (code) => resolveExit(code)),
  );
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const pids = () =>
    pollUntil(
      async () => {
        const [nats, worker] = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
        return nats && worker ? ([nats, worker] as [number, number]) : undefined;
      },
      {
        timeoutMs: 20_000,
        onTimeout: () => new Error(`fixture ${file} did not report its PIDs:\n${output}`),
      },
    );
  return { child, exited, pids, tmpDir: dir };
}

function launcherDirs(parent: string): string[] {
  return readdirSync(parent).filter((name) => name.startsWith('nats-launcher-'));
}

function waitGone(pid: number): Promise<true> {
  return pollUntil(async () => (isProcessGone(pid) ? true : undefined), {
    timeoutMs: 5_000,
    intervalMs: 20,
    onTimeout: () => new Error(`nats-server ${pid} is still running`),
  });
}

describe('no nats-server outlives its test process', () => {
  test('a failing test that never stops its server leaves no process (exit hooks alone)', async () => {
    const run = runFixture('test/fixtures/fails.fixture.ts', { NATS_LAUNCHER_PDEATHSIG: '0' });
    const [natsPid] = await run.pids();
    expect(await run.exited).not.toBe(0);
    await waitGone(natsPid);
  });

  test('a test worker killed with SIGKILL leaves no process (parent-death signal)', async () => {
    const run = runFixture('test/fixtures/hangs.fixture.ts', {});
    const [natsPid, workerPid] = await run.pids();
    expect(isProcessGone(natsPid)).toBe(false);
    process.kill(workerPid, 'SIGKILL');
    await waitGone(natsPid);
    run.child.kill('SIGKILL');
    await run.exited;

    // The killed worker could not remove its directory; the next launcher use sweeps it.
    expect(launcherDirs(run.tmpDir)).toHaveLength(1);
    const foreign = mkdtempSync(join(run.tmpDir, 'nats-launcher-'));
    writeFileSync(
      join(foreign, 'owner.json'),
      JSON.stringify({ ownerPid: process.pid, serverPid: 0 }),
    );
    sweepStaleDirs(run.tmpDir);
    expect(launcherDirs(run.tmpDir)).toEqual([basename(foreign)]);
  });
});
