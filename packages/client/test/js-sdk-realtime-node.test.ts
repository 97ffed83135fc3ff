// The official SDK's own real-time mode in Node, with its Node entry point (`flagsmith/isomorphic`).
//
// In Node the SDK opens no stream by itself: init() calls setupRealtime only where `window`
// exists, and the entry point hands the SDK its EventSource wrapper only then; the wrapper
// (`reconnecting-eventsource`) takes the global `EventSource` that the entry point copies when it
// loads, and Node 20 has none. A Node app that wants the SDK's real-time mode provides both, as
// done here: `eventsource` (the WHATWG EventSource for Node, a pinned devDependency) and a
// `window`, before the SDK's module loads.
import { EventSource } from 'eventsource';
import { createRealtimeHarness } from './harness/js-sdk-realtime.js';
import { describeSdkRealtime, type RealtimeRuntime } from './js-sdk-realtime-scenarios.js';

Object.assign(globalThis, { EventSource, window: globalThis });
const { createFlagsmithInstance } = await import('flagsmith/isomorphic');

const harness = createRealtimeHarness(createFlagsmithInstance);

const node: RealtimeRuntime = {
  start: (config) => harness.start(config),
  snapshot: async (id) => harness.snapshot(id),
  close: async (id) => harness.close(id),
};

describeSdkRealtime('Node', () => node);
