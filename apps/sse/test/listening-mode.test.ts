import { startNatsServer } from '@flagsmith-rt/nats-launcher';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig, runtimeHasReusePort } from '../src/config.js';
import { describeListening } from '../src/instance.js';
import { testConfig } from './helpers/config.js';
import { logLine, mainRunner } from './helpers/process.js';
import { listenersOf, ownerOfConnection } from './helpers/sockets.js';
import { frame, publishOnce, SseClient, waitFor } from './helpers/sse-client.js';

const MAIN = inject('mainPath');
const ENV = 'n9fbf9h3v4fFgH3U3ngWhb';
const TOKEN = 'listening-mode-token';
const NATS = { NATS_URL: 'nats://n:4222' };
const noFiles = (path: string): string => {
  throw new Error(`no file ${path}`);
};

const { run, stopAll } = mainRunner(MAIN);
const clients: SseClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await stopAll();
});

async function open(port: number, count: number): Promise<SseClient[]> {
  const opened = await Promise.all(Array.from({ length: count }, () => SseClient.open(port, ENV)));
  clients.push(...opened);
  await Promise.all(opened.map((s) => s.until((t) => t.includes('\r\n\r\n'), 'the head')));
  return opened;
}

/** The worker (of `pids`) serving each stream, read from the kernel's socket tables. */
function owners(port: number, streams: SseClient[], pids: number[]): Array<number | undefined> {
  return streams.map((s) => ownerOfConnection(port, s.socket.localPort ?? 0, pids));
}

describe('SSE_REUSE_PORT and the runtime', () => {
  it('reusePort exists from Node 22.12 and 23.1, on Linux', () => {
    expect(runtimeHasReusePort('20.20.2', 'linux')).toBe(false);
    expect(runtimeHasReusePort('22.11.0', 'linux')).toBe(false);
    expect(runtimeHasReusePort('22.12.0', 'linux')).toBe(true);
    expect(runtimeHasReusePort('23.0.0', 'linux')).toBe(false);
    expect(runtimeHasReusePort('23.1.0', 'linux')).toBe(true);
    expect(runtimeHasReusePort('24.22.3', 'linux')).toBe(true);
    expect(runtimeHasReusePort('24.22.3', 'darwin')).toBe(false);
    expect(runtimeHasReusePort('24.22.3', 'win32')).toBe(false);
  });

  it('auto uses it with several workers where the runtime has it; off and one process never do', () => {
    const value = (env: Record<string, string>, available: boolean) => {
      const parsed = parseConfig({ ...NATS, ...env }, noFiles, 4, 24, available);
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      return { reusePort: parsed.value.reusePort, reusePortMode: parsed.value.reusePortMode };
    };
    expect(value({ SSE_WORKERS: '2' }, true)).toEqual({ reusePort: true, reusePortMode: 'auto' });
    expect(value({ SSE_WORKERS: '2' }, false)).toEqual({ reusePort: false, reusePortMode: 'auto' });
    expect(value({}, true)).toEqual({ reusePort: true, reusePortMode: 'auto' });
    expect(value({ SSE_WORKERS: '2', SSE_REUSE_PORT: 'OFF' }, true)).toEqual({
      reusePort: false,
      reusePortMode: 'off',
    });
    expect(value({ SSE_WORKERS: '2', SSE_REUSE_PORT: 'on' }, true)).toEqual({
      reusePort: true,
      reusePortMode: 'on',
    });
    expect(value({ SSE_WORKERS: '1', SSE_REUSE_PORT: 'on' }, true)).toEqual({
      reusePort: false,
      reusePortMode: 'on',
    });
  });

  it('refuses SSE_REUSE_PORT=on where the runtime lacks it, and unknown values, naming the variable', () => {
    const lacking = parseConfig({ ...NATS, SSE_REUSE_PORT: 'on' }, noFiles, 4, 20, false);
    expect(lacking.ok).toBe(false);
    if (!lacking.ok) {
      expect(lacking.errors).toHaveLength(1);
      expect(lacking.errors[0]?.variable).toBe('SSE_REUSE_PORT');
      expect(lacking.errors[0]?.message).toMatch(/Node\.js 22\.12\+.*SSE_REUSE_PORT=auto or off/);
    }
    const bad = parseConfig({ ...NATS, SSE_REUSE_PORT: 'yes' }, noFiles, 4, 24, true);
    expect(bad.ok).toBe(false);
    if (!bad.ok)
      expect(bad.errors[0]?.message).toBe(
        'SSE_REUSE_PORT must be one of auto, on, off, got "yes".',
      );
  });

  it('the listening line says how connections are accepted and whether h2c is on, and why', () => {
    const workers = testConfig({ workers: 4, reusePort: true, reusePortMode: 'auto' });
    expect(describeListening({ ...workers, h2c: false, h2cSource: 'runtime' }, '24.22.3')).toBe(
      '4 workers, reusePort; h2c off: Node 24, H2C=on to enable',
    );
    expect(
      describeListening(
        { ...workers, reusePort: false, h2c: false, h2cSource: 'runtime' },
        '20.20.2',
      ),
    ).toBe(
      '4 workers, the primary accepts and hands each socket over (Node 20 has no listen({ reusePort }), 22.12+ has); h2c off: Node 20, H2C=on to enable',
    );
    expect(
      describeListening({ ...workers, reusePort: false, reusePortMode: 'off' }, '24.22.3'),
    ).toBe(
      '4 workers, the primary accepts and hands each socket over (SSE_REUSE_PORT=off); h2c on (H2C=on)',
    );
    expect(describeListening(testConfig({ h2c: true, h2cSource: 'runtime' }), '24.1.0')).toBe(
      '1 process; h2c on (Node 24)',
    );
    expect(
      describeListening(testConfig({ tls: { cert: 'c', key: 'k' }, h2c: false }), '20.20.2'),
    ).toBe('1 process; TLS: h2 and http/1.1 by ALPN');
  });
});

describe(`SSE_WORKERS=2 on this runtime (Node ${process.versions.node})`, () => {
  const reusePort = runtimeHasReusePort();

  it(`${reusePort ? 'every worker binds the port itself (reusePort)' : 'the primary holds the one socket and hands connections over'}; streams reach both workers, and a killed worker's clients reconnect to the others`, async () => {
    await using nats = await startNatsServer();
    const r = run({
      PORT: '0',
      NATS_URL: nats.url,
      STREAM_STORAGE: 'memory',
      SSE_WORKERS: '2',
      SSE_AUTHENTICATION_TOKEN: TOKEN,
      DRAIN_WINDOW: '0.2',
      KEEPALIVE_INTERVAL: '60',
    });
    const ready = await logLine(r, (l) => l.msg === 'listening', 'the listening line');
    const port = Number(ready.port);
    const primary = r.child.pid as number;
    const [pidA, pidB] = ready.workerPids as [number, number];
    expect(ready.listening).toBe(reusePort ? 'reusePort' : 'primary');
    expect(String(ready.mode)).toMatch(
      reusePort ? /^2 workers, reusePort; h2c / : /^2 workers, the primary accepts/,
    );

    // Who holds a listening socket on the port decides who accepts connections.
    expect(listenersOf(port, [primary, pidA, pidB])).toEqual(reusePort ? [pidA, pidB] : [primary]);

    // 24 streams land on both workers (a one-worker outcome has odds of 2^-23), none stays
    // with the primary.
    const first = await open(port, 24);
    const served = owners(port, first, [primary, pidA, pidB]);
    expect(served).not.toContain(undefined);
    expect(served).not.toContain(primary);
    expect(new Set(served)).toEqual(new Set([pidA, pidB]));
    expect(await publishOnce(port, TOKEN, ENV, 1735229100)).toBe(200);
    await waitFor(
      () => first.every((s) => s.body.endsWith(frame('1735229100.0'))),
      'every stream got the update',
    );

    // Kill A: its streams close, and as many new connections as it had are all served, by B
    // (the kernel no longer picks A's closed socket) or by A's replacement once it is up.
    const onA = first.filter((_, i) => served[i] === pidA);
    process.kill(pidA, 'SIGKILL');
    await waitFor(() => onA.every((s) => s.isEnded), "the killed worker's streams closed");
    expect(first.filter((s) => s.isEnded)).toHaveLength(onA.length);
    const exited = await logLine(
      r,
      (l) => l.msg === 'worker exited; restarting' && l.workerPid === pidA,
      'the exit of worker A',
    );
    expect(exited.signal).toBe('SIGKILL');
    const back = await open(port, onA.length);
    expect(await publishOnce(port, TOKEN, ENV, 1735229200)).toBe(200);
    await waitFor(
      () => back.every((s) => s.body.endsWith(frame('1735229200.0'))),
      'every reconnected stream got the next update',
    );
    const restarted = await logLine(
      r,
      (l) => l.msg === 'worker listening' && l.worker === 0 && l.workerPid !== pidA,
      'the restarted worker listening',
    );
    const pidA2 = restarted.workerPid as number;
    const backOwners = owners(port, back, [primary, pidA2, pidB]);
    expect(backOwners).not.toContain(undefined);
    expect(backOwners).not.toContain(primary);

    // The replacement binds the same port and takes its share of new connections.
    expect(listenersOf(port, [primary, pidA2, pidB])).toEqual(
      reusePort ? [pidA2, pidB] : [primary],
    );
    const later = await open(port, 24);
    expect(new Set(owners(port, later, [pidA2, pidB]))).toEqual(new Set([pidA2, pidB]));

    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
  }, 60_000);

  it('a worker stopped alone closes its socket at once: through its drain, new streams reach the other worker and none is refused', async () => {
    await using nats = await startNatsServer();
    const r = run({
      PORT: '0',
      NATS_URL: nats.url,
      STREAM_STORAGE: 'memory',
      SSE_WORKERS: '2',
      SSE_AUTHENTICATION_TOKEN: TOKEN,
      DRAIN_WINDOW: '4',
      REFUSAL_HOLD_MS: '0',
      KEEPALIVE_INTERVAL: '60',
    });
    const ready = await logLine(r, (l) => l.msg === 'listening', 'the listening line');
    const port = Number(ready.port);
    const primary = r.child.pid as number;
    const [pidA, pidB] = ready.workerPids as [number, number];
    // A must hold at least four streams: its drain closes them spread over the 4 s window, so it
    // is still draining (the last one closes after 3 s) while the streams below are opened. With
    // reusePort the kernel picks the worker per connection, and A may get fewer of the first 8.
    const before = await open(port, 8);
    while (owners(port, before, [pidA, pidB]).filter((p) => p === pidA).length < 4) {
      expect(before.length, 'streams opened before worker A held four').toBeLessThan(200);
      before.push(...(await open(port, 4)));
    }

    process.kill(pidA, 'SIGTERM');
    await logLine(
      r,
      (l) =>
        l.pid === pidA && l.msg === 'the other workers serve the port; stopped listening, draining',
      'worker A closing its socket',
    );
    if (reusePort) expect(listenersOf(port, [primary, pidA, pidB])).toEqual([pidB]);
    // Within A's 4 s drain window: every new stream is served, by B.
    const during = await open(port, 24);
    for (const s of during) expect(s.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(new Set(owners(port, during, [primary, pidA, pidB]))).toEqual(new Set([pidB]));
    expect(r.logs().some((l) => l.pid === pidA && l.msg === 'stopped')).toBe(false);

    // A drains its own streams, exits 0 and is replaced; B's streams were never touched.
    const exited = await logLine(
      r,
      (l) => l.msg === 'worker exited; restarting' && l.workerPid === pidA,
      'worker A exiting after its drain',
      15_000,
    );
    expect(exited.code).toBe(0);
    const onB = before.filter((s) => !s.isEnded);
    expect(onB.length).toBeGreaterThan(0);
    expect(during.every((s) => !s.isEnded)).toBe(true);

    // The instance as a whole still drains with held 503s, not refused connections: only a
    // worker stopping alone closes its socket early.
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(
      r
        .logs()
        .filter((l) => l.msg === 'the other workers serve the port; stopped listening, draining'),
    ).toHaveLength(1);
  }, 60_000);

  it('a second instance on a port the first one holds fails to start instead of sharing it (with reusePort too)', async () => {
    await using nats = await startNatsServer();
    const env = {
      NATS_URL: nats.url,
      STREAM_STORAGE: 'memory',
      SSE_WORKERS: '2',
      SSE_AUTHENTICATION_TOKEN: TOKEN,
    };
    const first = run({ ...env, PORT: '0' });
    const ready = await logLine(first, (l) => l.msg === 'listening', 'the first instance');
    const second = run({ ...env, PORT: String(ready.port) });
    const outcome = await Promise.race([
      second.exited,
      logLine(second, (l) => l.msg === 'listening', 'x', 20_000).then(
        () => 'shares the port',
        () => 'never listened',
      ),
    ]);
    expect(outcome).toBe(1);
    if (reusePort) {
      // The primary's own check, before any worker: reusePort alone would let it share the port.
      const fatal = second.logs().find((l) => l.msg === 'could not start');
      expect(fatal?.err).toMatchObject({ code: 'EADDRINUSE' });
      expect(second.logs().some((l) => l.msg === 'worker started')).toBe(false);
    } else {
      // Without reusePort the primary's listen fails by itself, as before.
      expect(JSON.stringify(second.logs())).toContain('EADDRINUSE');
    }
  });
});
