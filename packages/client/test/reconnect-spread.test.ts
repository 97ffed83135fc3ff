// Node only: 1,000 clients lose their server at once and must not come back in one burst.
import { afterAll, expect, it } from 'vitest';
import { type Subscription, subscribe } from '../src/index.js';
import { type SseProcess, startSse } from './support/sse-server.js';
import { waitFor } from './support/wait.js';

const CLIENTS = 1000;
const BASE_MS = 1000; // the default backoff base: the first reconnect falls in [0, 1000) ms

let server: SseProcess | undefined;
const subscriptions: Subscription[] = [];

afterAll(async () => {
  for (const s of subscriptions) s.close();
  await server?.stop();
});

it('1,000 clients that lose their server reconnect spread over the backoff window', async () => {
  server = await startSse();
  const lostAt: (number | undefined)[] = [];
  const chosen: (number | undefined)[] = [];
  const retriedAt: (number | undefined)[] = [];
  let open = 0;

  for (let i = 0; i < CLIENTS; i++) {
    let requests = 0;
    subscriptions.push(
      subscribe({
        baseUrl: server.url,
        environmentKey: 'spread',
        fetch: (url, init) => {
          if (++requests === 2) retriedAt[i] = performance.now();
          return fetch(url, init);
        },
        onStateChange: ({ state, delayMs }) => {
          if (state === 'open') open++;
          if (state === 'waiting' && lostAt[i] === undefined) {
            lostAt[i] = performance.now();
            chosen[i] = delayMs;
          }
        },
      }),
    );
  }
  await waitFor('all clients connected', () => open === CLIENTS, 30_000);

  const killedAt = performance.now();
  await server.kill('SIGKILL');
  await waitFor(
    'every client to attempt a reconnect',
    () => retriedAt.filter((t) => t !== undefined).length === CLIENTS,
    15_000,
  );

  const lost = lostAt.map((t) => t! - killedAt).sort((a, b) => a - b);
  const retried = retriedAt.map((t) => t! - killedAt).sort((a, b) => a - b);
  // The wait each client drew when it noticed the loss, and the wait it actually had.
  const drawn = chosen.map((d) => d!).sort((a, b) => a - b);
  const waited = retriedAt.map((t, i) => t! - lostAt[i]!);
  const quantile = (values: number[], q: number) => values[Math.floor(q * (values.length - 1))]!;
  // The busiest 10 ms window of reconnect attempts, in wall-clock time.
  let busiest = 0;
  for (let i = 0, j = 0; i < CLIENTS; i++) {
    while (retried[i]! - retried[j]! > 10) j++;
    busiest = Math.max(busiest, i - j + 1);
  }
  const buckets = Array.from({ length: 10 }, () => 0);
  for (const delay of drawn) buckets[Math.floor(delay / (BASE_MS / 10))]!++;
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  console.log(
    `${CLIENTS} clients lost their server: noticed ${ms(lost[0]!)}-${ms(lost.at(-1)!)} after the kill; ` +
      `waits drawn p10 ${ms(quantile(drawn, 0.1))}, p50 ${ms(quantile(drawn, 0.5))}, p90 ${ms(quantile(drawn, 0.9))}, per 100 ms: ${buckets.join(' ')}; ` +
      `reconnect attempts p10-p90 ${ms(quantile(retried, 0.1))}-${ms(quantile(retried, 0.9))} after the kill, ` +
      `busiest 10 ms window: ${busiest} attempts`,
  );

  // Full jitter: waits drawn uniformly from [0, base), not clustered at one value...
  expect(drawn[0]).toBeGreaterThanOrEqual(0);
  expect(drawn.at(-1)).toBeLessThan(BASE_MS);
  for (const count of buckets) {
    expect(count).toBeGreaterThan(CLIENTS * 0.05);
    expect(count).toBeLessThan(CLIENTS * 0.15);
  }
  // ...each client really waited its draw before reconnecting...
  for (const [i, wait] of waited.entries()) expect(wait).toBeGreaterThanOrEqual(chosen[i]! - 1);
  // ...so the attempts spread over the window instead of arriving in one burst.
  expect(quantile(retried, 0.9) - quantile(retried, 0.1)).toBeGreaterThan(0.6 * BASE_MS);
  expect(busiest).toBeLessThan(CLIENTS * 0.1);
});
