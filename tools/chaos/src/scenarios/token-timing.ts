import { randomBytes } from 'node:crypto';
import { AUTH_SCHEME, queueChangePath } from '@flagsmith-rt/protocol';
import { KeepAliveConnection } from '../fuzz/keepalive.js';
import { Random } from '../fuzz/random.js';
import { MemoryWatch } from '../memory.js';
import { ResultBuilder } from '../result.js';
import { type Scenario, sized } from '../scenario.js';
import { SseInstance } from '../sse-instance.js';
import { mannWhitneyZ, percentile } from '../stats.js';

/** |z| above this means the two timing distributions differ (two-sided p < 1e-4). */
const Z_LIMIT = 4;

/**
 * 7. Wrong tokens of the right length that share 0, half, or all but one leading characters with
 * the real one, interleaved in a seeded random order on one keep-alive connection. If the
 * comparison stopped at the first difference, more matching characters would take longer; a
 * Mann-Whitney test says whether the response times differ.
 */
export const tokenTiming: Scenario = {
  id: 'token-timing',
  title: 'Token timing',
  async run(context) {
    const b = new ResultBuilder(this.id, this.title, context.mode);
    const perGroup = sized(context, 4_000, 20_000);
    const warmup = 500;
    const r = b.result;
    const token = randomBytes(48).toString('base64url'); // 64 characters
    r.load = `1 instance (embedded broker), 64-character token, ${perGroup} requests per group, one keep-alive connection, seeded interleaving`;
    r.faults = 'wrong tokens matching 0, 32 and 63 leading characters';
    r.rssBoundMb = 300;

    const instance = new SseInstance({ name: 'sse-timing', token });
    await instance.start();
    const memory = new MemoryWatch(() => [instance]).start();
    const connection = new KeepAliveConnection('127.0.0.1', instance.port);
    try {
      const wrong = (matching: number): string => {
        const differ = token[matching] === 'A' ? 'B' : 'A';
        return token.slice(0, matching) + differ + token.slice(matching + 1);
      };
      const groups = [0, 32, 63].map((matching) => ({ matching, candidate: wrong(matching) }));
      const body = '{"updated_at": 1735229888.76}';
      const request = (candidate: string): Buffer =>
        Buffer.from(
          `POST ${queueChangePath('chaos-timing')} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
            `Authorization: ${AUTH_SCHEME} ${candidate}\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${body.length}\r\n\r\n${body}`,
          'latin1',
        );
      const requests = groups.map((g) => request(g.candidate));
      const order: number[] = [];
      for (let i = 0; i < perGroup; i++) order.push(0, 1, 2);
      const rng = new Random(context.seed);
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (let i = 0; i < warmup; i++) await connection.send(requests[i % 3]!);
      const samples: number[][] = [[], [], []];
      const statuses = new Map<number, number>();
      for (const group of order) {
        const { status, ns } = await connection.send(requests[group]!);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        samples[group]!.push(Number(ns) / 1000);
      }
      b.check(
        statuses.size === 1 && statuses.has(401),
        `wrong tokens got statuses other than 401: ${JSON.stringify(Object.fromEntries(statuses))}`,
      );
      for (const [i, g] of groups.entries()) {
        b.figure(`medianUs_match${g.matching}`, percentile(samples[i]!, 50));
        b.figure(`p90Us_match${g.matching}`, percentile(samples[i]!, 90));
      }
      const zHalf = mannWhitneyZ(samples[0]!, samples[1]!);
      const zAll = mannWhitneyZ(samples[0]!, samples[2]!);
      b.figure('mannWhitneyZ_0vs32', zHalf);
      b.figure('mannWhitneyZ_0vs63', zAll);
      b.figure('zLimit', Z_LIMIT);
      b.check(
        Math.abs(zAll) < Z_LIMIT && Math.abs(zHalf) < Z_LIMIT,
        `response time depends on the matching prefix (z = ${zHalf.toFixed(2)}, ${zAll.toFixed(2)})`,
      );
    } finally {
      connection.close();
      r.peakRssMb = memory.stop();
      r.crashes = instance.crashes.length;
      await instance.dispose();
    }
    return b.finish();
  },
};
