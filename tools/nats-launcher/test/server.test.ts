import { existsSync } from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, test } from 'vitest';
import { NatsServerStartError, startNatsServer } from '../src/index.js';
import { isProcessGone } from './process.js';

describe('startNatsServer', () => {
  test('starts a JetStream server that stores and acknowledges a publish', async () => {
    await using nats = await startNatsServer();
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
    expect(nats.running).toBe(true);
    expect(isProcessGone(nats.pid)).toBe(false);

    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'orders', subjects: ['orders.>'] });
      const ack = await jetstream(nc).publish('orders.1', 'hello');
      expect(ack).toMatchObject({ stream: 'orders', seq: 1, duplicate: false });
    } finally {
      await nc.close();
    }
  });

  test('restart keeps the port and the file-stored data', async () => {
    await using nats = await startNatsServer();
    const { port } = nats;
    const firstPid = nats.pid;
    let nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'kept', subjects: ['kept.>'], storage: 'file' });
    await jetstream(nc).publish('kept.a', 'persisted');
    await nc.close();

    await nats.restart();

    expect(nats.port).toBe(port);
    expect(nats.pid).not.toBe(firstPid);
    expect(isProcessGone(firstPid)).toBe(true);
    nc = await connect({ servers: nats.url });
    try {
      const stored = await (await jetstreamManager(nc)).streams.getMessage('kept', { seq: 1 });
      expect(stored?.string()).toBe('persisted');
    } finally {
      await nc.close();
    }
  });

  test('kill resolves once the process has exited and restart brings it back', async () => {
    await using nats = await startNatsServer();
    const pid = nats.pid;
    await nats.kill('SIGKILL');
    expect(nats.running).toBe(false);
    expect(isProcessGone(pid)).toBe(true);

    await nats.restart();
    expect(nats.running).toBe(true);
    const nc = await connect({ servers: nats.url });
    await nc.close();
  });

  test('stop ends the process and removes the temporary directory, and is idempotent', async () => {
    const nats = await startNatsServer();
    const { pid, rootDir, storeDir } = nats;
    expect(existsSync(storeDir)).toBe(true);
    await nats.stop();
    await nats.stop();
    expect(nats.running).toBe(false);
    expect(isProcessGone(pid)).toBe(true);
    expect(existsSync(rootDir)).toBe(false);
  });

  test('config text is appended to the generated configuration', async () => {
    await using nats = await startNatsServer({ config: 'authorization { token: "s3cret" }' });
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(
      /Authorization/i,
    );
    const nc = await connect({ servers: nats.url, token: 's3cret' });
    await nc.close();
  });

  test('args are passed to nats-server', async () => {
    await using nats = await startNatsServer({ args: ['-D'] });
    expect(nats.logs(200)).toContain('[DBG]');
  });

  test('jetstream: false starts a core-only server', async () => {
    await using nats = await startNatsServer({ jetstream: false });
    const nc = await connect({ servers: nats.url });
    try {
      await expect(jetstreamManager(nc)).rejects.toThrow(/jetstream is not enabled/);
    } finally {
      await nc.close();
    }
  });

  test('a server that cannot start fails with its output', async () => {
    const error = await startNatsServer({ config: 'this is { not a valid' }).catch((e) => e);
    expect(error).toBeInstanceOf(NatsServerStartError);
    expect(error.code).toBe('nats_server_start_failed');
    expect(error.message).toContain('nats-server output');
    expect(error.outputTail).toMatch(/Parse error/);
    expect(isProcessGone(error.pid)).toBe(true);
  });

  test('a server not ready in time fails with a timeout and is killed', async () => {
    const error = await startNatsServer({ startTimeoutMs: 1 }).catch((e) => e);
    expect(error).toBeInstanceOf(NatsServerStartError);
    expect(error.code).toBe('nats_server_start_timeout');
    expect(error.message).toMatch(/within 1 ms/);
    expect(error.pid).toBeGreaterThan(0);
    expect(isProcessGone(error.pid)).toBe(true);
  });
});
