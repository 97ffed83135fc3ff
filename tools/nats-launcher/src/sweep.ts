import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Prefix of every directory the launcher creates in the temporary directory. */
export const TEMP_DIR_PREFIX = 'nats-launcher-';
const OWNER_FILE = 'owner.json';

interface Owner {
  ownerPid: number;
  serverPid: number;
}

let swept = false;

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped by its new parent) holds nothing: count it as gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // no procfs: trust kill(0)
  }
}

/** Records which process owns `rootDir` and which nats-server runs from it. */
export function recordOwner(rootDir: string, serverPid: number): void {
  const owner: Owner = { ownerPid: process.pid, serverPid };
  writeFileSync(join(rootDir, OWNER_FILE), JSON.stringify(owner));
}

/**
 * Removes launcher directories in `parent` left by test processes that were killed outright
 * (SIGKILL gives them no chance to clean up): only those whose owner process and server
 * process are both gone. Directories without an owner file are left alone.
 */
export function sweepStaleDirs(parent: string = tmpdir()): void {
  let entries: string[];
  try {
    entries = readdirSync(parent).filter((name) => name.startsWith(TEMP_DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of entries) {
    const dir = join(parent, name);
    try {
      const owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as Owner;
      if (!isAlive(owner.ownerPid) && !isAlive(owner.serverPid)) {
        rmSync(dir, { recursive: true, force: true });
      }
    } catch {
      // no owner file (yet), or unreadable: not ours to judge
    }
  }
}

/** {@link sweepStaleDirs} on the temporary directory, the first time it is called. */
export function sweepStaleDirsOnce(): void {
  if (swept) return;
  swept = true;
  sweepStaleDirs();
}
