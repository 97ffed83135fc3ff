import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type NatsServer, startNatsServer } from '@flagsmith-rt/nats-launcher';
import {
  decodeUpdateMessage,
  formatTimestamp,
  STREAM_SETTINGS,
  subjectFor,
} from '@flagsmith-rt/protocol';
import { PublishConflictError, publishUpdate } from '@flagsmith-rt/server/jetstream';
import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { mainRunner, type Running } from './helpers/process.js';
import { frame, SseClient, waitFor } from './helpers/sse-client.js';

// Two apps/sse processes (the built entry point) on one real nats-server, and
// publishers that write to NATS directly: the TypeScript publisher, raw messages
// as any client could write them, and the nats-py recipe from docs/examples.

const MAIN = inject('mainPath');
const TOKEN = 'direct-publish-token';
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const PYTHON = `${REPO}.cache/python/bin/python`;
const RECIPE = `${REPO}docs/examples/publish_direct.py`;
const SKIPPED = 'Skipped a message that is not an update';
const utf8 = (text: string) => new TextEncoder().encode(text);

const { run, stopAll } = mainRunner(MAIN);
let nats: NatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
const clients: SseClient[] = [];
let environmentCount = 0;

interface Instance {
  process: Running;
  port: number;
}

beforeEach(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  js = jetstream(nc);
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await stopAll();
  await nc.close();
  await nats.stop();
});

/** A fresh environment key for each test. */
function environment(): string {
  return `direct_${process.pid}_${++environmentCount}`;
}

/** Starts one instance on the test's NATS and waits until it listens and is ready. */
async function instance(): Promise<Instance> {
  const r = run({
    PORT: '0',
    NATS_URL: nats.url,
    STREAM_STORAGE: 'memory',
    SSE_AUTHENTICATION_TOKEN: TOKEN,
    SSE_WORKERS: '1',
    DRAIN_WINDOW: '0',
  });
  const line = await waitFor(
    () => r.logs().find((l) => l.msg === 'listening'),
    `the listening line; stdout ${r.stdout()} stderr ${r.stderr()}`,
    15_000,
  );
  const port = Number(new URL(String(line.url)).port);
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
    'the instance ready',
  );
  return { process: r, port };
}

async function subscribe(port: number, env: string): Promise<SseClient> {
  const client = await SseClient.open(port, env);
  clients.push(client);
  await client.until((t) => t.includes('\r\n\r\n'), 'the stream head');
  return client;
}

async function queueChange(port: number, env: string, updatedAt: string | number) {
  const res = await fetch(`http://127.0.0.1:${port}/sse/environments/${env}/queue-change`, {
    method: 'POST',
    headers: { authorization: `Token ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ updated_at: updatedAt }),
  });
  return { status: res.status, body: (await res.json()) as { result?: string } };
}

/** Writes a raw message as a careless publisher would: no dedupe id, no compare-and-set. */
async function rawWrite(env: string, payload: string, msgID?: string): Promise<boolean> {
  const ack = await js.publish(subjectFor(env), utf8(payload), msgID ? { msgID } : {});
  return ack.duplicate;
}

/** The timestamp the stream holds for an environment (undefined if none or unreadable). */
async function streamLatest(env: string): Promise<number | undefined> {
  const jsm = await jetstreamManager(nc);
  const stored = await jsm.direct.getMessage(STREAM_SETTINGS.name, {
    last_by_subj: subjectFor(env),
  });
  if (stored === null) return undefined;
  const decoded = decodeUpdateMessage(stored.data);
  return decoded.ok ? decoded.value : undefined;
}

/** The timestamps a stream delivered, in order. */
function delivered(client: SseClient): number[] {
  return [...client.body.matchAll(/^data: \{"updated_at": ([\d.]+)\}$/gm)].map((m) => Number(m[1]));
}

async function readErrors(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metricsz`)).text();
  const match = /^flagsmith_sse_nats_errors_total\{operation="read"\} (\d+)$/m.exec(text);
  return Number(match?.[1] ?? Number.NaN);
}

describe('publishers writing straight to NATS, two instances', () => {
  it('a publishUpdate and raw messages in every accepted payload form reach both instances, each once', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const env = environment();
    const onA = await subscribe(a.port, env);
    const onB = await subscribe(b.port, env);

    expect(await publishUpdate(js, env, '2024-12-26T16:18:08.760000+00:00')).toBe('published');
    const expected = [frame('1735229888.76')];
    for (const s of [onA, onB]) await s.until((t) => t.endsWith(expected[0]!), 'the update');

    // Duplicates: publishUpdate again, the same raw message with the same dedupe id (dropped
    // by JetStream), and the same timestamp in another form without one (stored, not newer).
    expect(await publishUpdate(js, env, 1735229888760)).toBe('duplicate');
    expect(await rawWrite(env, '{"updated_at": 1735229888.76}', `${env}:1735229888.76`)).toBe(true);
    await rawWrite(env, '{"updated_at": "2024-12-26T16:18:08.76Z"}');

    // Each payload form a queue-change body accepts, as a raw message; the service
    // normalises it to the same float seconds on the wire.
    const forms: Array<[string, number]> = [
      ['{"updated_at": 1735229900}', 1735229900],
      ['{"updated_at": 1735229901500}', 1735229901.5],
      ['{"updated_at": "1735229902.25"}', 1735229902.25],
      ['{"updated_at": "2024-12-26T17:18:23.5+01:00"}', 1735229903.5],
      ['{"updated_at": "2024-12-26T16:18:24Z"}', 1735229904],
      ['{"updated_at": "2024-12-26T16:18:25.125"}', 1735229905.125],
      ['{"updated_at": 1735229906.75, "source": "task-processor"}', 1735229906.75],
    ];
    for (const [payload, seconds] of forms) {
      await rawWrite(env, payload);
      expected.push(frame(formatTimestamp(seconds)));
      for (const s of [onA, onB]) {
        await s.until((t) => t.endsWith(expected.at(-1)!), `the raw form ${payload}`);
      }
    }
    expect(onA.body).toBe(expected.join(''));
    expect(onB.body).toBe(expected.join(''));
  });

  it('an older direct write moves nothing backwards: not in memory, not for later subscribers, not after both instances restart', async () => {
    let [a, b] = await Promise.all([instance(), instance()]);
    const env = environment();
    const onA = await subscribe(a.port, env);
    const onB = await subscribe(b.port, env);
    expect((await queueChange(a.port, env, 1735229888.76)).body.result).toBe('published');
    for (const s of [onA, onB]) await s.until((t) => t.endsWith(frame('1735229888.76')), 'it');

    // A careless publisher replaces the stream's only message with an older timestamp.
    await rawWrite(env, '{"updated_at": "2020-01-01T00:00:00Z"}');
    // The instances write the newest back (compare-and-set over the older message).
    await waitFor(async () => (await streamLatest(env)) === 1735229888.76, 'the newest back');
    const late = await subscribe(b.port, env);
    await late.until((t) => t.endsWith(frame('1735229888.76')), 'the initial event');
    expect((await queueChange(b.port, env, 1735229000)).body.result).toBe('stale');

    // Every instance restarts: what they read from the stream is still the newest.
    await stopAll();
    [a, b] = await Promise.all([instance(), instance()]);
    for (const port of [a.port, b.port]) {
      const after = await subscribe(port, env);
      await after.until(
        (t) => t.endsWith(frame('1735229888.76')),
        'the initial event after restart',
      );
      expect(delivered(after)).toEqual([1735229888.76]);
    }
    for (const s of [onA, onB, late]) expect(delivered(s)).toEqual([1735229888.76]);
  });

  it('malformed messages are counted, logged once per environment per minute, and the consumer keeps going', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const env = environment();
    const onA = await subscribe(a.port, env);
    const onB = await subscribe(b.port, env);
    const bad = ['not json', '{"updated_at": "soon"}', '{}', '{"updated_at": -5}', '[1]'];
    // One at a time: the stream keeps one message per subject, so a write that lands before the
    // consumers read the one before would replace it unread.
    for (const [index, payload] of bad.entries()) {
      await rawWrite(env, payload);
      for (const i of [a, b]) {
        await waitFor(
          async () => (await readErrors(i.port)) === index + 1,
          `read error ${index + 1}`,
        );
      }
    }
    expect(await publishUpdate(js, env, 1735229888.76)).toBe('published');
    for (const s of [onA, onB]) await s.until((t) => t.endsWith(frame('1735229888.76')), 'it');

    for (const i of [a, b]) {
      expect(await readErrors(i.port)).toBe(bad.length);
      const lines = i.process.logs().filter((l) => l.msg === SKIPPED && l.environment === env);
      expect(lines).toHaveLength(1);
    }
    expect(onA.body).toBe(frame('1735229888.76'));
  });

  it('mixed queue-change and direct publishes to one environment end at the newest everywhere', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const env = environment();
    const onA = await subscribe(a.port, env);
    const onB = await subscribe(b.port, env);
    const base = 1_735_229_000;
    const ports = [a.port, b.port];
    // Interleaved timestamps so older ones often arrive after newer ones, from both ways in.
    const attempts = Array.from({ length: 60 }, (_, i) => ({
      i,
      updatedAt: base + ((i * 37) % 60),
    }));
    const acknowledged = await Promise.all(
      attempts.map(async ({ i, updatedAt }) => {
        if (i % 2 === 0) {
          const res = await queueChange(ports[i % 4 === 0 ? 0 : 1]!, env, updatedAt);
          return res.status === 200 ? updatedAt : 0;
        }
        try {
          await publishUpdate(js, env, updatedAt, { maxAttempts: 10 });
          return updatedAt;
        } catch (error) {
          expect(error).toBeInstanceOf(PublishConflictError);
          return 0;
        }
      }),
    );
    const newest = Math.max(...acknowledged);
    expect(newest).toBeGreaterThan(base);
    const last = frame(formatTimestamp(newest));
    for (const s of [onA, onB]) await s.until((t) => t.endsWith(last), 'the newest');
    expect(await streamLatest(env)).toBe(newest);
    for (const s of [onA, onB]) {
      const seen = delivered(s);
      expect(seen.every((v, k) => k === 0 || v > seen[k - 1]!)).toBe(true);
    }
    for (const port of ports) {
      const later = await subscribe(port, env);
      await later.until((t) => t.endsWith(last), 'the initial event');
      expect(delivered(later)).toEqual([newest]);
    }
  });

  it('the nats-py recipe (docs/examples/publish_direct.py) publishes with compare-and-set to both instances', async () => {
    if (!existsSync(PYTHON)) {
      throw new Error(
        `${PYTHON} is missing: run \`bash tools/scripts/setup.sh --test\` to install nats-py.`,
      );
    }
    const [a, b] = await Promise.all([instance(), instance()]);
    const env = environment();
    const onA = await subscribe(a.port, env);
    const onB = await subscribe(b.port, env);
    const recipe = async (updatedAt: string) =>
      (
        await promisify(execFile)(PYTHON, [RECIPE, env, updatedAt, '--nats', nats.url], {
          timeout: 20_000,
        })
      ).stdout.trim();

    expect(await recipe('2024-12-26T16:18:08.760000+00:00')).toBe('published');
    for (const s of [onA, onB]) await s.until((t) => t.endsWith(frame('1735229888.76')), 'it');
    // The same dedupe id and comparison as the service: HTTP sees it as a duplicate.
    expect((await queueChange(b.port, env, 1735229888.76)).body.result).toBe('duplicate');
    expect(await recipe('1735229888760')).toBe('duplicate');
    expect(await recipe('2024-12-26T16:00:00')).toBe('stale');

    expect((await queueChange(a.port, env, 1735229999.5)).body.result).toBe('published');
    expect(await recipe('1735229999')).toBe('stale');
    expect(await recipe('2024-12-26T16:20:00')).toBe('published');
    const last = frame('1735230000.0');
    for (const s of [onA, onB]) await s.until((t) => t.endsWith(last), 'the second recipe write');
    expect(delivered(onA)).toEqual([1735229888.76, 1735229999.5, 1735230000]);
    expect(delivered(onB)).toEqual([1735229888.76, 1735229999.5, 1735230000]);
    expect(await streamLatest(env)).toBe(1735230000);
  });
});

describe('the contract headers', () => {
  it('JetStream refuses a raw write whose expected last subject sequence is out of date', async () => {
    const a = await instance();
    const env = environment();
    expect((await queueChange(a.port, env, 1735229888.76)).body.result).toBe('published');
    const h = natsHeaders();
    h.set('Nats-Expected-Last-Subject-Sequence', '0');
    const refused = await nc
      .request(subjectFor(env), utf8('{"updated_at": 1}'), { headers: h, timeout: 2000 })
      .then((m) => m.string());
    expect(refused).toContain('wrong last sequence');
    expect(await streamLatest(env)).toBe(1735229888.76);
  });
});
