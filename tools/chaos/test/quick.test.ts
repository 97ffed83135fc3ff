import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { ScenarioResult } from '../src/result.js';
import { SCENARIOS } from '../src/scenarios/index.js';
import { DEFAULT_SEED } from '../src/seed.js';

// The --quick mode of the suite, as the package's test: every scenario against real
// nats-server and apps/sse processes (build apps/sse first; turbo does it for `test`).
const results: ScenarioResult[] = [];

describe('chaos --quick', () => {
  for (const scenario of SCENARIOS) {
    test(scenario.title, async () => {
      const result = await scenario.run({
        mode: 'quick',
        seed: Number(process.env.CHAOS_SEED ?? DEFAULT_SEED),
        log: (message) => console.log(`${scenario.id}: ${message}`),
      });
      results.push(result);
      expect(result.failures).toEqual([]);
      expect(result.lost).toBe(0);
      expect(result.crashes).toBe(0);
    }, 240_000);
  }
});

afterAll(() => {
  const dir = join(import.meta.dirname, '..', 'reports');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'quick-test.json'), `${JSON.stringify(results, null, 2)}\n`);
});
