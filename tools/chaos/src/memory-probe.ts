import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

/** One process's memory (bytes), as `probe/memory-probe.cjs` measures it. */
export interface ProbeMeasure {
  rss: number;
  /** Anonymous resident memory (`RssAnon` of `/proc/<pid>/status`): heap, malloc arenas. */
  rssAnon?: number;
  /** File-backed resident memory (`RssFile`): the mapped binary and libraries. */
  rssFile?: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** `v8.getHeapStatistics().malloced_memory`: V8's own malloc use. */
  mallocedMemory: number;
  peakMallocedMemory: number;
  /** Per V8 space (`new_space`, `old_space`, `large_object_space`...): [committed, live]. */
  spaces: Record<string, [number, number]>;
}

/** One service process's memory right after two full garbage collections. */
export interface ProbeReading extends ProbeMeasure {
  pid: number;
  /** `Date.now()` in the service when it was taken. */
  at: number;
  /** After one more, last-resort collection (the one before an out-of-memory error). */
  lastResort: ProbeMeasure;
}

/** The sum of the readings of an instance's processes, in MiB. */
export interface ProbeTotals {
  processes: number;
  rssMb: number;
  rssAnonMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  /** RSS after the last-resort collection. */
  lastResortRssMb: number;
  /** Committed V8 heap after the last-resort collection. */
  lastResortHeapTotalMb: number;
  /**
   * RSS outside the V8 heap after the last-resort collection (RSS minus the committed heap):
   * native memory (malloc, buffers, code) without the free heap pages V8 keeps.
   */
  nativeRssMb: number;
  /** Committed MiB per V8 space, summed over the processes (0.1 MiB and more). */
  spacesMb: Record<string, number>;
}

/** The preload (plain CommonJS, not bundled): `tools/chaos/probe/memory-probe.cjs`. */
const PRELOAD = fileURLToPath(new URL('../probe/memory-probe.cjs', import.meta.url));

/**
 * Memory after a forced full GC, read from inside the service processes. A debug-only
 * preload (`--expose-gc --require probe/memory-probe.cjs`, through `NODE_OPTIONS`, so the
 * cluster workers get it too) answers SIGUSR2 with a GC and a JSON file; the service's own
 * code is unchanged. RSS alone cannot tell a leak from memory V8 or glibc keep for reuse.
 */
export class MemoryProbe {
  private readonly dir = mkdtempSync(join(tmpdir(), 'chaos-memory-probe-'));

  /**
   * The service environment that loads the probe; keeps `CHAOS_SERVICE_NODE_OPTIONS` (the
   * instance's own `NODE_OPTIONS`) in front of it.
   */
  env(): Record<string, string> {
    const options = [process.env.CHAOS_SERVICE_NODE_OPTIONS ?? '', '--expose-gc'];
    options.push(`--require ${JSON.stringify(PRELOAD)}`);
    return { NODE_OPTIONS: options.join(' ').trim(), CHAOS_MEMORY_PROBE_DIR: this.dir };
  }

  /** Signals every pid and resolves with each one's reading after its GC. */
  async read(pids: readonly number[], timeoutMs = 15_000): Promise<ProbeReading[]> {
    const sentAt = Date.now();
    for (const pid of pids) process.kill(pid, 'SIGUSR2');
    const readings = new Map<number, ProbeReading>();
    await waitFor(
      `memory readings of ${pids.join(', ')}`,
      () => {
        for (const pid of pids) {
          if (readings.has(pid)) continue;
          try {
            const reading = JSON.parse(
              readFileSync(join(this.dir, `${pid}.json`), 'utf8'),
            ) as ProbeReading;
            // A file from an earlier signal is older than this one (same clock, same box).
            if (reading.at >= sentAt) readings.set(pid, reading);
          } catch {
            // not written yet
          }
        }
        return readings.size === pids.length;
      },
      { timeoutMs, intervalMs: 50 },
    );
    return pids.map((pid) => readings.get(pid)!);
  }

  /** Removes the readings' directory. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Sums an instance's readings (primary and workers), in MiB. */
export function probeTotals(readings: readonly ProbeReading[]): ProbeTotals {
  const mb = (pick: (r: ProbeReading) => number | undefined): number =>
    Math.round((readings.reduce((sum, r) => sum + (pick(r) ?? 0), 0) / 2 ** 20) * 10) / 10;
  return {
    processes: readings.length,
    rssMb: mb((r) => r.rss),
    rssAnonMb: mb((r) => r.rssAnon),
    heapUsedMb: mb((r) => r.heapUsed),
    heapTotalMb: mb((r) => r.heapTotal),
    externalMb: mb((r) => r.external),
    arrayBuffersMb: mb((r) => r.arrayBuffers),
    lastResortRssMb: mb((r) => r.lastResort.rss),
    lastResortHeapTotalMb: mb((r) => r.lastResort.heapTotal),
    nativeRssMb: mb((r) => r.lastResort.rss - r.lastResort.heapTotal),
    spacesMb: spacesMb(readings),
  };
}

function spacesMb(readings: readonly ProbeReading[]): Record<string, number> {
  const sums = new Map<string, number>();
  for (const reading of readings) {
    for (const [name, [size]] of Object.entries(reading.spaces)) {
      sums.set(name, (sums.get(name) ?? 0) + size);
    }
  }
  return Object.fromEntries(
    [...sums]
      .map(([name, bytes]) => [name, Math.round((bytes / 2 ** 20) * 10) / 10] as const)
      .filter(([, mb]) => mb >= 0.1),
  );
}
