import {
  H2_CASE_KINDS,
  type H2CaseKind,
  type H2Connection,
  h2CaseOfKind,
  runH2Case,
  spokenProtocol,
} from '../fuzz/h2.js';
import { Random } from '../fuzz/random.js';
import { probeClosing, readMetricClosing, serviceNodeVersion } from '../metrics.js';
import { type Crash, openDescriptors, SseInstance } from '../sse-instance.js';
import { waitFor } from '../wait.js';

const SUBSCRIBERS_METRIC = 'flagsmith_sse_subscribers';

/** Options of {@link runH2Phase}. */
export interface H2PhaseOptions {
  /** NATS URLs of the service; none runs the embedded broker (then `workers` must be 1). */
  natsUrls?: string[];
  /** The publish token. */
  token: string;
  /** `SSE_WORKERS`. */
  workers: number;
  /**
   * Serve HTTPS with this certificate and key (`TLS_CERT`/`TLS_KEY`): the connections then
   * speak TLS with ALPN `h2`, the path `H2C` does not switch off.
   */
  tls?: { certFile: string; keyFile: string };
  /** `H2C` given to the service; `undefined` leaves the runtime's default. */
  h2c: 'on' | 'off' | undefined;
  /** Connections of each kind. */
  perKind: number;
  /** Connections running at once (held connections count until released). */
  concurrency: number;
  /** `KEEPALIVE_INTERVAL` of the service, seconds: ghosts must leave within it. */
  keepAliveSeconds: number;
  /** The kinds to run, in order. @defaultValue every one of {@link H2_CASE_KINDS} */
  kinds?: readonly H2CaseKind[];
  /** Seed of the cases' details. */
  seed: number;
  /** Environment key of the stream paths. */
  streamKey: string;
  /** Progress messages. */
  log: (message: string) => void;
}

/** The figures of one kind. */
export interface H2KindRow {
  kind: H2CaseKind;
  /** Connections established (each wrote its frames). */
  connections: number;
  /** Of those, closed by the service before the client ended them. */
  closedByServer: number;
  /** Service processes that exited (or workers that were restarted) during the kind. */
  crashes: number;
  /** Exit codes and signals of those, e.g. `worker 1: code 134`. */
  crashDetails: string[];
  /** Descriptors of the service processes after minus before; `null` when a process died. */
  leakedFds: number | null;
  /** `flagsmith_sse_subscribers` after minus before; `null` when a process died. */
  leakedSubscribers: number | null;
  /** `/livez` answered 200 after the kind (and, for the held kind, while they were held). */
  livez: boolean;
  /** Wall time of the kind including the wait for the counts to settle, ms. */
  durationMs: number;
}

/** What {@link runH2Phase} found. */
export interface H2PhaseResult {
  workers: number;
  /** `h2c` (cleartext port) or `tls` (HTTPS, ALPN `h2`). */
  transport: 'h2c' | 'tls';
  /** `H2C` as given (`default`: not set). */
  h2c: string;
  /** What the cleartext port answered to an h2 preface: `h2` (h2c on) or `http/1.1` (off). */
  spoken: string;
  /** The service's Node.js version (from `/metricsz`). */
  node: string;
  rows: H2KindRow[];
}

/** Descriptor count per PID of the service, and the subscriber gauge. */
interface Snapshot {
  fds: Map<number, number>;
  subscribers: number | undefined;
}

async function snapshot(instance: SseInstance, secure: boolean): Promise<Snapshot> {
  // The gauge first: its own connection closes before the descriptors are counted.
  const subscribers = await readMetricClosing(instance.port, SUBSCRIBERS_METRIC, secure);
  const fds = new Map<number, number>();
  for (const pid of instance.pids()) {
    const count = openDescriptors(pid);
    if (count !== undefined) fds.set(pid, count);
  }
  return { fds, subscribers };
}

/**
 * A snapshot once two in a row, 250 ms apart, agree (at most 5 s): a worker just respawned
 * after a crash is still opening descriptors (its NATS connection, its listening socket) for
 * a moment after `/readyz` answers, and a baseline taken then would count them as a leak.
 */
async function steadySnapshot(instance: SseInstance, secure: boolean): Promise<Snapshot> {
  let last = await snapshot(instance, secure);
  const same = (a: Snapshot, b: Snapshot): boolean =>
    a.subscribers === b.subscribers &&
    a.fds.size === b.fds.size &&
    [...a.fds].every(([pid, count]) => b.fds.get(pid) === count);
  await waitFor(
    'steady descriptor counts',
    async () => {
      const next = await snapshot(instance, secure);
      const steady = same(last, next);
      last = next;
      return steady;
    },
    { timeoutMs: 5_000, intervalMs: 250 },
  ).catch(() => undefined);
  return last;
}

/** Whether every PID of `before` is still a live process. */
function allAlive(before: Snapshot): boolean {
  return [...before.fds.keys()].every((pid) => openDescriptors(pid) !== undefined);
}

/** `name: signal SIGABRT`, with the allocator's or V8's last words when the log has them. */
function describeCrash(crash: Crash): string {
  const how = crash.signal ? `signal ${crash.signal}` : `code ${crash.code}`;
  const words = crash.tail
    .split('\n')
    .find((line) => /malloc|corrupted|double free|FATAL ERROR|Segmentation/i.test(line));
  return `${crash.name}: ${how}${words ? ` (${words.trim().slice(0, 120)})` : ''}`;
}

/**
 * The dedicated HTTP/2 phase of `hostile-input` (issue #11): one service instance of its own,
 * then for each kind of {@link H2_CASE_KINDS} `perKind` hostile connections, `concurrency` at
 * once. Before and after each kind it reads the descriptors of every service process
 * (`/proc/<pid>/fd`, primary and workers) and the subscriber gauge, and waits up to twice the
 * keep-alive interval for them to come back; a kind stops early when a process dies, and the
 * instance is restarted for the next one, so a crashing runtime ends in bounded time.
 */
export async function runH2Phase(options: H2PhaseOptions): Promise<H2PhaseResult> {
  const secure = options.tls !== undefined;
  const transport = secure ? 'tls' : 'h2c';
  const instance = new SseInstance({
    name: `h2-${options.workers}w${secure ? '-tls' : ''}`,
    token: options.token,
    ...(options.natsUrls ? { natsUrls: options.natsUrls } : {}),
    env: {
      SSE_WORKERS: String(options.workers),
      KEEPALIVE_INTERVAL: String(options.keepAliveSeconds),
      ...(options.h2c ? { H2C: options.h2c } : {}),
      ...(options.tls ? { TLS_CERT: options.tls.certFile, TLS_KEY: options.tls.keyFile } : {}),
    },
  });
  const rng = new Random(options.seed);
  const rows: H2KindRow[] = [];
  const processes = options.workers > 1 ? options.workers + 1 : 1;
  try {
    await ensureServing(instance, processes, secure);
    const spoken = await spokenProtocol(instance.port, secure);
    const node = (await serviceNodeVersion(instance.port, secure)) ?? 'unknown';
    options.log(
      `h2 phase (${transport}), Node ${node}, SSE_WORKERS=${options.workers}, H2C=${options.h2c ?? 'default'}: the port speaks ${spoken} to an h2 preface`,
    );
    for (const kind of options.kinds ?? H2_CASE_KINDS) {
      const row = await runKind(instance, kind, rng, options, processes, secure);
      rows.push(row);
      options.log(
        `h2 ${kind}: ${row.connections} connections (${row.closedByServer} closed by the service), ` +
          `${row.crashes} crashes${row.crashDetails.length > 0 ? ` (${row.crashDetails.join(', ')})` : ''}, ` +
          `leaked fds ${row.leakedFds ?? 'n/a'}, leaked subscribers ${row.leakedSubscribers ?? 'n/a'}, ` +
          `${Math.round(row.durationMs / 100) / 10} s`,
      );
    }
    return {
      workers: options.workers,
      transport,
      h2c: options.h2c ?? 'default',
      spoken,
      node,
      rows,
    };
  } finally {
    await instance.stop();
  }
}

/** Brings the instance back after a crash: restarted if it died, else its workers respawned. */
async function ensureServing(
  instance: SseInstance,
  processes: number,
  secure: boolean,
): Promise<void> {
  if (!instance.running) await instance.start();
  await waitFor(
    `${instance.name} to run ${processes} processes`,
    () => instance.pids().filter((pid) => openDescriptors(pid) !== undefined).length >= processes,
    { timeoutMs: 30_000, intervalMs: 100, describe: () => instance.logs() },
  );
  // Not instance.waitReady(): fetch keeps its connection (a descriptor) open for seconds.
  await waitFor(
    `${instance.name} /readyz = 200`,
    async () => (await probeClosing(instance.port, '/readyz', secure)) === 200,
    { timeoutMs: 30_000, intervalMs: 50, describe: () => instance.logs() },
  );
}

async function runKind(
  instance: SseInstance,
  kind: H2CaseKind,
  rng: Random,
  options: H2PhaseOptions,
  processes: number,
  secure: boolean,
): Promise<H2KindRow> {
  const started = Date.now();
  await ensureServing(instance, processes, secure);
  const before = await steadySnapshot(instance, secure);
  const crashesBefore = instance.crashes.length;
  const crashed = () => instance.crashes.length > crashesBefore || !allAlive(before);
  const all: H2Connection[] = [];
  const held: H2Connection[] = [];
  let launched = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (launched < options.perKind && !crashed()) {
        launched++;
        const c = h2CaseOfKind(kind, rng, options.streamKey);
        const connection = runH2Case(instance.port, c, secure);
        all.push(connection);
        if (c.holdMs === undefined) {
          // Held until the kind ends; the next one starts once this one's frames are out.
          held.push(connection);
          await connection.opened;
        } else {
          await connection.done;
        }
      }
    }),
  );
  let livez = true;
  if (held.length > 0 && !crashed()) {
    // A legitimate request is still served while the incomplete header blocks are held.
    livez = (await probeClosing(instance.port, '/livez', secure)) === 200;
  }
  const closedByServer = all.filter((c) => c.connected() && c.closedByServer()).length;
  for (const c of held) c.destroy();
  await Promise.all(held.map((c) => c.done));

  // Descriptors and subscribers must come back within the keep-alive interval: the session
  // pings destroy wedged sessions in under it; twice it leaves room for a loaded machine.
  let after = before;
  await waitFor(
    'descriptors and subscribers back at their baseline',
    async () => {
      if (crashed()) return true;
      after = await snapshot(instance, secure);
      return fdsOf(before, after) <= 0 && (after.subscribers ?? 0) <= (before.subscribers ?? 0);
    },
    { timeoutMs: options.keepAliveSeconds * 2_000, intervalMs: 250 },
  ).catch(() => undefined);
  if (crashed()) {
    // The exit shows in the primary's log (a worker) or as the process's exit: wait for it.
    await waitFor('the crash to be recorded', () => instance.crashes.length > crashesBefore, {
      timeoutMs: 5_000,
      intervalMs: 50,
    }).catch(() => undefined);
  }
  const crashes = instance.crashes.slice(crashesBefore);
  const died = crashes.length > 0 || !allAlive(before);
  if (!died) livez = livez && (await probeClosing(instance.port, '/livez', secure)) === 200;
  return {
    kind,
    connections: all.filter((c) => c.connected()).length,
    closedByServer,
    crashes: Math.max(crashes.length, died ? 1 : 0),
    crashDetails: crashes.map(describeCrash),
    leakedFds: died ? null : Math.max(0, fdsOf(before, after)),
    leakedSubscribers: died
      ? null
      : Math.max(0, (after.subscribers ?? 0) - (before.subscribers ?? 0)),
    livez: died ? false : livez,
    durationMs: Date.now() - started,
  };
}

/** Descriptors gained, summed over the processes of `before`. */
function fdsOf(before: Snapshot, after: Snapshot): number {
  let delta = 0;
  for (const [pid, count] of before.fds) delta += (after.fds.get(pid) ?? count) - count;
  return delta;
}

/** The rows as a Markdown table (for RELIABILITY.md). */
export function h2PhaseTable(result: H2PhaseResult): string {
  const lines = [
    '| Kind | Connections | Closed by the service | Crashes | Leaked fds | Leaked subscribers |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of result.rows) {
    const crashes =
      r.crashDetails.length > 0 ? `${r.crashes} (${r.crashDetails.join(', ')})` : `${r.crashes}`;
    lines.push(
      `| ${r.kind} | ${r.connections} | ${r.closedByServer} | ${crashes} | ${r.leakedFds ?? 'n/a'} | ${r.leakedSubscribers ?? 'n/a'} |`,
    );
  }
  return lines.join('\n');
}
