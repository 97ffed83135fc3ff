import { randomUUID } from 'node:crypto';
import { type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import { decodeUpdateMessage, STREAM_SETTINGS, subjectFor } from '@flagsmith-rt/protocol';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker, PublishOutcome } from '../src/broker/broker.js';
import { observeStream, startJetStreamBroker } from './helpers/jetstream-harness.js';
import { recordUpdates, strictlyIncreasing, timestampsOf } from './helpers/recorder.js';
import { waitFor } from './helpers/wait-for.js';

/**
 * Watches one environment's subject from outside the brokers: every write
 * attempt (a core subscription sees each publish, stored or refused), every
 * read-back of the subject's last message (direct get), and what the stream
 * stores, in stream order.
 */
async function watchSubject(url: string, environment: string) {
  const subject = subjectFor(environment);
  const nc = await connect({ servers: url });
  let attempts = 0;
  let readBacks = 0;
  nc.subscribe(subject, {
    callback: () => {
      attempts++;
    },
  });
  nc.subscribe(`$JS.API.DIRECT.GET.${STREAM_SETTINGS.name}.${subject}`, {
    callback: () => {
      readBacks++;
    },
  });
  await nc.flush();
  const observed = await observeStream(url, subject);
  return {
    stored: observed.values,
    attempts: () => attempts,
    readBacks: () => readBacks,
    /** Once resolved, every message routed to the watcher before this call has arrived. */
    flush: () => nc.flush(),
    async last(): Promise<number | undefined> {
      const jsm = await jetstreamManager(nc);
      const msg = await jsm.direct.getMessage(STREAM_SETTINGS.name, { last_by_subj: subject });
      if (msg === null) return undefined;
      const decoded = decodeUpdateMessage(msg.data);
      return decoded.ok ? decoded.value : undefined;
    },
    async stop() {
      await observed.stop();
      await nc.close();
    },
  };
}

describe('two instances on one hot environment', () => {
  let nats: NatsServer;
  const brokers: Broker[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.close()));
  });
  afterAll(async () => {
    await nats.stop();
  });

  it('answers every publish truthfully, stores the maximum and reads back only conflicts memory has not seen', async () => {
    const a = await startJetStreamBroker([nats.url], brokers, { storage: 'file' });
    const b = await startJetStreamBroker([nats.url], brokers, { storage: 'file' });
    const seenByA = recordUpdates(a);
    const seenByB = recordUpdates(b);
    const environment = `env_${randomUUID().replaceAll('-', '')}`;
    const watch = await watchSubject(nats.url, environment);

    // 32 lanes per instance, each publishing as soon as its last publish was
    // answered, with timestamps taken from one rising counter (as concurrent
    // HTTP requests spread over two workers): the instances' writes interleave
    // and their compare-and-set writes on the one subject conflict.
    const perLane = 60;
    let next = 0;
    const outcomes = new Map<number, PublishOutcome>();
    const failures: unknown[] = [];
    const untruthful: Array<{ updatedAt: number; outcome: PublishOutcome; latest: number }> = [];
    const lanes = Array.from({ length: 64 }, async (_, lane) => {
      const broker = lane % 2 === 0 ? a : b;
      for (let i = 0; i < perLane; i++) {
        const updatedAt = 1_700_000_000 + next++ / 1000;
        try {
          const outcome = await broker.publish(environment, updatedAt);
          outcomes.set(updatedAt, outcome);
          // What the answering instance knows right then: `stale` promises a newer
          // timestamp is durable, `duplicate` the same one, `published` this one.
          const latest = broker.latest(environment) ?? 0;
          if (outcome === 'stale' ? latest <= updatedAt : latest < updatedAt) {
            untruthful.push({ updatedAt, outcome, latest });
          }
        } catch (error) {
          failures.push(error);
        }
      }
    });
    await Promise.all(lanes);
    // Each write is one attempt on the subject; the refused ones are the
    // conflicts. A conflict whose winner the follower had already read needs
    // no read-back: nearly all of them here.
    await watch.flush();
    const published = [...outcomes].filter(([, o]) => o === 'published').map(([t]) => t);
    const conflicts = watch.attempts() - published.length;
    const readBacks = watch.readBacks();

    // Every publish was answered with an acknowledgement.
    expect(failures).toEqual([]);
    expect(untruthful).toEqual([]);
    expect(outcomes.size).toBe(64 * perLane);
    const max = Math.max(...outcomes.keys());
    // The newest publish is stored, and so is the last message of the subject.
    expect(outcomes.get(max)).toBe('published');
    expect(await watch.last()).toBe(max);
    // `stale` and `duplicate` promise a newer (or the same) timestamp is stored: none is above it.
    for (const [updatedAt, outcome] of outcomes) {
      if (outcome !== 'published') expect(updatedAt).toBeLessThan(max);
    }
    // What the stream stored never went backwards, and each stored message was answered `published`.
    await waitFor(() => watch.stored.at(-1) === max, 'the observer reads the max');
    expect(strictlyIncreasing(watch.stored)).toBe(true);
    const publishedSet = new Set(published);
    expect(watch.stored.filter((t) => !publishedSet.has(t))).toEqual([]);
    // Both instances deliver the newest to their subscribers, never an older one after a newer.
    await waitFor(() => timestampsOf(seenByA, environment).at(-1) === max, 'A delivers the max');
    await waitFor(() => timestampsOf(seenByB, environment).at(-1) === max, 'B delivers the max');
    expect(strictlyIncreasing(timestampsOf(seenByA, environment))).toBe(true);
    expect(strictlyIncreasing(timestampsOf(seenByB, environment))).toBe(true);

    expect(conflicts).toBeGreaterThan(0);
    expect(readBacks).toBeLessThan(conflicts / 2);
    // The brokers count what the watcher saw (flagsmith_sse_nats_writes_total, …_read_backs_total).
    const counts = [a.writeCounts!, b.writeCounts!];
    const sum = (key: 'stored' | 'duplicates' | 'conflicts' | 'readBacks') =>
      counts.reduce((total, c) => total + c[key], 0);
    expect(sum('stored')).toBe(published.length);
    expect(sum('stored') + sum('duplicates') + sum('conflicts')).toBe(watch.attempts());
    expect(sum('conflicts')).toBe(conflicts - sum('duplicates'));
    expect(sum('readBacks')).toBe(readBacks);
    await watch.stop();
  });
});
