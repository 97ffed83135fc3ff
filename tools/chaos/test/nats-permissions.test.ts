import { randomUUID } from 'node:crypto';
import { startNatsServer } from '@flagsmith-rt/nats-launcher';
import { decodeUpdateMessage, STREAM_SETTINGS, subjectFor } from '@flagsmith-rt/protocol';
import { JetStreamBroker } from '@flagsmith-rt/server';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { permissionsConfig } from '../src/nats-permissions.js';

// The list in RELIABILITY.md ("The least NATS privileges of the service"), granted and nothing
// else. The nats-security scenario runs whole instances on it; this checks the one call those
// runs rarely make: the read-back of a subject's last message after a refused compare-and-set
// write (writer.ts), which needs the stream's direct get.
describe('the least NATS privileges of the service', () => {
  it('cover starting, writing and the read-back after a refused write, and nothing more', async () => {
    await using nats = await startNatsServer({
      config: `authorization { users: [
        { user: "service", password: "service-pass", ${permissionsConfig()} }
      ] }`,
    });
    const credentials = { user: 'service', pass: 'service-pass' };
    const broker = new JetStreamBroker({ servers: [nats.url], storage: 'memory', credentials });
    const nc = await connect({ servers: nats.url, ...credentials });
    const violations: string[] = [];
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'error') violations.push(String(status.error));
      }
    })();
    try {
      await broker.start();
      const env = `env_${randomUUID().replaceAll('-', '')}`;
      expect(await broker.publish(env, 1735229888.76)).toBe('published');

      // What the writer asks after a conflict whose winner it has not seen yet.
      const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 2_000 });
      const stored = await jsm.direct.getMessage(STREAM_SETTINGS.name, {
        last_by_subj: subjectFor(env),
      });
      expect(stored && decodeUpdateMessage(stored.data)).toEqual({
        ok: true,
        value: 1735229888.76,
      });
      expect(violations).toEqual([]);

      // Beyond the list: deleting the stream is refused.
      const refused = await jsm.streams.delete(STREAM_SETTINGS.name).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Error);
    } finally {
      await nc.close();
      await broker.close();
    }
  });
});
