import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SseProcess, startSse } from './support/sse-server.js';
import { waitFor } from './support/wait.js';

let server: SseProcess;

beforeAll(async () => {
  server = await startSse();
});

afterAll(async () => {
  await server?.stop();
});

it('examples/node.mjs prints updates from the service and exits cleanly on SIGTERM', async () => {
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'examples', 'node.mjs')], {
    env: {
      ...process.env,
      FLAGSMITH_ENVIRONMENT_KEY: 'example_env',
      FLAGSMITH_REALTIME_URL: server.url,
      FLAGSMITH_API_URL: '',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    await waitFor('the example to connect', () => lines.includes('state open'));
    await server.publish('example_env', 1_735_229_888.76);
    await waitFor('the update', () => lines.includes('update 1735229888.76'));
  } finally {
    child.kill('SIGTERM');
  }
  // close() through the AbortSignal left nothing to keep the process alive.
  expect(await exited).toBe(0);
  expect(lines.at(-1)).toBe('state closed');
});
