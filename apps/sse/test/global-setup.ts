import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import type { TestProject } from 'vitest/node';
import config from '../tsup.config.js';

/** Where the process tests' build goes: not dist/, which other suites may be running. */
const OUT_DIR = fileURLToPath(new URL('../node_modules/.cache/sse-test-build', import.meta.url));

declare module 'vitest' {
  interface ProvidedContext {
    /** Absolute path of the built entry point. */
    mainPath: string;
  }
}

/** Builds the entry point once so the process tests run the real `main`. */
export default async function setup(project: TestProject): Promise<void> {
  await build({ ...(config as object), outDir: OUT_DIR, clean: true, silent: true });
  project.provide('mainPath', `${OUT_DIR}/main.js`);
}
