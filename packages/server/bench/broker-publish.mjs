// Acknowledged publishes per second through JetStreamBroker, without HTTP.
// Usage: pnpm --filter @flagsmith-rt/server build
//        nats-server -js -sd "$(mktemp -d)" -a 127.0.0.1 -p 4333 &
//        node packages/server/bench/broker-publish.mjs nats://127.0.0.1:4333
import { JetStreamBroker } from '../dist/index.js';

const url = process.argv[2] ?? 'nats://127.0.0.1:4222';
const publishers = Number(process.env.PUBLISHERS ?? 64);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);

const run = Date.now().toString(36);
const broker = new JetStreamBroker({ servers: [url], storage: 'memory' });
await broker.start();

for (const environments of [1000, 1]) {
  let timestamp = 1_700_000_000 + Date.now() / 1000;
  const outcomes = { published: 0, duplicate: 0, stale: 0, failed: 0 };
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
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
  console.log(
    `${environments} environment(s), ${publishers} publishers: ` +
      `${Math.round(answered / elapsed)} answered/s, ${Math.round(outcomes.published / elapsed)} written/s`,
    outcomes,
  );
}
await broker.close();
