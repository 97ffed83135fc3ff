import { type ChildProcess, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

/*
 * Nothing the launcher starts may outlive the test process:
 * - on Linux each nats-server is exec'd through `setpriv --pdeathsig KILL`, so the kernel kills
 *   it when the process that spawned it dies, even by SIGKILL or a crash;
 * - everywhere, an `exit` hook and SIGINT/SIGTERM/SIGHUP hooks SIGKILL every child still alive
 *   and remove their temporary directories.
 */

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let hooksInstalled = false;
let deathSignalPrefix: readonly string[] | undefined;

function reapAllSync(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // best effort while the process exits
    }
  }
  tempDirs.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', reapAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      reapAllSync();
      // Keep the default behaviour (terminate) unless someone else handles this signal.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** Tracks a child until it exits; it is SIGKILLed if this process exits first. */
export function trackChild(child: ChildProcess): void {
  installHooks();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Removes `dir` when this process exits, unless {@link forgetTempDir} is called first. */
export function trackTempDir(dir: string): void {
  installHooks();
  tempDirs.add(dir);
}

/** Stops tracking a directory (after it was removed normally). */
export function forgetTempDir(dir: string): void {
  tempDirs.delete(dir);
}

/**
 * The command prefix that makes the kernel SIGKILL a child when its parent dies:
 * `['setpriv', '--pdeathsig', 'KILL', '--']` on Linux when util-linux's setpriv supports it,
 * otherwise empty. `NATS_LAUNCHER_PDEATHSIG=0` turns it off (the exit hooks still apply).
 */
export function parentDeathPrefix(): readonly string[] {
  if (deathSignalPrefix) return deathSignalPrefix;
  deathSignalPrefix = [];
  if (process.platform === 'linux' && process.env.NATS_LAUNCHER_PDEATHSIG !== '0') {
    const probe = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore' });
    if (probe.status === 0) deathSignalPrefix = ['setpriv', '--pdeathsig', 'KILL', '--'];
  }
  return deathSignalPrefix;
}
