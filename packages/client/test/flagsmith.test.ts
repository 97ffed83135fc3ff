// The Flagsmith bridge in Node, with the official SDK's Node entry point (`flagsmith/isomorphic`).
import { createFlagsmithInstance } from 'flagsmith/isomorphic';
import { type BridgeRuntime, describeFlagsmithBridge } from './flagsmith-scenarios.js';
import { createBridgeHarness } from './harness/flagsmith-bridge.js';

const harness = createBridgeHarness(createFlagsmithInstance);

const node: BridgeRuntime = {
  start: (config) => harness.start(config),
  snapshot: async (id) => harness.snapshot(id),
  close: async (id) => harness.close(id),
};

describeFlagsmithBridge('Node', () => node);
