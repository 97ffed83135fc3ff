// The official SDK's own real-time mode in a real Chromium: its browser build, the browser's
// EventSource, cross-origin requests to the service and the fake API (CORS applies).
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type { RealtimeHarness } from './harness/js-sdk-realtime.js';
import { describeSdkRealtime, type RealtimeRuntime } from './js-sdk-realtime-scenarios.js';

/** What the bundled entry (`browser/js-sdk-realtime-entry.ts`) puts on the page's global object. */
interface PageGlobals {
  realtimeHarness: RealtimeHarness;
}

let profileDir: string | undefined;
let context: BrowserContext | undefined;
let page: Page;
let pageServer: Server | undefined;
const pageErrors: string[] = [];

beforeAll(async () => {
  const result = await build({
    entryPoints: [join(import.meta.dirname, 'browser', 'js-sdk-realtime-entry.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
  });
  const script = result.outputFiles[0]!.text;
  pageServer = createServer((req, res) => {
    if (req.url === '/sdk.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script);
    } else {
      res
        .writeHead(200, { 'Content-Type': 'text/html' })
        .end('<!doctype html><title>sdk realtime</title><script src="/sdk.js"></script>');
    }
  });
  pageServer.listen(0, '127.0.0.1');
  await once(pageServer, 'listening');
  const { port } = pageServer.address() as AddressInfo;

  profileDir = mkdtempSync(join(tmpdir(), 'client-sdk-realtime-'));
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
  await page.waitForFunction(() => 'realtimeHarness' in globalThis);
});

afterAll(async () => {
  await context?.close();
  pageServer?.closeAllConnections();
  pageServer?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  if (pageErrors.length > 0) throw new Error(`Errors in the page: ${pageErrors.join('; ')}`);
});

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
