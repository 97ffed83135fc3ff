import { finalTimestamps, waitConverged } from '../delivery.js';
import { isAck, type PublishRecord, type UpdatePublisher } from '../publisher.js';
import type { ResultBuilder } from '../result.js';
import type { Stack } from '../stack.js';
import type { RawSubscriber } from '../subscribers.js';

/**
 * Publishes one final update per environment (retrying until acknowledged), then waits until
 * every live subscriber holds it. Returns the time from the last acknowledgement to the last
 * subscriber catching up, or null (and a failed check) if they did not within `timeoutMs`.
 */
export async function finishPublishing(
  stack: Stack,
  publisher: UpdatePublisher,
  subscribers: readonly RawSubscriber[],
  environments: readonly string[],
  b: ResultBuilder,
  timeoutMs = 30_000,
  log?: (message: string) => void,
): Promise<number | null> {
  const finals = await Promise.all(
    // Spread over the instances: an instance may deliver its own publishes faster than those
    // that reach it through NATS, and the latter are what this checks.
    environments.map((env, i) => {
      const urls = stack.liveUrls;
      const rotated = [...urls.slice(i % urls.length), ...urls.slice(0, i % urls.length)];
      return publisher.publishUntilAcked(rotated, env, 20_000);
    }),
  );
  const missing = finals.filter((f) => f === undefined).length;
  b.check(missing === 0, `${missing} final publishes were never acknowledged within 20 s`);
  const lastAck = Math.max(...finals.map((f) => f?.doneAt ?? 0));
  const final = finalTimestamps(publisher.records);
  let ticks = 0;
  const progress = setInterval(() => {
    ticks++;
    const behind = new Map<number, number>();
    for (const s of subscribers) {
      if (s.stalled || s.closed) continue;
      if (s.latest < (final.get(s.environment) ?? 0)) {
        behind.set(s.targetIndex, (behind.get(s.targetIndex) ?? 0) + 1);
      }
    }
    if (behind.size > 0) log?.(`behind per target: ${JSON.stringify(Object.fromEntries(behind))}`);
    if (behind.size > 0 && ticks === 3 && process.env.CHAOS_DEBUG) {
      for (const instance of stack.instances)
        log?.(`${instance.name} log tail:\n${instance.logs()}`);
    }
  }, 1000);
  const waited = await waitConverged(publisher.records, subscribers, timeoutMs);
  clearInterval(progress);
  if (!b.check(waited !== undefined, `subscribers did not converge within ${timeoutMs} ms`)) {
    return null;
  }
  return Math.max(0, Date.now() - lastAck);
}

/**
 * Valid publishes may only be acknowledged, or refused with 503 (or time out) while NATS
 * cannot take them: any other status is a bug.
 */
export function statusesOk(b: ResultBuilder, records: readonly PublishRecord[]): void {
  const unexpected = new Map<number, number>();
  let timeouts = 0;
  for (const r of records) {
    if (isAck(r.status) || r.status === 503) continue;
    if (r.status === 0) timeouts++;
    else unexpected.set(r.status, (unexpected.get(r.status) ?? 0) + 1);
  }
  b.figure('publishTimeoutsOrRefused', timeouts);
  b.check(
    unexpected.size === 0,
    `valid publishes got statuses other than 2xx/503: ${JSON.stringify(Object.fromEntries(unexpected))}`,
  );
}
