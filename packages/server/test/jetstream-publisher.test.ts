import { type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import {
  AckedPublisher,
  AckTimeoutError,
  NoStreamError,
  PublishRejectedError,
} from '../src/jetstream/acked-publisher.js';
import { ManualClock } from './helpers/manual-clock.js';

const STREAM = 'publisher-test';
const payload = new TextEncoder().encode('1700000000.5');

describe('AckedPublisher (real nats-server)', () => {
  let nats: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: STREAM,
      subjects: ['pt.stored.>'],
      storage: StorageType.File,
      max_msgs_per_subject: 1,
    });
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('resolves with the stream sequence, and flags a repeated message id as a duplicate', async () => {
    const publisher = new AckedPublisher(nc, 2_000, systemClock);
    const first = await publisher.publish('pt.stored.a', payload, {
      msgID: 'a-1',
      lastSubjectSequence: 0,
    });
    expect(first.seq).toBeGreaterThan(0);
    expect(first.duplicate).toBe(false);
    const again = await publisher.publish('pt.stored.a', payload, {
      msgID: 'a-1',
      lastSubjectSequence: 0,
    });
    expect(again).toEqual({ seq: first.seq, duplicate: true });
    const next = await publisher.publish('pt.stored.a', payload, {
      msgID: 'a-2',
      lastSubjectSequence: first.seq,
    });
    expect(next.seq).toBe(first.seq + 1);
    // Nothing is left waiting once every ack arrived.
    expect(publisher.failAll(new Error('nothing should be waiting'))).toBe(0);
    publisher.close(new Error('done'));
  });

  it('matches each of many concurrent acknowledgements to its own message', async () => {
    const publisher = new AckedPublisher(nc, 5_000, systemClock);
    const acks = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        publisher.publish(`pt.stored.many.${i}`, payload, {
          msgID: `many-${i}`,
          lastSubjectSequence: 0,
        }),
      ),
    );
    // Published in order on one connection, so stored in order: each ack is its own.
    const sequences = acks.map((ack) => ack.seq);
    for (let i = 1; i < sequences.length; i++) {
      expect(sequences[i]).toBe(sequences[i - 1]! + 1);
    }
    publisher.close(new Error('done'));
  });

  it('rejects a write that expected an older subject sequence as a wrong last sequence', async () => {
    const publisher = new AckedPublisher(nc, 2_000, systemClock);
    const stored = await publisher.publish('pt.stored.occ', payload, {
      msgID: 'occ-1',
      lastSubjectSequence: 0,
    });
    const conflict = publisher.publish('pt.stored.occ', payload, {
      msgID: 'occ-2',
      lastSubjectSequence: stored.seq - 1,
    });
    await expect(conflict).rejects.toBeInstanceOf(PublishRejectedError);
    const error = (await conflict.catch((e: unknown) => e)) as PublishRejectedError;
    expect(error.isWrongLastSequence).toBe(true);
    expect(error.apiCode).toBe(10071);
    expect(error.message).toContain('wrong last sequence');
    publisher.close(new Error('done'));
  });

  it('rejects with NoStreamError when no stream takes the subject', async () => {
    const publisher = new AckedPublisher(nc, 2_000, systemClock);
    const outcome = publisher.publish('pt.nowhere.x', payload, {
      msgID: 'x',
      lastSubjectSequence: 0,
    });
    await expect(outcome).rejects.toBeInstanceOf(NoStreamError);
    await expect(outcome).rejects.toThrow('pt.nowhere.x');
    publisher.close(new Error('done'));
  });

  it('times out a message that nobody acknowledges', async () => {
    // A plain subscriber that never replies: NATS delivers, no ack comes back.
    const silent = nc.subscribe('pt.silent.>');
    const publisher = new AckedPublisher(nc, 100, systemClock);
    const started = performance.now();
    const outcome = publisher.publish('pt.silent.x', payload, {
      msgID: 's',
      lastSubjectSequence: 0,
    });
    await expect(outcome).rejects.toBeInstanceOf(AckTimeoutError);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(99);
    // The timed-out message is no longer waiting.
    expect(publisher.failAll(new Error('nothing should be waiting'))).toBe(0);
    silent.unsubscribe();
    publisher.close(new Error('done'));
  });

  it('measures the acknowledgement timeout on the injected clock', async () => {
    const silent = nc.subscribe('pt.clocked.>');
    const clock = new ManualClock();
    // A minute on the real clock: only the injected one can time this out within the test.
    const publisher = new AckedPublisher(nc, 60_000, clock.now);
    const outcome = publisher.publish('pt.clocked.x', payload, {
      msgID: 'k',
      lastSubjectSequence: 0,
    });
    // Once the message reached the (silent) subscriber, move the clock past its deadline.
    for await (const _ of silent) break;
    clock.advance(60_000);
    await expect(outcome).rejects.toBeInstanceOf(AckTimeoutError);
    expect(publisher.failAll(new Error('nothing should be waiting'))).toBe(0);
    silent.unsubscribe();
    publisher.close(new Error('done'));
  });

  it('failAll rejects every waiting message with the given error; late acks are dropped', async () => {
    const silent = nc.subscribe('pt.held.>');
    const publisher = new AckedPublisher(nc, 10_000, systemClock);
    const waiting = [1, 2, 3].map((i) =>
      publisher.publish(`pt.held.${i}`, payload, { msgID: `h${i}`, lastSubjectSequence: 0 }),
    );
    // The messages reached the silent subscriber, so they are in flight.
    for await (const _ of silent) if (silent.getProcessed() === 3) break;
    const lost = new Error('connection lost');
    expect(publisher.failAll(lost)).toBe(3);
    for (const outcome of waiting) await expect(outcome).rejects.toBe(lost);
    expect(publisher.failAll(new Error('nothing should be waiting'))).toBe(0);
    publisher.close(new Error('done'));
  });

  it('close() fails what is waiting', async () => {
    const silent = nc.subscribe('pt.closing.>');
    const publisher = new AckedPublisher(nc, 10_000, systemClock);
    const outcome = publisher.publish('pt.closing.x', payload, {
      msgID: 'c',
      lastSubjectSequence: 0,
    });
    const closed = new Error('closed');
    publisher.close(closed);
    await expect(outcome).rejects.toBe(closed);
    silent.unsubscribe();
  });
});
