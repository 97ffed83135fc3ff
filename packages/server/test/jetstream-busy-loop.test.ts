import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import { encodeUpdateMessage, subjectFor } from '@flagsmith-rt/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../src/broker/broker.js';
import { CONSUMER_STALL_MS } from '../src/jetstream/follower.js';
import type { BrokerLogger } from '../src/logger.js';
import { startJetStreamBroker } from './helpers/jetstream-harness.js';
import { recordUpdates, timestampsOf } from './helpers/recorder.js';
import { waitFor } from './helpers/wait-for.js';

/** Publishes `values` to `subject` in a separate process, then creates `flag`. */
function publishElsewhere(url: string, subject: string, values: number[], flag: string) {
  const payloads = values.map((value) => new TextDecoder().decode(encodeUpdateMessage(value)));
  const script = `
    import { writeFileSync } from 'node:fs';
    import { jetstream } from '@nats-io/jetstream';
    import { connect } from '@nats-io/transport-node';
    const nc = await connect({ servers: ${JSON.stringify(url)} });
    const js = jetstream(nc);
    for (const payload of ${JSON.stringify(payloads)}) {
      await js.publish(${JSON.stringify(subject)}, new TextEncoder().encode(payload));
    }
    writeFileSync(${JSON.stringify(flag)}, 'published');
    await nc.close();
  `;
  // Resolved from this package, which depends on the NATS client.
  const cwd = fileURLToPath(new URL('.', import.meta.url));
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return new Promise<number | null>((resolve) => child.on('exit', resolve));
}

describe('JetStreamBroker under a blocked event loop', () => {
  let nats: NatsServer;
  const brokers: Broker[] = [];
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await nats?.stop();
  });

  // Issue 16, goal 5: subscribers of one worker missed an intermediate update while the
  // worker was busy accepting a connect storm. The watchdog ran first after the stall,
  // took the consumer for dead, and its replacement resumed past the unread update.
  it('reads what arrived while the loop was blocked, keeping its consumer and skipping nothing', async () => {
    const warnings: string[] = [];
    const logger: BrokerLogger = {
      debug: () => {},
      info: () => {},
      warn: (_fields, message) => warnings.push(message ?? ''),
      error: (_fields, message) => warnings.push(message ?? ''),
    };
    const a = await startJetStreamBroker([nats.url], brokers, { storage: 'file', logger });
    const seen = recordUpdates(a);
    const env = `env_${randomUUID().replaceAll('-', '')}`;
    const dir = mkdtempSync(join(tmpdir(), 'busy-loop-'));
    const flag = join(dir, 'published');
    try {
      // First an update A reads: its consumer then has a pull waiting at the server, so what
      // is stored during the block is sent to this process at once and waits in its socket.
      // (Blocked before its first pull was on the wire, the stream, which keeps one message per
      // environment, would replace 9.5 before any pull asked for it.)
      expect(await publishElsewhere(nats.url, subjectFor(env), [8.5], flag)).toBe(0);
      await waitFor(() => a.latest(env) === 8.5, 'A reads the first update');
      rmSync(flag);
      const exited = publishElsewhere(nats.url, subjectFor(env), [9.5, 10.5], flag);
      // Block this process's event loop (as a connect storm does) until both updates
      // are stored and the consumer has looked silent for longer than the watchdog allows.
      const blockedAt = Date.now();
      while (!existsSync(flag) || Date.now() - blockedAt <= CONSUMER_STALL_MS + 1_000) {
        // busy
      }
      expect(await exited).toBe(0);
      await waitFor(() => a.latest(env) === 10.5, 'A reads the updates after the stall');
      expect(timestampsOf(seen, env)).toEqual([8.5, 9.5, 10.5]);
      expect(warnings).not.toContain('Following the stream again');
      expect(a.coalescedUpdates).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
