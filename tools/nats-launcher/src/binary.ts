import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { NatsServerNotFoundError } from './errors.js';

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds the nats-server executable: `NATS_SERVER_BIN` if set (it must exist), otherwise the
 * first `nats-server` on `PATH`.
 *
 * @param env - the environment to read; defaults to `process.env`.
 * @throws {@link NatsServerNotFoundError} when there is none.
 */
export function findNatsServerBinary(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.NATS_SERVER_BIN;
  if (configured) {
    const path = isAbsolute(configured) ? configured : resolve(configured);
    if (isExecutableFile(path)) return path;
    throw new NatsServerNotFoundError([`NATS_SERVER_BIN=${configured}`]);
  }
  const candidates = (env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir.length > 0)
    .map((dir) => join(dir, 'nats-server'));
  const found = candidates.find(isExecutableFile);
  if (found) return found;
  throw new NatsServerNotFoundError(candidates.length > 0 ? ['PATH'] : []);
}
