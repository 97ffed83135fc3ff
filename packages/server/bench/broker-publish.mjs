// Acknowledged publishes per second through JetStreamBroker, without HTTP,
// and the CPU each costs in this process and (with NATS_PID) in nats-server.
// Usage: pnpm --filter @flagsmith-rt/server build
//        nats-server -js -sd "$(mktemp -d)" -a 127.0.0.1 -p 4333 & NATS_PID=$!
//        NATS_PID=$NATS_PID node packages/server/bench/broker-publish.mjs nats://127.0.0.1:4333
// Env: PUBLISHERS (concurrent publishers, 64), BENCH_SECONDS (5), STORAGE (file).
import { readFileSync } from 'node:fs';
import { JetStreamBroker } from '../dist/index.js';

const url = process.argv[2] ?? 'nats://127.0.0.1:4222';
const publishers = Number(process.env.PUBLISHERS ?? 64);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const natsPid = process.env.NATS_PID;

/** CPU time of a process in ms, from /proc (Linux; 100 ticks per second). */
function processCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
function ownCpuMs() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const run = Date.now().toString(36);
const broker = new JetStreamBroker({ servers: [url], storage: process.env.STORAGE ?? 'file' });
await broker.start();

for (const environments of [1000, 100, 1]) {
  let timestamp = 1_700_000_000 + Date.now() / 1000;
  const outcomes = { published: 0, duplicate: 0, stale: 0, failed: 0 };
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  const ownBefore = ownCpuMs();
  const natsBefore = natsPid ? processCpuMs(natsPid) : 0;
  await Promise.all(
    Array.from({ length: publishers }, async (_, worker) => {
      for (let i = 0; Date.now() < deadline; i++) {
        timestamp += 0.001;
        const env = `bench_${run}_${(worker * 7919 + i) % environments}`;
        try {
          outcomes[await broker.publish(env, timestamp)]++;
        } catch {
          outcomes.failed++;
        }
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  const answered = outcomes.published + outcomes.duplicate + outcomes.stale;
  const perWrite = (ms) => ((ms * 1000) / Math.max(1, outcomes.published)).toFixed(1);
  const natsCost = natsPid
    ? `, nats-server ${perWrite(processCpuMs(natsPid) - natsBefore)} µs`
    : ' (set NATS_PID for nats-server)';
  console.log(
    `${environments} environment(s), ${publishers} publishers: ` +
      `${Math.round(answered / elapsed)} answered/s, ${Math.round(outcomes.published / elapsed)} written/s; ` +
      `CPU per write: this process ${perWrite(ownCpuMs() - ownBefore)} µs${natsCost}`,
    outcomes,
  );
}
await broker.close();
