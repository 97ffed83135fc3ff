import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { findNatsServerBinary, NatsServerNotFoundError, startNatsServer } from '../src/index.js';

describe('finding nats-server', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  test('NATS_SERVER_BIN pointing nowhere fails with how to install it', async () => {
    vi.stubEnv('NATS_SERVER_BIN', '/nonexistent');
    const error = await startNatsServer().catch((e) => e);
    expect(error).toBeInstanceOf(NatsServerNotFoundError);
    expect(error.code).toBe('nats_server_not_found');
    expect(error.name).toBe('NatsServerNotFoundError');
    expect(error.message).toContain('NATS_SERVER_BIN=/nonexistent');
    expect(error.message).toContain('apt-get install -y nats-server');
    expect(error.message).toContain('set NATS_SERVER_BIN');
  });

  test('an empty PATH without NATS_SERVER_BIN fails the same way', () => {
    expect(() => findNatsServerBinary({ PATH: '' })).toThrow(NatsServerNotFoundError);
  });

  test('the first executable nats-server on PATH is used', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nats-bin-'));
    try {
      const notExecutable = join(dir, 'a');
      const executable = join(dir, 'b');
      for (const bin of [notExecutable, executable]) {
        mkdirSync(bin);
        writeFileSync(join(bin, 'nats-server'), '#!/bin/sh\n');
      }
      chmodSync(join(executable, 'nats-server'), 0o755);
      expect(findNatsServerBinary({ PATH: `${notExecutable}:${executable}` })).toBe(
        join(executable, 'nats-server'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
