import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BridgeRuntime, describeFlagsmithBridge } from './flagsmith-scenarios.js';
import type { BridgeHarness } from './harness/flagsmith-bridge.js';
import type { Harness } from './harness/harness.js';
import { type ClientRuntime, describeClientBehaviour } from './scenarios.js';
import { type BrowserSession, startBrowser } from './support/chromium.js';
import { startSse } from './support/sse-server.js';

// Functions passed to page.evaluate are serialised, so each one names the page's globals itself.
/** What the bundled entry (`browser/entry.ts`) puts on the page's global object. */
interface PageGlobals {
  harness: Harness;
  liveTimers(): number;
}
/** What the bridge page's bundle (`browser/flagsmith-entry.ts`) puts on its global object. */
interface BridgePageGlobals {
  bridgeHarness: BridgeHarness;
}

let browser: BrowserSession | undefined;
let page: Page;
let bridgePage: Page;

beforeAll(async () => {
  browser = await startBrowser('chromium', [
    { path: '/', entry: 'entry.ts', readyGlobal: 'harness' },
    { path: '/flagsmith.html', entry: 'flagsmith-entry.ts', readyGlobal: 'bridgeHarness' },
  ]);
  page = browser.pages.get('/')!;
  bridgePage = browser.pages.get('/flagsmith.html')!;
});

afterAll(() => browser?.close());

/** The client running in a headless Chromium page, driven through `page.evaluate`. */
const chromiumRuntime: ClientRuntime = {
  open: (config) =>
    page.evaluate((c) => (globalThis as unknown as PageGlobals).harness.open(c), config),
  snapshot: (id) =>
    page.evaluate((i) => (globalThis as unknown as PageGlobals).harness.snapshot(i), id),
  releaseFetch: (id) =>
    page.evaluate((i) => (globalThis as unknown as PageGlobals).harness.releaseFetch(i), id),
  close: (id) => page.evaluate((i) => (globalThis as unknown as PageGlobals).harness.close(i), id),
  // The page cannot see sockets; each scenario checks the stream ended through the probe.
  resources: () => page.evaluate(() => (globalThis as unknown as PageGlobals).liveTimers()),
};

describeClientBehaviour('Chromium', () => chromiumRuntime);

/** The real `flagsmith` SDK and the bridge in a Chromium page (the SDK's browser build). */
const chromiumBridge: BridgeRuntime = {
  start: (config) =>
    bridgePage.evaluate(
      (c) => (globalThis as unknown as BridgePageGlobals).bridgeHarness.start(c),
      config,
    ),
  snapshot: (id) =>
    bridgePage.evaluate(
      (i) => (globalThis as unknown as BridgePageGlobals).bridgeHarness.snapshot(i),
      id,
    ),
  close: (id) =>
    bridgePage.evaluate(
      (i) => (globalThis as unknown as BridgePageGlobals).bridgeHarness.close(i),
      id,
    ),
};

describeFlagsmithBridge('Chromium', () => chromiumBridge);

it('examples/browser shows updates from the service and stops on close()', async () => {
  const sse = await startSse();
  const serve = spawn(
    process.execPath,
    [join(import.meta.dirname, '..', 'examples', 'browser', 'serve.mjs')],
    {
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const example = await browser!.newPage();
  try {
    const [line] = (await once(createInterface({ input: serve.stdout }), 'line')) as [string];
    const origin = /http:\/\/127\.0\.0\.1:\d+/.exec(line)![0];
    await example.goto(`${origin}/?key=example_env&baseUrl=${encodeURIComponent(sse.url)}&api=`);
    await example.locator('#state', { hasText: 'open' }).waitFor();
    await sse.publish('example_env', 1_735_229_888.76);
    await example.locator('#updates li', { hasText: '2024-12-26T16:18:08.760Z' }).waitFor();
    await example.click('#close');
    expect(await example.textContent('#state')).toBe('closed');
  } finally {
    await example.close();
    serve.kill('SIGTERM');
    await sse.stop();
  }
});
