// The official SDK's own real-time mode in a real Chromium: its browser build, the browser's
// EventSource, cross-origin requests to the service and the fake API (CORS applies).
import type { Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type { RealtimeHarness } from './harness/js-sdk-realtime.js';
import { describeSdkRealtime, type RealtimeRuntime } from './js-sdk-realtime-scenarios.js';
import { type BrowserSession, startBrowser } from './support/chromium.js';

/** What the bundled entry (`browser/js-sdk-realtime-entry.ts`) puts on the page's global object. */
interface PageGlobals {
  realtimeHarness: RealtimeHarness;
}

let browser: BrowserSession | undefined;
let page: Page;

beforeAll(async () => {
  browser = await startBrowser('sdk-realtime', [
    { path: '/', entry: 'js-sdk-realtime-entry.ts', readyGlobal: 'realtimeHarness' },
  ]);
  page = browser.pages.get('/')!;
});

afterAll(() => browser?.close());

// Functions passed to page.evaluate are serialised, so each one names the page's global itself.
const chromiumRuntime: RealtimeRuntime = {
  start: (config) =>
    page.evaluate((c) => (globalThis as unknown as PageGlobals).realtimeHarness.start(c), config),
  snapshot: (id) =>
    page.evaluate((i) => (globalThis as unknown as PageGlobals).realtimeHarness.snapshot(i), id),
  close: (id) =>
    page.evaluate((i) => (globalThis as unknown as PageGlobals).realtimeHarness.close(i), id),
};

describeSdkRealtime('Chromium', () => chromiumRuntime);
