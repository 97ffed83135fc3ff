import { subscribe } from '../src/index.js';
import { createHarness } from './harness/harness.js';
import { type ClientRuntime, describeClientBehaviour } from './scenarios.js';

const harness = createHarness(subscribe);

/** The client running in this Node process. */
const node: ClientRuntime = {
  open: async (config) => harness.open(config),
  snapshot: async (id) => harness.snapshot(id),
  releaseFetch: async (id) => harness.releaseFetch(id),
  close: async (id) => harness.close(id),
  // Timers and TCP sockets of this process: the client holds one of each while connected.
  resources: async () =>
    process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap').length,
};

describeClientBehaviour('Node', () => node);
