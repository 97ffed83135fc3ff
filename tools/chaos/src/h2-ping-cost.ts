import { readFileSync } from 'node:fs';
import { type ClientHttp2Session, connect } from 'node:http2';
import { parseArgs } from 'node:util';
import { readMetricClosing, serviceNodeVersion } from './metrics.js';
import { describeLoad, describeMachine } from './report.js';
import { SseInstance } from './sse-instance.js';
import { delay, waitFor } from './wait.js';

const USAGE = `Usage: h2-ping-cost [--sessions N] [--streams N] [--seconds N] [--keepalive S]

Opens --sessions HTTP/2 sessions (h2c) to one apps/sse process (SSE_WORKERS=1, embedded
broker, H2C=on), each with --streams idle event streams, waits until the subscriber gauge has
them all, then reads the service's CPU time (/proc/<pid>/stat) over --seconds. Idle streams
cost the service only keep-alive comments and, per session with streams, a PING every quarter
of KEEPALIVE_INTERVAL: run it once against a build with session pings and once against one
without (CHAOS_SSE_MAIN) to price them. CHAOS_SERVICE_NODE picks the service's Node.js.
  --sessions N   HTTP/2 connections (default 10000)
  --streams N    streams per session (default 1)
  --seconds N    measuring window (default 60)
  --keepalive S  KEEPALIVE_INTERVAL of the service, seconds (default 15, the service's default)`;

/** utime + stime of a process in clock ticks (`/proc/<pid>/stat` fields 14 and 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

/** Opens one session with `streams` event streams; resolves once every stream got its head. */
function openSession(url: string, path: string, streams: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(url);
    session.on('error', reject);
    let answered = 0;
    for (let i = 0; i < streams; i++) {
      const stream = session.request({ ':path': path });
      stream.on('response', (headers) => {
        if (headers[':status'] !== 200) reject(new Error(`stream got ${headers[':status']}`));
        else if (++answered === streams) resolve(session);
      });
      stream.on('data', () => {});
      stream.on('error', reject);
    }
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sessions: { type: 'string', default: '10000' },
      streams: { type: 'string', default: '1' },
      seconds: { type: 'string', default: '60' },
      keepalive: { type: 'string', default: '15' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const sessions = Number(values.sessions);
  const streams = Number(values.streams);
  const seconds = Number(values.seconds);
  if (![sessions, streams, seconds].every((n) => Number.isSafeInteger(n) && n > 0)) {
    console.error(`--sessions, --streams and --seconds must be whole numbers above 0\n\n${USAGE}`);
    return 2;
  }
  const instance = new SseInstance({
    name: 'h2-ping-cost',
    token: 'h2-ping-cost-token-0123456789abcdefghijklmnopq',
    env: {
      SSE_WORKERS: '1',
      H2C: 'on',
      KEEPALIVE_INTERVAL: values.keepalive,
    },
  });
  const opened: ClientHttp2Session[] = [];
  try {
    await instance.start();
    await instance.waitReady();
    const path = '/sse/environments/n9fbf9h3v4fFgH3U3ngWhb/stream';
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < sessions) {
          next++;
          opened.push(await openSession(instance.url, path, streams));
        }
      }),
    );
    const total = sessions * streams;
    await waitFor(
      `${total} subscribers`,
      async () => (await readMetricClosing(instance.port, 'flagsmith_sse_subscribers')) === total,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // Let the connect burst's garbage and timers settle before the window.
    await delay(5_000);
    const pid = instance.pid;
    const before = cpuTicks(pid);
    const startedAt = Date.now();
    await delay(seconds * 1_000);
    const ticks = cpuTicks(pid) - before;
    const elapsed = (Date.now() - startedAt) / 1_000;
    const subscribers = await readMetricClosing(instance.port, 'flagsmith_sse_subscribers');
    const result = {
      service: process.env.CHAOS_SSE_MAIN ?? 'apps/sse/dist/main.js',
      node: await serviceNodeVersion(instance.port),
      sessions,
      streamsPerSession: streams,
      keepAliveSeconds: Number(values.keepalive),
      seconds: elapsed,
      // Linux clock ticks are 1/100 s.
      cpuPercentOfOneCore: Math.round((ticks / 100 / elapsed) * 1000) / 10,
      subscribersAtEnd: subscribers,
      serviceRssMb: Math.round(rssMb(pid)),
      machine: describeMachine(),
      load: describeLoad(),
      at: new Date().toISOString(),
    };
    console.log(JSON.stringify(result));
    return 0;
  } finally {
    for (const session of opened) session.destroy();
    await instance.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
