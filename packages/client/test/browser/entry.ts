// Bundled into the Chromium test page: the client plus the probe harness, and a count of live timers.
import { subscribe } from '../../src/index.js';
import { createHarness } from '../harness/harness.js';

type Timer = ReturnType<typeof setTimeout>;
const live = new Set<Timer>();
const setTimer = globalThis.setTimeout;
const clearTimer = globalThis.clearTimeout;

// Installed before any client code runs, so every timer the client sets is seen.
globalThis.setTimeout = ((
  handler: (...args: unknown[]) => void,
  ms?: number,
  ...args: unknown[]
) => {
  const timer: Timer = setTimer(() => {
    live.delete(timer);
    handler(...args);
  }, ms);
  live.add(timer);
  return timer;
}) as typeof setTimeout;
globalThis.clearTimeout = ((timer: Timer | undefined) => {
  if (timer !== undefined) live.delete(timer);
  clearTimer(timer);
}) as typeof clearTimeout;

Object.assign(globalThis, {
  harness: createHarness(subscribe),
  liveTimers: () => live.size,
});
