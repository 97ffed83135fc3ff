import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import { encodeUpdateMessage, STREAM_SETTINGS, subjectFor } from '@flagsmith-rt/protocol';
import { DiscardPolicy, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { nanos, nkeys } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Broker, BrokerUnavailableError } from '../src/broker/broker.js';
import { NatsStartError, StreamConfigMismatchError } from '../src/jetstream/errors.js';
import { observeStream, startJetStreamBroker } from './helpers/jetstream-harness.js';
import { ManualClock } from './helpers/manual-clock.js';
import { recordUpdates, strictlyIncreasing, timestampsOf } from './helpers/recorder.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { createTlsFiles } from './helpers/tls-files.js';
import { waitFor } from './helpers/wait-for.js';

function newEnvironment(): string {
  return `env_${randomUUID().replaceAll('-', '')}`;
}

/** Publishes straight to JetStream, as another service (or a misbehaving one) would. */
async function rawPublish(url: string, subject: string, payload: Uint8Array): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    const ack = await jetstream(nc).publish(subject, payload);
    return ack.seq;
  } finally {
    await nc.close();
  }
}

describe('JetStreamBroker', () => {
  let nats: NatsServer;
  const brokers: Broker[] = [];
  const start = (options = {}) =>
    startJetStreamBroker([nats.url], brokers, { storage: 'file', ...options });

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.close()));
  });
  afterAll(async () => {
    await nats.stop();
  });

  it('delivers a publish on one instance to the listeners of another', async () => {
    const a = await start();
    const b = await start();
    const seenByB = recordUpdates(b);
    const env = newEnvironment();
    expect(await a.publish(env, 1735229888.76)).toBe('published');
    await waitFor(() => seenByB.length === 1, 'B receives the update');
    expect(seenByB[0]).toMatchObject({ environment: env, updatedAt: 1735229888.76 });
    expect(b.latest(env)).toBe(1735229888.76);
    // B already knows it: the same publish through B is a duplicate, an older one stale.
    expect(await b.publish(env, 1735229888.76)).toBe('duplicate');
    expect(await b.publish(env, 1735229000)).toBe('stale');
  });

  it('learns the latest of every environment at start (last per subject)', async () => {
    const a = await start();
    const envs = [newEnvironment(), newEnvironment(), newEnvironment()];
    for (const [i, env] of envs.entries()) {
      await a.publish(env, 100 + i);
      await a.publish(env, 200 + i);
    }
    const late = await start();
    // start() resolves once the backlog is read: no waiting needed.
    expect(envs.map((env) => late.latest(env))).toEqual([200, 201, 202]);
  });

  it('never regresses under concurrent publishes from two instances', async () => {
    const a = await start();
    const b = await start();
    const seenByA = recordUpdates(a);
    const seenByB = recordUpdates(b);
    const env = newEnvironment();
    const observed = await observeStream(nats.url, subjectFor(env));
    // Eight publishers (four per instance), each with a rising series that
    // interleaves with the others', like concurrent HTTP requests on a hot environment.
    const rounds = 60;
    const timestampOf = (round: number, worker: number) => 1_700_000_000 + round * 8 + worker + 0.5;
    const max = timestampOf(rounds - 1, 7);
    const workers = [a, a, a, a, b, b, b, b].map(async (broker, worker) => {
      for (let round = 0; round < rounds; round++) {
        const outcome = await broker.publish(env, timestampOf(round, worker));
        expect(['published', 'duplicate', 'stale']).toContain(outcome);
      }
    });
    await Promise.all(workers);
    await a.publish(env, max);
    await waitFor(() => a.latest(env) === max && b.latest(env) === max, 'both reach the max');
    await waitFor(() => timestampsOf(seenByB, env).at(-1) === max, 'B delivers the max');
    expect(strictlyIncreasing(timestampsOf(seenByA, env))).toBe(true);
    expect(strictlyIncreasing(timestampsOf(seenByB, env))).toBe(true);
    // What the stream stored, in order, never goes backwards, and ends on the max.
    await waitFor(() => observed.values.at(-1) === max, 'the observer sees the max');
    await observed.stop();
    expect(observed.values.length).toBeGreaterThan(1);
    expect(strictlyIncreasing(observed.values)).toBe(true);
  });

  it('skips a garbage message on an environment subject and keeps working', async () => {
    const a = await start();
    const seen = recordUpdates(a);
    const env = newEnvironment();
    await rawPublish(nats.url, subjectFor(env), new TextEncoder().encode('not an update'));
    await rawPublish(nats.url, `${subjectFor(env)}.extra`, encodeUpdateMessage(5));
    const other = newEnvironment();
    await rawPublish(nats.url, subjectFor(other), encodeUpdateMessage(42.5));
    await waitFor(() => a.latest(other) === 42.5, 'a valid update after the garbage arrives');
    expect(a.state).toBe('ready');
    expect(a.latest(env)).toBeUndefined();
    // Publishing on top of the garbage works (the conflict is resolved by reading the subject).
    expect(await a.publish(env, 7.25)).toBe('published');
    expect(timestampsOf(seen, env)).toEqual([7.25]);
  });

  it('replaces a consumer that is silent by the injected clock (the watchdog reads the broker clock)', async () => {
    const clock = new ManualClock();
    const reports: string[] = [];
    const a = await start({
      now: clock.now,
      onError: (operation: string, error: unknown) =>
        reports.push(`${operation}: ${(error as Error).message}`),
    });
    const seen = recordUpdates(a);
    const watchdogFired = () => reports.some((r) => r.startsWith('pull: no consumer activity'));
    expect(watchdogFired()).toBe(false);
    // The consumer is alive (a heartbeat every second, on real timers): only the clock,
    // moved past the stall threshold on every poll, says it has been silent.
    await waitFor(() => {
      clock.advance(4_000);
      return watchdogFired();
    }, 'the watchdog replaces the consumer');
    expect(a.state).toBe('ready');
    // The replacement follows the stream.
    const env = newEnvironment();
    await rawPublish(nats.url, subjectFor(env), encodeUpdateMessage(321.5));
    await waitFor(() => timestampsOf(seen, env).length === 1, 'delivery through the new consumer');
  });

  it('receives an update published while it was cut off from NATS', async () => {
    const proxy = await TcpProxy.start(nats.port);
    try {
      const a = await startJetStreamBroker([proxy.url], brokers, {
        storage: 'file',
        reconnectTimeWaitMs: 200,
      });
      const seen = recordUpdates(a);
      const env = newEnvironment();
      proxy.down();
      await waitFor(() => a.state === 'unavailable', 'A notices the cut');
      await rawPublish(nats.url, subjectFor(env), encodeUpdateMessage(1234.5));
      expect(a.state).toBe('unavailable');
      expect(seen).toHaveLength(0);
      proxy.up();
      await waitFor(() => a.state === 'ready', 'A reconnects');
      await waitFor(() => seen.length === 1, 'A receives the update after reconnecting', 10_000);
      expect(seen[0]).toMatchObject({ environment: env, updatedAt: 1234.5 });
    } finally {
      await proxy.close();
    }
  });

  it('counts updates replaced in the stream before it read them as coalesced, never its own writes', async () => {
    const proxy = await TcpProxy.start(nats.port);
    try {
      const a = await startJetStreamBroker([proxy.url], brokers, {
        storage: 'file',
        reconnectTimeWaitMs: 200,
      });
      const seen = recordUpdates(a);
      const env = newEnvironment();
      // Its own writes, each replacing the last, are fanned out on their acks.
      for (let i = 1; i <= 20; i++) expect(await a.publish(env, i)).toBe('published');
      // The consumer reads in stream order: once it has a later message, it has read them all.
      const marker = newEnvironment();
      await rawPublish(nats.url, subjectFor(marker), encodeUpdateMessage(1));
      await waitFor(() => a.latest(marker) === 1, 'the consumer reads past the writes');
      expect(a.coalescedUpdates).toBe(0);
      proxy.down();
      await waitFor(() => a.state === 'unavailable', 'A notices the cut');
      // Another publisher writes 21, and 22 replaces it (one message per subject).
      await rawPublish(nats.url, subjectFor(env), encodeUpdateMessage(21));
      await rawPublish(nats.url, subjectFor(env), encodeUpdateMessage(22));
      proxy.up();
      await waitFor(() => a.latest(env) === 22, 'A follows again after reconnecting', 10_000);
      // The new consumer resumed past 21, which A never delivered: skipped by design, and counted.
      expect(timestampsOf(seen, env)).toEqual([...Array.from({ length: 20 }, (_, i) => i + 1), 22]);
      expect(a.coalescedUpdates).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('does not count its own writes as coalesced when a new consumer resumes past them', async () => {
    const proxy = await TcpProxy.start(nats.port);
    try {
      const a = await startJetStreamBroker([proxy.url], brokers, { storage: 'file' });
      const seen = recordUpdates(a);
      const env = newEnvironment();
      // The consumer's deliveries come late; acknowledgements and status messages do not.
      proxy.slowSubject = { prefix: 'flagsmith.environment.', ms: 2_000 };
      expect(await a.publish(env, 1)).toBe('published');
      expect(await a.publish(env, 2)).toBe('published');
      // Deleting the consumer makes A follow again, before the first one delivered 1 and 2:
      // the new one starts at the stream's latest, 2, past 1 (an own write, fanned out on its ack).
      const nc = await connect({ servers: nats.url });
      const jsm = await jetstreamManager(nc);
      for await (const consumer of jsm.consumers.list(STREAM_SETTINGS.name)) {
        await jsm.consumers.delete(STREAM_SETTINGS.name, consumer.name);
      }
      await nc.close();
      const marker = newEnvironment();
      await rawPublish(nats.url, subjectFor(marker), encodeUpdateMessage(1));
      await waitFor(() => a.latest(marker) === 1, 'the new consumer reads past the writes', 10_000);
      expect(timestampsOf(seen, env)).toEqual([1, 2]);
      expect(a.coalescedUpdates).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it('notices a NATS server that stops answering (pings) and recovers when it resumes', async () => {
    const a = await start({ pingIntervalMs: 300, maxPingOut: 2, publishTimeoutMs: 8_000 });
    const seen = recordUpdates(a);
    const pid = nats.pid;
    process.kill(pid, 'SIGSTOP');
    try {
      // kill() only queues the signal: under load the server can still answer for a moment.
      await waitFor(() => processState(pid) === 'T', 'the server is stopped', 3_000);
      // A publish waiting for its ack fails when the connection is declared lost,
      // long before its own 8 s timeout.
      const started = Date.now();
      const pending = a.publish(newEnvironment(), 5).catch((e: unknown) => e);
      await waitFor(() => a.state === 'unavailable', 'A notices the silent server', 3_000);
      expect(await pending).toBeInstanceOf(BrokerUnavailableError);
      expect(Date.now() - started).toBeLessThan(4_000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor(() => a.state === 'ready', 'A is ready again', 10_000);
    const env = newEnvironment();
    await rawPublish(nats.url, subjectFor(env), encodeUpdateMessage(88.5));
    await waitFor(() => timestampsOf(seen, env).length === 1, 'delivery resumes', 10_000);
  });

  it('recovers when its consumer is deleted on the server', async () => {
    const a = await start();
    const seen = recordUpdates(a);
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    for await (const consumer of jsm.consumers.list(STREAM_SETTINGS.name)) {
      await jsm.consumers.delete(STREAM_SETTINGS.name, consumer.name);
    }
    await nc.close();
    const env = newEnvironment();
    await rawPublish(nats.url, subjectFor(env), encodeUpdateMessage(77.5));
    await waitFor(() => seen.length === 1, 'the update arrives through a new consumer', 15_000);
    expect(seen[0]).toMatchObject({ environment: env, updatedAt: 77.5 });
  });

  it('reports NATS dying within 2 s, fails publishes fast, and recovers after a restart', async () => {
    const a = await start();
    const b = await start();
    const seenByB = recordUpdates(b);
    const states: string[] = [];
    a.onStateChange((s) => states.push(s));
    await nats.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => a.state === 'unavailable', 'A becomes unavailable', 2_000);
    expect(Date.now() - killedAt).toBeLessThan(2_000);
    const publishStarted = Date.now();
    await expect(a.publish(newEnvironment(), 1)).rejects.toBeInstanceOf(BrokerUnavailableError);
    expect(Date.now() - publishStarted).toBeLessThan(500);

    await nats.restart();
    await waitFor(() => a.state === 'ready' && b.state === 'ready', 'both reconnect', 10_000);
    expect(states).toEqual(['unavailable', 'ready']);
    const env = newEnvironment();
    expect(await a.publish(env, 99.5)).toBe('published');
    await waitFor(() => timestampsOf(seenByB, env).length === 1, 'B receives it', 10_000);
  });
});

describe('JetStreamBroker with a memory stream', () => {
  const brokers: Broker[] = [];
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.close()));
  });

  it('recreates the stream lost in a NATS restart and follows it again', async () => {
    await using nats = await startNatsServer();
    const a = await startJetStreamBroker([nats.url], brokers, { storage: 'memory' });
    const b = await startJetStreamBroker([nats.url], brokers, { storage: 'memory' });
    const seenByB = recordUpdates(b);
    const env = newEnvironment();
    const before = newEnvironment();
    for (let i = 1; i <= 5; i++) await a.publish(before, i);
    await nats.restart();
    await waitFor(() => a.state === 'ready' && b.state === 'ready', 'both reconnect', 10_000);
    // The new stream's sequences start at 1 again; delivery must not wait for the old cursor.
    await waitFor(
      async () => (await a.publish(env, 50.5).catch(() => undefined)) === 'published',
      'a publish succeeds once the stream is back',
      10_000,
    );
    await waitFor(() => b.latest(env) === 50.5, 'B follows the new stream', 10_000);
    expect(timestampsOf(seenByB, env)).toEqual([50.5]);
    // An environment remembered from the old stream (at a higher sequence) still publishes.
    expect(await a.publish(before, 6)).toBe('published');
    await waitFor(() => b.latest(before) === 6, 'B receives it');
  });
});

describe('JetStreamBroker start', () => {
  const brokers: Broker[] = [];
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.close()));
  });

  it('rejects with NatsStartError when NATS is unreachable', async () => {
    await using nats = await startNatsServer();
    const url = nats.url;
    await nats.stop();
    const error = await startJetStreamBroker([url], brokers, {
      startTimeoutMs: 600,
      reconnectTimeWaitMs: 100,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsStartError);
    expect((error as Error).message).toContain(url);
  });

  it('authenticates with user and password, and fails clearly without them', async () => {
    await using nats = await startNatsServer({
      config: 'authorization { user: "flagsmith", password: "s3cret-pass" }',
    });
    const broker = await startJetStreamBroker([nats.url], brokers, {
      credentials: { user: 'flagsmith', pass: 's3cret-pass' },
    });
    expect(broker.state).toBe('ready');
    const error = await startJetStreamBroker([nats.url], brokers, {
      startTimeoutMs: 300,
      reconnectTimeWaitMs: 100,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsStartError);
    expect((error as Error).message).not.toContain('s3cret-pass');
  });

  it('authenticates with a token', async () => {
    await using nats = await startNatsServer({ config: 'authorization { token: "t0ken-value" }' });
    const broker = await startJetStreamBroker([nats.url], brokers, {
      credentials: { token: 't0ken-value' },
    });
    expect(broker.state).toBe('ready');
  });

  it('authenticates with an NKey seed', async () => {
    const user = nkeys.createUser();
    await using nats = await startNatsServer({
      config: `authorization { users: [ { nkey: "${user.getPublicKey()}" } ] }`,
    });
    const broker = await startJetStreamBroker([nats.url], brokers, {
      credentials: { nkeySeed: new TextDecoder().decode(user.getSeed()) },
    });
    expect(await broker.publish(newEnvironment(), 8.5)).toBe('published');
  });

  it('connects over mutual TLS with CA, certificate and key files', async () => {
    using tls = createTlsFiles();
    await using nats = await startNatsServer({
      config: `tls { cert_file: "${tls.serverCert}", key_file: "${tls.serverKey}", ca_file: "${tls.caFile}", verify: true }`,
    });
    const broker = await startJetStreamBroker([nats.url], brokers, {
      tls: { caFile: tls.caFile, certFile: tls.clientCert, keyFile: tls.clientKey },
    });
    expect(broker.state).toBe('ready');
    const env = newEnvironment();
    expect(await broker.publish(env, 3.5)).toBe('published');
    // Without the client certificate the server refuses the connection.
    const error = await startJetStreamBroker([nats.url], brokers, {
      tls: { caFile: tls.caFile },
      startTimeoutMs: 300,
      reconnectTimeWaitMs: 100,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsStartError);
  });

  it('lists every differing setting of an existing stream', async () => {
    await using nats = await startNatsServer();
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: STREAM_SETTINGS.name,
      subjects: [...STREAM_SETTINGS.subjects],
      max_msgs_per_subject: 5,
      max_age: nanos(STREAM_SETTINGS.maxAgeMs),
      duplicate_window: nanos(60_000),
      discard: DiscardPolicy.Old,
      storage: StorageType.Memory,
      allow_direct: true,
    });
    await nc.close();
    const error = await startJetStreamBroker([nats.url], brokers, { storage: 'file' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StreamConfigMismatchError);
    const mismatch = error as StreamConfigMismatchError;
    expect(mismatch.code).toBe('stream_config_mismatch');
    expect(mismatch.differences).toEqual([
      { setting: 'max_msgs_per_subject', expected: 1, actual: 5 },
      {
        setting: 'duplicate_window',
        expected: nanos(STREAM_SETTINGS.duplicateWindowMs),
        actual: nanos(60_000),
      },
      { setting: 'storage', expected: 'file', actual: 'memory' },
    ]);
    expect(mismatch.message).toContain('max_msgs_per_subject: expected 1, found 5');
  });

  it('creates the stream with the protocol settings', async () => {
    await using nats = await startNatsServer();
    await startJetStreamBroker([nats.url], brokers, { storage: 'memory', replicas: 1 });
    const nc = await connect({ servers: nats.url });
    const info = await (await jetstreamManager(nc)).streams.info(STREAM_SETTINGS.name);
    await nc.close();
    expect(info.config).toMatchObject({
      subjects: [...STREAM_SETTINGS.subjects],
      max_msgs_per_subject: STREAM_SETTINGS.maxMsgsPerSubject,
      max_age: nanos(STREAM_SETTINGS.maxAgeMs),
      duplicate_window: nanos(STREAM_SETTINGS.duplicateWindowMs),
      discard: 'old',
      storage: 'memory',
      num_replicas: 1,
      allow_direct: true,
    });
  });
});

/** The state letter of a Linux process (`R`, `S`, `T` for stopped, ...). */
function processState(pid: number): string | undefined {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}
