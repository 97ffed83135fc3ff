import { randomUUID } from 'node:crypto';
import { type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import { decodeUpdateMessage, STREAM_SETTINGS, subjectFor } from '@flagsmith-rt/protocol';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../src/broker/broker.js';
import {
  InvalidUpdateError,
  PublishConflictError,
  publishUpdate,
  type UpdateChannel,
  writeUpdate,
} from '../src/jetstream/index.js';
import type { NatsOperation } from '../src/jetstream/options.js';
import { jetStreamChannel } from '../src/jetstream/publish-update.js';
import type { BrokerLogger } from '../src/logger.js';
import { startJetStreamBroker } from './helpers/jetstream-harness.js';
import { recordUpdates, timestampsOf } from './helpers/recorder.js';
import { waitFor } from './helpers/wait-for.js';

const newEnvironment = () => `env_${randomUUID().replaceAll('-', '')}`;
const utf8 = (text: string) => new TextEncoder().encode(text);

let nats: NatsServer;
const brokers: Broker[] = [];
const connections: NatsConnection[] = [];

async function natsConnection(): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  return nc;
}

/** The timestamp the stream holds as the subject's last message (undefined if unreadable). */
async function streamLatest(environment: string): Promise<number | undefined> {
  const jsm = await jetstreamManager(await natsConnection());
  const stored = await jsm.direct.getMessage(STREAM_SETTINGS.name, {
    last_by_subj: subjectFor(environment),
  });
  if (stored === null) return undefined;
  const decoded = decodeUpdateMessage(stored.data);
  return decoded.ok ? decoded.value : undefined;
}

/**
 * `channel`, but a write refused by compare-and-set first runs `onConflict` (where a test
 * teaches the writer's memory what the winner stored, as a follower would), then fails as
 * before. `sent` collects the sequence each attempt expected.
 */
function learningChannel(
  channel: UpdateChannel,
  onConflict: () => void,
  sent: number[] = [],
): UpdateChannel {
  return {
    ...channel,
    async publish(subject, payload, headers) {
      sent.push(headers.lastSubjectSequence);
      try {
        return await channel.publish(subject, payload, headers);
      } catch (error) {
        if (channel.isConflict(error)) onConflict();
        throw error;
      }
    },
  };
}

beforeAll(async () => {
  nats = await startNatsServer();
});
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close()));
  await Promise.all(connections.splice(0).map((nc) => nc.close()));
});
afterAll(async () => {
  await nats.stop();
});

describe('publishUpdate (direct publisher)', () => {
  it('writes what queue-change writes, and answers published, duplicate and stale like it', async () => {
    const broker = await startJetStreamBroker([nats.url], brokers);
    const updates = recordUpdates(broker);
    const js = jetstream(await natsConnection());
    const env = newEnvironment();

    expect(await publishUpdate(js, env, '2024-12-26T16:18:08.760000+00:00')).toBe('published');
    await waitFor(() => broker.latest(env) === 1735229888.76, 'the follower sees the write');
    // The same timestamp in another form is the same update.
    expect(await publishUpdate(js, env, 1735229888760)).toBe('duplicate');
    expect(await publishUpdate(js, env, new Date(1735229888760))).toBe('duplicate');
    expect(await publishUpdate(js, env, 1735229000)).toBe('stale');
    // The broker's own write path agrees: it sees the direct write as the latest.
    expect(await broker.publish(env, 1735229888.76)).toBe('duplicate');
    expect(await publishUpdate(js, env, '2024-12-26T16:18:09')).toBe('published');
    await waitFor(() => broker.latest(env) === 1735229889, 'the second write');

    expect(timestampsOf(updates, env)).toEqual([1735229888.76, 1735229889]);
    expect(await streamLatest(env)).toBe(1735229889);
    const stored = await (await jetstreamManager(await natsConnection())).direct.getMessage(
      STREAM_SETTINGS.name,
      { last_by_subj: subjectFor(env) },
    );
    expect(stored?.string()).toBe('{"updated_at": 1735229889.0}');
    expect(stored?.header?.get('Nats-Msg-Id')).toBe(`${env}:1735229889`);
  });

  it('refuses a bad key or timestamp with InvalidUpdateError and writes nothing', async () => {
    await startJetStreamBroker([nats.url], brokers);
    const js = jetstream(await natsConnection());
    const env = newEnvironment();
    for (const [key, value, code] of [
      ['a.*', 1735229888, 'invalid_environment_key'],
      [env, 'yesterday', 'invalid_updated_at'],
      [env, 0, 'invalid_updated_at'],
      [env, Number.NaN, 'invalid_updated_at'],
    ] as const) {
      const error = await publishUpdate(js, key, value).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidUpdateError);
      expect((error as InvalidUpdateError).code).toBe(code);
    }
    expect(await streamLatest(env)).toBeUndefined();
  });

  it('never lets concurrent publishers move the stream backwards (compare-and-set)', async () => {
    const broker = await startJetStreamBroker([nats.url], brokers);
    const updates = recordUpdates(broker);
    const env = newEnvironment();
    const clients = await Promise.all(
      Array.from({ length: 8 }, async () => jetstream(await natsConnection())),
    );
    // Timestamps interleaved across publishers, so older ones often arrive after newer ones.
    const attempts = Array.from({ length: 64 }, (_, i) => ({
      js: clients[i % clients.length]!,
      updatedAt: 1_700_000_000 + ((i * 37) % 64),
    }));
    const outcomes = await Promise.all(
      attempts.map(({ js, updatedAt }) =>
        publishUpdate(js, env, updatedAt, { maxAttempts: 20 }).then(
          (outcome) => ({ updatedAt, outcome }),
          (error: unknown) => ({ updatedAt, outcome: error }),
        ),
      ),
    );
    for (const { outcome } of outcomes) {
      if (typeof outcome !== 'string') expect(outcome).toBeInstanceOf(PublishConflictError);
    }
    const published = outcomes.filter((o) => o.outcome === 'published').map((o) => o.updatedAt);
    const newest = Math.max(...published);
    // Every publish that lost was older than what the stream ended with.
    for (const o of outcomes) if (o.outcome === 'stale') expect(o.updatedAt).toBeLessThan(newest);
    expect(await streamLatest(env)).toBe(newest);
    await waitFor(() => broker.latest(env) === newest, 'the follower at the newest');
    // What the follower fanned out only ever went forward.
    const seen = timestampsOf(updates, env);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });

  it('gives up with PublishConflictError after maxAttempts conflicting writes', async () => {
    const env = newEnvironment();
    let publishes = 0;
    const error = await writeUpdate(
      {
        publish: async () => {
          publishes++;
          throw new Error('wrong last sequence');
        },
        isConflict: () => true,
        readLast: async () => ({ sequence: publishes, storedAt: 0, updatedAt: 1 }),
      },
      env,
      2,
      { maxAttempts: 3 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishConflictError);
    expect(publishes).toBe(3);
  });

  it('after a conflict with an older winner, decides again only once afterConflict resolves', async () => {
    // The stream exists once a broker has started.
    await startJetStreamBroker([nats.url], brokers);
    const js = jetstream(await natsConnection());
    const channel = jetStreamChannel(js, undefined);
    const write = (env: string, updatedAt: number, last: number) =>
      channel.publish(subjectFor(env), utf8(`{"updated_at": ${updatedAt}}`), {
        msgID: `${env}:${updatedAt}:other`,
        lastSubjectSequence: last,
      });

    /**
     * Writes 12 while memory still says 10: another writer has stored 11 meanwhile, so the
     * first attempt is refused; memory then learns 11 (as a follower would). With `next`,
     * that other writer stores 13 while this one waits in afterConflict.
     */
    const attempt = async (next: boolean) => {
      const env = newEnvironment();
      const first = await write(env, 10, 0);
      let memory = { updatedAt: 10, sequence: first.seq };
      const winner = await write(env, 11, first.seq);
      const sent: number[] = [];
      const waits: number[] = [];
      const result = await writeUpdate(
        learningChannel(
          channel,
          () => {
            memory = { updatedAt: 11, sequence: winner.seq };
          },
          sent,
        ),
        env,
        12,
        {
          known: () => memory,
          afterConflict: async (sequence) => {
            waits.push(sequence);
            if (next) {
              const newer = await write(env, 13, winner.seq);
              memory = { updatedAt: 13, sequence: newer.seq };
            }
          },
        },
      );
      return { result, sent, waits, first: first.seq, winner: winner.seq, env };
    };

    // The other writer's next write is newer: no second attempt, answered stale.
    const newer = await attempt(true);
    expect(newer.waits).toEqual([newer.winner]);
    expect(newer.sent).toEqual([newer.first]);
    expect(newer.result.outcome).toBe('stale');
    expect(await streamLatest(newer.env)).toBe(13);

    // Nothing newer came: the second attempt expects the winner's sequence and is stored.
    const alone = await attempt(false);
    expect(alone.waits).toEqual([alone.winner]);
    expect(alone.sent).toEqual([alone.first, alone.winner]);
    expect(alone.result.outcome).toBe('published');
    expect(await streamLatest(alone.env)).toBe(12);
  });

  it('does not wait after a conflict whose winner is newer: the update is stale at once', async () => {
    await startJetStreamBroker([nats.url], brokers);
    const js = jetstream(await natsConnection());
    const channel = jetStreamChannel(js, undefined);
    const env = newEnvironment();
    const subject = subjectFor(env);
    const first = await channel.publish(subject, utf8('{"updated_at": 10}'), {
      msgID: `${env}:10:other`,
      lastSubjectSequence: 0,
    });
    const winner = await channel.publish(subject, utf8('{"updated_at": 20}'), {
      msgID: `${env}:20:other`,
      lastSubjectSequence: first.seq,
    });
    let memory = { updatedAt: 10, sequence: first.seq };
    let waited = false;
    const result = await writeUpdate(
      learningChannel(channel, () => {
        memory = { updatedAt: 20, sequence: winner.seq };
      }),
      env,
      12,
      {
        known: () => memory,
        afterConflict: async () => {
          waited = true;
        },
      },
    );
    expect(result.outcome).toBe('stale');
    expect(waited).toBe(false);
  });

  it('fails with the NATS error when no stream takes the subject', async () => {
    await using bare = await startNatsServer();
    const nc = await connect({ servers: bare.url });
    connections.push(nc);
    await expect(
      publishUpdate(jetstream(nc), newEnvironment(), 1735229888, { timeoutMs: 500 }),
    ).rejects.toThrow();
  });
});

describe('the NATS permissions of a direct publisher (docs/operations.md)', () => {
  it('publishes and reads the last message with only the documented permissions', async () => {
    // The service user may do everything; the publisher only what the docs list.
    await using secured = await startNatsServer({
      config: `authorization { users: [
        { user: "service", password: "service-pass" },
        { user: "publisher", password: "publisher-pass", permissions: {
          publish: { allow: [
            "flagsmith.environment.>",
            "$JS.API.DIRECT.GET.environments-stream.flagsmith.environment.>"
          ] }
          subscribe: { allow: [ "_INBOX.>" ] }
        } }
      ] }`,
    });
    const broker = await startJetStreamBroker([secured.url], brokers, {
      credentials: { user: 'service', pass: 'service-pass' },
    });
    const nc = await connect({ servers: secured.url, user: 'publisher', pass: 'publisher-pass' });
    connections.push(nc);
    const violations: string[] = [];
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'error') violations.push(String(status.error));
      }
    })();
    const js = jetstream(nc, { timeout: 2_000 });
    const env = newEnvironment();
    expect(await publishUpdate(js, env, 1735229888.76)).toBe('published');
    // The service writes a newer one: the publisher reads it back and decides.
    expect(await broker.publish(env, 1735229999)).toBe('published');
    expect(await publishUpdate(js, env, 1735229900)).toBe('stale');
    expect(await publishUpdate(js, env, 1735230000)).toBe('published');
    await waitFor(() => broker.latest(env) === 1735230000, 'the follower at the direct write');
    expect(violations).toEqual([]);
    // Nothing beyond that: deleting the stream is refused.
    const refused = await (await js.jetstreamManager(false)).streams
      .delete(STREAM_SETTINGS.name)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
  });
});

describe('the follower tolerates careless direct writers', () => {
  it('an older raw write moves nothing backwards, and the stream gets the newest back', async () => {
    const errors: NatsOperation[] = [];
    const broker = await startJetStreamBroker([nats.url], brokers, {
      onError: (operation) => errors.push(operation),
    });
    const updates = recordUpdates(broker);
    const env = newEnvironment();
    expect(await broker.publish(env, 1735229888.76)).toBe('published');
    // No compare-and-set, no dedupe id: the stream's only message becomes the older one.
    await jetstream(await natsConnection()).publish(subjectFor(env), utf8('{"updated_at": 5}'));
    await waitFor(
      async () => (await streamLatest(env)) === 1735229888.76,
      'the newest written back',
    );
    expect(broker.latest(env)).toBe(1735229888.76);
    expect(timestampsOf(updates, env)).toEqual([1735229888.76]);

    // A broker that starts only now (all others restarted) learns the newest.
    const late = await startJetStreamBroker([nats.url], brokers);
    expect(late.latest(env)).toBe(1735229888.76);
    expect(errors).toEqual([]);
  });

  it('counts every malformed message, warns once per environment per minute, and keeps reading', async () => {
    const errors: NatsOperation[] = [];
    const warnings: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const logger: BrokerLogger = {
      debug: () => {},
      info: () => {},
      error: () => {},
      warn: (fields, message = '') => {
        warnings.push({ fields: fields as Record<string, unknown>, message });
      },
    };
    const broker = await startJetStreamBroker([nats.url], brokers, {
      logger,
      onError: (operation) => errors.push(operation),
    });
    const env = newEnvironment();
    const other = newEnvironment();
    const js = jetstream(await natsConnection());
    expect(await broker.publish(env, 100.5)).toBe('published');
    const reads = () => errors.filter((o) => o === 'read').length;
    // The stream keeps one message per subject: each bad one is read before the next replaces it.
    for (const payload of [
      'not json',
      '{"updated_at": "soon"}',
      '{}',
      '[1]',
      '{"updated_at": -1}',
      '{"updated_at": null}',
    ]) {
      const before = reads();
      await js.publish(subjectFor(payload.includes('null') ? other : env), utf8(payload));
      await waitFor(() => reads() === before + 1, `a read error for ${payload}`);
    }
    await js.publish(subjectFor(other), utf8('{"updated_at": 42.5}'));
    await waitFor(() => broker.latest(other) === 42.5, 'the valid message after the bad ones');
    expect(errors.filter((o) => o === 'read')).toHaveLength(6);
    const skipped = warnings.filter((w) => w.message === 'Skipped a message that is not an update');
    expect(skipped.map((w) => w.fields.environment)).toEqual([env, other]);
    // The unreadable latest was replaced by the newest known timestamp.
    await waitFor(async () => (await streamLatest(env)) === 100.5, 'the newest written back');
    expect(broker.latest(env)).toBe(100.5);
  });
});
