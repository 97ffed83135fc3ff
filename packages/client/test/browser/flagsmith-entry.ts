// Bundled into a Chromium test page: the official SDK's browser entry point and the bridge harness.
import { createFlagsmithInstance } from 'flagsmith';
import { createBridgeHarness } from '../harness/flagsmith-bridge.js';

Object.assign(globalThis, { bridgeHarness: createBridgeHarness(createFlagsmithInstance) });
