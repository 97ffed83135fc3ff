// The client's behaviour suite, written once and registered per runtime (Node, Chromium).
import { startNatsServer } from '@flagsmith-rt/nats-launcher';
import { formatTimestamp } from '@flagsmith-rt/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeConfig, ProbeSnapshot } from './harness/harness.js';
import { startFixedServer } from './support/fixed-server.js';
import { type SseProcess, startSse } from './support/sse-server.js';
import { waitFor } from './support/wait.js';

/** How the scenarios drive a client living in some runtime. */
export interface ClientRuntime {
  open(config: ProbeConfig): Promise<number>;
  snapshot(id: number): Promise<ProbeSnapshot>;
  releaseFetch(id: number): Promise<boolean>;
  close(id: number): Promise<void>;
  /** Timers and sockets held right now, as far as the runtime can count them. */
  resources(): Promise<number>;
}

/** Fast reconnects, so that the suite stays short. */
const QUICK_BACKOFF = { baseMs: 100, capMs: 400 };

let keyCounter = 0;
const newKey = (): string => `client_${Date.now().toString(36)}_${keyCounter++}`;
let clock = 1_735_229_888.25;
/** A fresh timestamp, later than every earlier one, with a fractional part. */
const nextTimestamp = (): number => {
  clock += 1.5;
  return clock;
};
const updateFrames = (body: string): number => body.split('event: environment_updated').length - 1;

/** Registers every behaviour scenario against the runtime returned by `runtime()`. */
export function describeClientBehaviour(name: string, runtime: () => ClientRuntime): void {
  describe(`client behaviour (${name})`, () => {
    let nats: Awaited<ReturnType<typeof startNatsServer>>;
    let shared: SseProcess;
    const started: { stop(): Promise<void> }[] = [];
    const rt = () => runtime();

    const snap = (id: number) => rt().snapshot(id);
    const until = async (id: number, what: string, check: (s: ProbeSnapshot) => boolean) =>
      waitFor(what, async () => {
        const s = await snap(id);
        return check(s) ? s : undefined;
      });
    const open = async (config: Omit<ProbeConfig, 'backoff'> & Partial<ProbeConfig>) => {
      const id = await rt().open({ backoff: QUICK_BACKOFF, ...config });
      return id;
    };
    const sse = async (options: Parameters<typeof startSse>[0] = {}) => {
      const server = await startSse({ natsUrl: nats.url, ...options });
      started.push(server);
      return server;
    };

    beforeAll(async () => {
      nats = await startNatsServer();
      shared = await sse();
    });

    afterAll(async () => {
      await Promise.all(started.map((s) => s.stop()));
      await nats?.stop();
    });

    it('receives updates', async () => {
      const key = newKey();
      const id = await open({ baseUrl: shared.url, environmentKey: key });
      await until(id, 'open', (s) => s.state === 'open');
      const [t1, t2] = [nextTimestamp(), nextTimestamp()];
      await shared.publish(key, t1);
      await shared.publish(key, t2);
      const s = await until(id, 'two updates', (s) => s.updates.length === 2);
      expect(s.updates).toEqual([t1, t2]);
      expect(s.updatedAt).toBe(t2);
      await rt().close(id);
    });

    it('ignores timestamps older than or equal to its baseline', async () => {
      const key = newKey();
      const t1 = nextTimestamp();
      await shared.publish(key, t1);
      const equal = await open({ baseUrl: shared.url, environmentKey: key, baseline: t1 });
      const newer = await open({ baseUrl: shared.url, environmentKey: key, baseline: t1 + 1 });
      // Both receive t1 as the initial event, and must ignore it.
      for (const id of [equal, newer]) {
        await until(id, 'initial event', (s) => updateFrames(s.connections[0]?.body ?? '') === 1);
      }
      const t2 = t1 + 2;
      await shared.publish(key, t2);
      for (const id of [equal, newer]) {
        const s = await until(id, 'newer update', (s) => s.updates.length > 0);
        expect(s.updates).toEqual([t2]);
        await rt().close(id);
      }
    });

    it('runs exactly one follow-up fetch for updates that arrive during a fetch', async () => {
      const key = newKey();
      const id = await open({ baseUrl: shared.url, environmentKey: key, fetchFlags: 'gated' });
      await until(id, 'open', (s) => s.state === 'open');
      const [t1, t2, t3, t4] = [nextTimestamp(), nextTimestamp(), nextTimestamp(), nextTimestamp()];
      await shared.publish(key, t1);
      await until(id, 'first fetch', (s) => s.fetches.length === 1);
      await shared.publish(key, t2);
      await shared.publish(key, t3);
      await until(id, 'three events', (s) => updateFrames(s.connections[0]!.body) === 3);
      expect((await snap(id)).fetches).toHaveLength(1);

      expect(await rt().releaseFetch(id)).toBe(true);
      let s = await until(id, 'follow-up fetch', (s) => s.fetches.length === 2);
      expect(s.fetches.map((f) => f.updatedAt)).toEqual([t1, t3]);
      expect(s.updates).toEqual([t1]);

      expect(await rt().releaseFetch(id)).toBe(true);
      s = await until(id, 'second update', (s) => s.updates.length === 2);
      expect(s.updates).toEqual([t1, t3]);

      // A later update starts the next fetch: nothing else was queued in between.
      await shared.publish(key, t4);
      s = await until(id, 'third fetch', (s) => s.fetches.length === 3);
      expect(s.fetches.map((f) => f.updatedAt)).toEqual([t1, t3, t4]);
      await rt().releaseFetch(id);
      await until(id, 'third update', (s) => s.updates.length === 3);
      await rt().close(id);
    });

    it('retries a failed fetch with backoff and moves the baseline only on success', async () => {
      const key = newKey();
      const id = await open({
        baseUrl: shared.url,
        environmentKey: key,
        fetchFlags: 'fail',
        failures: 2,
        backoff: { baseMs: 30, capMs: 100 },
      });
      await until(id, 'open', (s) => s.state === 'open');
      const t1 = nextTimestamp();
      await shared.publish(key, t1);
      const s = await until(id, 'update after retries', (s) => s.updates.length === 1);
      expect(s.fetches).toEqual([
        { updatedAt: t1, baseline: undefined },
        { updatedAt: t1, baseline: undefined },
        { updatedAt: t1, baseline: undefined },
      ]);
      expect(s.errors.filter((e) => e.code === 'fetch_flags_failed')).toEqual([
        { code: 'fetch_flags_failed', retryable: true },
        { code: 'fetch_flags_failed', retryable: true },
      ]);
      expect(s.updatedAt).toBe(t1);
      await rt().close(id);
    });

    it('reconnects after the server restarts and receives the update published meanwhile', async () => {
      const key = newKey();
      const server = await sse();
      const other = await sse();
      const id = await open({ baseUrl: server.url, environmentKey: key });
      await until(id, 'open', (s) => s.state === 'open');
      const t1 = nextTimestamp();
      await other.publish(key, t1);
      await until(id, 'first update', (s) => s.updates.length === 1);

      await server.kill('SIGKILL');
      await until(id, 'connection lost', (s) => s.state === 'waiting');
      // Published through another instance while this client's instance is down.
      const t2 = nextTimestamp();
      await other.publish(key, t2);
      await server.restart();

      const s = await until(id, 'update published while away', (s) => s.updates.length === 2);
      expect(s.updates).toEqual([t1, t2]);
      expect(s.errors.some((e) => e.code === 'network_error' || e.code === 'stream_ended')).toBe(
        true,
      );
      const last = s.connections.at(-1)!;
      expect(last.status).toBe(200);
      expect(updateFrames(last.body)).toBe(1);
      await rt().close(id);
    });

    it('resumes with Last-Event-ID without a duplicate update', async () => {
      const key = newKey();
      const server = await sse();
      const id = await open({ baseUrl: server.url, environmentKey: key });
      await until(id, 'open', (s) => s.state === 'open');
      const t1 = nextTimestamp();
      await server.publish(key, t1);
      let s = await until(id, 'first update', (s) => s.updates.length === 1);
      expect(s.lastEventId).toBe(formatTimestamp(t1));

      await server.kill('SIGKILL');
      await until(id, 'connection lost', (s) => s.state === 'waiting');
      await server.restart();
      s = await until(
        id,
        'reconnected',
        (s) =>
          s.state === 'open' && s.connections.at(-1)!.status === 200 && s.connections.length > 1,
      );
      expect(s.connections.at(-1)!.sentLastEventId).toBe(formatTimestamp(t1));

      const t2 = nextTimestamp();
      await server.publish(key, t2);
      s = await until(id, 'next update', (s) => s.updates.length === 2);
      expect(s.updates).toEqual([t1, t2]);
      // The service skipped the initial event: the resumed stream carried only t2.
      expect(updateFrames(s.connections.at(-1)!.body)).toBe(1);
      await rt().close(id);
    });

    it('detects a dead connection by the missing keep-alives and reconnects', async () => {
      const key = newKey();
      const server = await sse({ keepaliveSeconds: 0.1 });
      const id = await open({
        baseUrl: server.url,
        environmentKey: key,
        livenessTimeoutMs: 700,
        backoff: { baseMs: 50, capMs: 200 },
      });
      // Keep-alives for well over one liveness timeout keep the connection up.
      let s = await until(
        id,
        'keep-alives',
        (s) => (s.connections[0]?.body.split(': ping').length ?? 0) > 12,
      );
      expect(s.errors).toEqual([]);
      expect(s.connections).toHaveLength(1);

      server.pause();
      try {
        s = await until(id, 'liveness timeout', (s) =>
          s.errors.some((e) => e.code === 'liveness_timeout'),
        );
        expect(s.connections[0]!.ended).toBe(true);
      } finally {
        server.resume();
      }
      s = await until(id, 'reconnected', (s) => s.state === 'open' && s.connections.length > 1);
      const t1 = nextTimestamp();
      await server.publish(key, t1);
      s = await until(id, 'update after reconnect', (s) => s.updates.length === 1);
      expect(s.updates).toEqual([t1]);
      await rt().close(id);
    });

    it('ignores comments, unknown events and malformed data without reconnecting', async () => {
      const fixed = await startFixedServer({
        stream: [
          ': a comment\n\n',
          'event: something_else\ndata: {"updated_at": 1.5}\n\n',
          'event: environment_updated\ndata: not json\n\n',
          'event: environment_updated\ndata: {"updated_at": "soon"}\n\n',
          'unknown_field: 1\n\n',
          'event: environment_updated\ndata: {"updated_at": 1735229999.5}\n\n',
        ].join(''),
      });
      started.push(fixed);
      const id = await open({ baseUrl: fixed.url, environmentKey: newKey() });
      const s = await until(id, 'the valid update', (s) => s.updates.length === 1);
      expect(s.updates).toEqual([1_735_229_999.5]);
      expect(s.errors.map((e) => e.code).sort()).toEqual([
        'malformed_event',
        'malformed_event',
        'malformed_event',
        'unknown_event',
      ]);
      expect(s.state).toBe('open');
      expect(s.connections).toHaveLength(1);
      await rt().close(id);
    });

    it('drops and reconnects a stream that overflows the parser buffer', async () => {
      // One endless line: without the parser's limit it would be buffered forever.
      const fixed = await startFixedServer({ stream: `data: ${'x'.repeat(4096)}` });
      started.push(fixed);
      const id = await open({ baseUrl: fixed.url, environmentKey: newKey(), maxBufferSize: 1024 });
      const s = await until(id, 'a reconnect', (s) => s.connections.length >= 2);
      await rt().close(id);
      expect(s.errors[0]).toEqual({ code: 'buffer_overflow', retryable: true });
      expect(s.connections[0]!.ended).toBe(true);
      expect(s.updates).toEqual([]);
    });

    it('treats a 200 that is not text/event-stream as fatal', async () => {
      const fixed = await startFixedServer({ status: 200 });
      started.push(fixed);
      const id = await open({ baseUrl: fixed.url, environmentKey: newKey() });
      const s = await until(id, 'closed', (s) => s.state === 'closed');
      expect(s.errors).toEqual([{ code: 'invalid_content_type', retryable: false, status: 200 }]);
      expect(fixed.requests).toBe(1);
    });

    it('grows the backoff while connections fail and resets it after a healthy one', async () => {
      const backoff = { baseMs: 20, capMs: 10_000, resetAfterMs: 150 };
      const brief = await startFixedServer({ stream: ': hello\n\n', closeAfterMs: 0 });
      const healthy = await startFixedServer({ stream: ': hello\n\n', closeAfterMs: 300 });
      started.push(brief, healthy);
      const failing = await open({ baseUrl: brief.url, environmentKey: newKey(), backoff });
      const steady = await open({ baseUrl: healthy.url, environmentKey: newKey(), backoff });
      const a = await until(failing, 'four quick ends', (s) => s.waits.length >= 4);
      const b = await until(steady, 'three healthy ends', (s) => s.waits.length >= 3);
      await rt().close(failing);
      await rt().close(steady);
      expect(a.waits.slice(0, 4).map((w) => w.attempt)).toEqual([1, 2, 3, 4]);
      for (const w of a.waits) expect(w.delayMs).toBeLessThan(20 * 2 ** (w.attempt - 1));
      expect(b.waits.slice(0, 3).map((w) => w.attempt)).toEqual([1, 1, 1]);
      expect(b.errors.slice(0, 3).map((e) => e.code)).toEqual([
        'stream_ended',
        'stream_ended',
        'stream_ended',
      ]);
    });

    it('stops on 204 No Content', async () => {
      const fixed = await startFixedServer({ status: 204 });
      started.push(fixed);
      const id = await open({ baseUrl: fixed.url, environmentKey: newKey() });
      const s = await until(id, 'closed', (s) => s.state === 'closed');
      expect(s.errors).toEqual([{ code: 'no_content', retryable: false, status: 204 }]);
      expect(fixed.requests).toBe(1);
    });

    it('treats 401 and 404 as fatal', async () => {
      const fixed = await startFixedServer({ status: 401 });
      started.push(fixed);
      const unauthorized = await open({ baseUrl: fixed.url, environmentKey: newKey() });
      // The real service answers 404 under an unknown path prefix.
      const missing = await open({
        baseUrl: `${shared.url}/no-such-prefix/`,
        environmentKey: newKey(),
      });
      for (const [id, status] of [
        [unauthorized, 401],
        [missing, 404],
      ] as const) {
        const s = await until(id, `closed after ${status}`, (s) => s.state === 'closed');
        expect(s.errors).toEqual([{ code: 'http_status', retryable: false, status }]);
        expect(s.connections).toHaveLength(1);
      }
      expect(fixed.requests).toBe(1);
    });

    it('retries 503 and waits at least its Retry-After', async () => {
      const fixed = await startFixedServer({ status: 503, retryAfter: 1 });
      started.push(fixed);
      const id = await open({ baseUrl: fixed.url, environmentKey: newKey() });
      const s = await until(id, 'a retry', (s) => s.connections.length === 2);
      await rt().close(id);
      expect(s.errors[0]).toEqual({ code: 'http_status', retryable: true, status: 503 });
      expect(s.states.slice(0, 3)).toEqual(['connecting', 'waiting', 'connecting']);
      expect(s.connections[1]!.at - s.connections[0]!.at).toBeGreaterThanOrEqual(1000);
    });

    it('close() leaves nothing running', async () => {
      const key = newKey();
      const before = await rt().resources();
      const id = await open({ baseUrl: shared.url, environmentKey: key });
      await until(id, 'open', (s) => s.state === 'open');
      // While open the client holds a timer and a socket. Other tests' leftovers (a pooled
      // fetch socket) may come and go meanwhile, so this is compared after the release below.
      const during = await rt().resources();
      await rt().close(id);
      const s = await until(
        id,
        'stream released',
        (s) => s.state === 'closed' && s.connections[0]!.ended,
      );
      expect(s.states.at(-1)).toBe('closed');
      await waitFor('timers and sockets released', async () => (await rt().resources()) <= before);
      expect(await rt().resources()).toBeLessThan(during);

      // A live subscriber still gets the next update; the closed one neither receives nor reconnects.
      const control = await open({ baseUrl: shared.url, environmentKey: key });
      await until(control, 'control open', (s) => s.state === 'open');
      const t1 = nextTimestamp();
      await shared.publish(key, t1);
      await until(control, 'control update', (s) => s.updates.length === 1);
      const after = await snap(id);
      expect(after.updates).toEqual([]);
      expect(after.connections).toHaveLength(1);
      await rt().close(control);
    });
  });
}
