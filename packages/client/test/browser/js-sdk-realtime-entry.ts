// Bundled into a Chromium test page: the official SDK's browser entry point (native EventSource)
// and the real-time harness.
import { createFlagsmithInstance } from 'flagsmith';
import { createRealtimeHarness } from '../harness/js-sdk-realtime.js';

Object.assign(globalThis, { realtimeHarness: createRealtimeHarness(createFlagsmithInstance) });
