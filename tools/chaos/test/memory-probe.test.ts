import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, test } from 'vitest';
import { MemoryProbe } from '../src/memory-probe.js';

// A process that keeps 64 MiB of JS arrays on 'keep', and on 'drop' lets them go and makes
// another 64 MiB of garbage; it answers each message once done.
const CHILD = `
let kept = null;
const arrays = () => Array.from({ length: 8 }, () => new Array(1 << 20).fill(1.5));
process.on('message', (m) => {
  if (m === 'keep') kept = arrays();
  if (m === 'drop') { kept = null; arrays(); }
  process.send(m);
});
`;

const MiB = 2 ** 20;

describe('MemoryProbe', () => {
  let child: ChildProcess | undefined;
  let probe: MemoryProbe | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    probe?.remove();
  });

  test('reads the heap that survives a full GC, not garbage', async () => {
    probe = new MemoryProbe();
    const started = spawn(process.execPath, ['-e', CHILD], {
      env: { ...process.env, ...probe.env() },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child = started;
    const ask = async (message: string): Promise<void> => {
      started.send(message);
      await once(started, 'message');
    };
    // The child is up (and the preload installed) once it answers.
    await ask('hello');
    const pid = started.pid!;
    const [baseline] = await probe.read([pid]);
    await ask('keep');
    const [kept] = await probe.read([pid]);
    await ask('drop');
    const [dropped] = await probe.read([pid]);

    expect(kept!.pid).toBe(pid);
    expect(kept!.heapUsed - baseline!.heapUsed).toBeGreaterThan(60 * MiB);
    // 64 MiB of fresh garbage and the 64 MiB let go: a reading without a full GC sees them.
    expect(dropped!.heapUsed - baseline!.heapUsed).toBeLessThan(8 * MiB);
    expect(dropped!.rssAnon).toBeGreaterThan(0);
    expect(dropped!.spaces.old_space?.[0]).toBeGreaterThan(0);
    expect(dropped!.lastResort.heapTotal).toBeGreaterThan(0);
  });
});
