import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Page } from 'playwright-core';

/** One page of a {@link BrowserSession}: an HTML shell that loads one bundled entry of `test/browser/`. */
export interface PageSpec {
  /** The page's path on the page server, e.g. `/`. */
  path: string;
  /** The entry point in `test/browser/` the page loads, bundled as an app's bundler would. */
  entry: string;
  /** The global the entry defines once it is ready; opening the page waits for it. */
  readyGlobal: string;
}

/** A headless Chromium with pages served from their own origin (requests to the service are cross-origin). */
export interface BrowserSession {
  /** The opened pages, by path. */
  pages: ReadonlyMap<string, Page>;
  /** Opens a blank page in the same browser, for a page served elsewhere. */
  newPage(): Promise<Page>;
  /** Closes the browser and the page server; throws if any page reported an uncaught error. */
  close(): Promise<void>;
}

/** MACHINE.md's flags for a headless Chromium in this sandbox. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [join(import.meta.dirname, '..', 'browser', entry)],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
  });
  return result.outputFiles[0]!.text;
}

/** Bundles each page's entry, serves the pages on 127.0.0.1 and opens each in one Chromium. */
export async function startBrowser(
  name: string,
  specs: readonly PageSpec[],
): Promise<BrowserSession> {
  const scripts = new Map<string, string>();
  for (const [index, spec] of specs.entries())
    scripts.set(`/bundle-${index}.js`, await bundle(spec.entry));
  const shells = new Map(
    specs.map((spec, index) => [
      spec.path,
      `<!doctype html><title>${name}</title><script src="/bundle-${index}.js"></script>`,
    ]),
  );
  const pageServer = createServer((req, res) => {
    const script = scripts.get(req.url ?? '');
    const shell = shells.get(req.url ?? '');
    if (script !== undefined) res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script);
    else if (shell !== undefined) res.writeHead(200, { 'Content-Type': 'text/html' }).end(shell);
    else res.writeHead(404).end();
  });
  pageServer.listen(0, '127.0.0.1');
  await once(pageServer, 'listening');
  const { port } = pageServer.address() as AddressInfo;

  const profileDir = mkdtempSync(join(tmpdir(), `client-${name}-`));
  const pageErrors: string[] = [];
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const close = async (): Promise<void> => {
    await context.close();
    pageServer.closeAllConnections();
    pageServer.close();
    rmSync(profileDir, { recursive: true, force: true });
    if (pageErrors.length > 0) throw new Error(`Errors in the page: ${pageErrors.join('; ')}`);
  };
  try {
    const pages = new Map<string, Page>();
    for (const spec of specs) {
      const page =
        pages.size === 0
          ? (context.pages()[0] ?? (await context.newPage()))
          : await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(String(error)));
      await page.goto(`http://127.0.0.1:${port}${spec.path}`);
      await page.waitForFunction((global) => global in globalThis, spec.readyGlobal);
      pages.set(spec.path, page);
    }
    return { pages, newPage: () => context.newPage(), close };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}
