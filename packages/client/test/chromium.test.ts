import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BridgeRuntime, describeFlagsmithBridge } from './flagsmith-scenarios.js';
import type { BridgeHarness } from './harness/flagsmith-bridge.js';
import type { Harness } from './harness/harness.js';
import { type ClientRuntime, describeClientBehaviour } from './scenarios.js';
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

let profileDir: string;
let context: BrowserContext | undefined;
let page: Page;
let bridgePage: Page;
let pageServer: Server;
const pageErrors: string[] = [];

/** Bundles one of the `browser/` entry points for a page, as an app's bundler would. */
async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [join(import.meta.dirname, 'browser', entry)],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
  });
  return result.outputFiles[0]!.text;
}

beforeAll(async () => {
  const script = await bundle('entry.ts');
  const bridgeScript = await bundle('flagsmith-entry.ts');
  // The page has its own origin, so the client's requests to the service are cross-origin (CORS applies).
  pageServer = createServer((req, res) => {
    if (req.url === '/client.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script);
    } else if (req.url === '/flagsmith.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(bridgeScript);
    } else if (req.url === '/flagsmith.html') {
      res
        .writeHead(200, { 'Content-Type': 'text/html' })
        .end('<!doctype html><title>bridge</title><script src="/flagsmith.js"></script>');
    } else {
      res
        .writeHead(200, { 'Content-Type': 'text/html' })
        .end('<!doctype html><title>client</title><script src="/client.js"></script>');
    }
  });
  pageServer.listen(0, '127.0.0.1');
  await once(pageServer, 'listening');
  const { port } = pageServer.address() as AddressInfo;

  profileDir = mkdtempSync(join(tmpdir(), 'client-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => 'harness' in globalThis);
  bridgePage = await context.newPage();
  bridgePage.on('pageerror', (error) => pageErrors.push(String(error)));
  await bridgePage.goto(`http://127.0.0.1:${port}/flagsmith.html`);
  await bridgePage.waitForFunction(() => 'bridgeHarness' in globalThis);
});

afterAll(async () => {
  await context?.close();
  pageServer?.closeAllConnections();
  pageServer?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  if (pageErrors.length > 0) throw new Error(`Errors in the page: ${pageErrors.join('; ')}`);
});

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
  const example = await context!.newPage();
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
