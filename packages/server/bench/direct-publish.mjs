// Direct publishes per second through publishUpdate (@flagsmith-rt/server/jetstream) against
// queue-change per second through an apps/sse process, in the same run on the same nats-server.
// Rounds alternate (queue-change, direct, queue-change, direct) so drift on a shared box hits both.
// Usage: pnpm --filter @flagsmith-rt/server build && pnpm --filter @flagsmith-rt/sse build
//        node packages/server/bench/direct-publish.mjs
// Env: PUBLISHERS (concurrent publishers, 64), ENVIRONMENTS (1000), BENCH_SECONDS (5 per round),
//      ROUNDS (2 of each), STORAGE (file), NATS_SERVER_BIN (nats-server on PATH).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { publishUpdate } from '../dist/jetstream.js';

const publishers = Number(process.env.PUBLISHERS ?? 64);
const environments = Number(process.env.ENVIRONMENTS ?? 1000);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.ROUNDS ?? 2);
const MAIN = fileURLToPath(new URL('../../../apps/sse/dist/main.js', import.meta.url));
const TOKEN = 'bench-direct-publish';

/** CPU time of a process in ms, from /proc (Linux; 100 ticks per second). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Spawns a process and resolves once a line of its output matches `pattern`. */
function startProcess(command, args, env, pattern) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: 'pipe' });
  // Never leave the server or the service behind, whatever ends this script.
  process.once('exit', () => child.kill('SIGKILL'));
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(1));
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      const match = pattern.exec(output);
      if (match) resolve({ child, match });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command} exited ${code}: ${output}`)));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'bench-direct-'));
const nats = await startProcess(
  process.env.NATS_SERVER_BIN ?? 'nats-server',
  ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', '-1'],
  {},
  /Listening for client connections on 127\.0\.0\.1:(\d+)/,
);
const natsUrl = `nats://127.0.0.1:${nats.match[1]}`;
const sse = await startProcess(
  process.execPath,
  [MAIN],
  {
    PORT: '0',
    NATS_URL: natsUrl,
    SSE_WORKERS: '1',
    STREAM_STORAGE: process.env.STORAGE ?? 'file',
    SSE_AUTHENTICATION_TOKEN: TOKEN,
    LOG_LEVEL: 'info',
  },
  /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"listening"/,
);
const baseUrl = sse.match[1];
// As recommended for publishers: no stack trace captured per request.
const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
const js = jetstream(nc);
const agent = new Agent({ keepAlive: true, maxSockets: publishers });
const run = Date.now().toString(36);
let timestamp = Math.floor(Date.now() / 1000);

function queueChange(env, updatedAt) {
  const body = `{"updated_at": ${updatedAt}}`;
  return new Promise((resolve) => {
    const req = request(
      `${baseUrl}/sse/environments/${env}/queue-change`,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Token ${TOKEN}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : 'failed'));
      },
    );
    req.on('error', () => resolve('failed'));
    req.end(body);
  });
}

function direct(env, updatedAt) {
  return publishUpdate(js, env, updatedAt).then(
    () => 'ok',
    () => 'failed',
  );
}

async function round(name, publish) {
  const counts = { ok: 0, failed: 0 };
  const before = {
    sse: cpuMs(sse.child.pid),
    nats: cpuMs(nats.child.pid),
    own: process.cpuUsage(),
  };
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: publishers }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline; i++) {
        timestamp += 0.001;
        const env = `bench_${run}_${(worker * 7919 + i) % environments}`;
        counts[await publish(env, Number(timestamp.toFixed(3)))]++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const own = process.cpuUsage(before.own);
  const share = (ms) => `${Math.round(ms / 10 / elapsed)} %`;
  console.log(
    `${name.padEnd(12)} ${String(Math.round(counts.ok / elapsed)).padStart(6)}/s acknowledged` +
      ` (${counts.failed} failed); CPU: service ${share(cpuMs(sse.child.pid) - before.sse)},` +
      ` nats-server ${share(cpuMs(nats.child.pid) - before.nats)},` +
      ` this process ${share((own.user + own.system) / 1000)}`,
  );
  return counts.ok / elapsed;
}

console.log(
  `${publishers} concurrent publishers, ${environments} environments, ${seconds} s rounds; ` +
    `load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
);
const results = { 'queue-change': [], direct: [] };
try {
  for (let r = 0; r < rounds; r++) {
    results['queue-change'].push(await round('queue-change', queueChange));
    results.direct.push(await round('direct', direct));
  }
} finally {
  console.log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  for (const [name, values] of Object.entries(results)) {
    console.log(`${name}: ${values.map((v) => Math.round(v)).join(', ')} /s`);
  }
  agent.destroy();
  await nc.close();
  sse.child.kill('SIGKILL');
  nats.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
