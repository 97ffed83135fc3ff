'use strict';
// Debug-only, never part of the service: the chaos suite preloads this file into every service
// process (NODE_OPTIONS="--expose-gc --require <this file>", primary and cluster workers alike)
// when it needs memory after a full GC. On SIGUSR2 the process collects garbage and writes
// what is left to <CHAOS_MEMORY_PROBE_DIR>/<pid>.json (tools/chaos/src/memory-probe.ts reads it).
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const v8 = require('node:v8');

const dir = process.env.CHAOS_MEMORY_PROBE_DIR;
const gc = globalThis.gc;
if (dir && typeof gc === 'function') {
  const kib = (name, status) => {
    const match = new RegExp(`${name}:\\s+(\\d+) kB`).exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const measure = () => {
    const usage = process.memoryUsage();
    const heap = v8.getHeapStatistics();
    let status = '';
    try {
      status = readFileSync('/proc/self/status', 'utf8');
    } catch {
      // not Linux: the fields below stay undefined
    }
    return {
      rss: usage.rss,
      rssAnon: kib('RssAnon', status),
      rssFile: kib('RssFile', status),
      heapUsed: usage.heapUsed,
      heapTotal: usage.heapTotal,
      external: usage.external,
      arrayBuffers: usage.arrayBuffers,
      mallocedMemory: heap.malloced_memory,
      peakMallocedMemory: heap.peak_malloced_memory,
      // Committed (size) and live (used) bytes of each V8 space: which one holds the memory.
      spaces: Object.fromEntries(
        v8
          .getHeapSpaceStatistics()
          .map((space) => [space.space_name, [space.space_size, space.space_used_size]]),
      ),
    };
  };
  process.on('SIGUSR2', () => {
    // Two full collections: the first may only queue finalizers (WeakRefs, external buffers).
    gc();
    gc();
    const reading = { pid: process.pid, at: Date.now(), ...measure() };
    // What V8 gives back when it must (the collection it runs before an out-of-memory
    // error, which also shrinks the young generation and releases pooled pages); the
    // option is ignored by runtimes without it.
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    reading.lastResort = measure();
    const file = join(dir, `${process.pid}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(reading));
    renameSync(`${file}.tmp`, file);
  });
}
